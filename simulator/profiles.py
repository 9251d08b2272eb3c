"""Device profiles read as data, and the encoding of a value into a point's raw registers.

The simulator reads the integration's profile files (custom_components/microdc/profiles/*.yaml,
format in docs/contracts.md section 1) without importing any integration code, so a test against
the simulator is a conversation between two independent implementations of the same contract.

Encoding is the inverse of the contract's decoding (value = raw · scale + offset):
raw = (value − offset) / scale, rounded for integer types, clamped to the type's range (counters,
i.e. unsigned points with state_class total_increasing, wrap at their width instead), split into
16-bit words high word first unless ``word_order: little``. A bitfield is built from per-flag
values, an enum from per-state flags (see ``encode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math
from pathlib import Path
import struct

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the environment

TABLES = ("holding", "input", "coil", "discrete_input")
WORDS = {"u16": 1, "s16": 1, "bool": 1, "enum": 1, "bitfield": 1}
WORDS |= {"u32": 2, "s32": 2, "f32": 2, "u64": 4, "f64": 4}
SIGNED = ("s16", "s32")
UNSIGNED = ("u16", "u32", "u64")
FLOATS = ("f32", "f64")


class ProfileError(ValueError):
    """A profile file is missing or malformed."""


@dataclass(frozen=True)
class ProfilePoint:
    """One point of a profile, with what the encoder needs."""

    key: str
    table: str
    address: int
    data_type: str
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    nan: tuple[float, ...] = ()
    labels: dict[int, str] = field(default_factory=dict)
    state_class: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    writable: bool = False

    @property
    def bits_table(self) -> bool:
        """Whether the point lives in a one-bit table (coil, discrete input)."""
        return self.table in ("coil", "discrete_input")

    @property
    def count(self) -> int:
        """How many registers (or bits) the point occupies."""
        return 1 if self.bits_table else WORDS[self.data_type]

    @property
    def width(self) -> int:
        """The raw integer's width in bits."""
        return 16 * WORDS[self.data_type]

    @property
    def is_counter(self) -> bool:
        """Unsigned totals wrap at their width (contract: counters are unsigned and wrap)."""
        return self.data_type in UNSIGNED and self.state_class == "total_increasing"


@dataclass(frozen=True)
class Profile:
    """A profile file's points keyed by point key."""

    profile_id: str
    points: dict[str, ProfilePoint]


def load_profile(profiles_dir: Path, profile_id: str) -> Profile:
    """Read <profiles_dir>/<profile_id>.yaml (raises ProfileError naming file and field)."""
    path = profiles_dir / f"{profile_id}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ProfileError(f"{path}: cannot read profile: {err}") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("points"), dict):
        raise ProfileError(f"{path}: a profile is a mapping with a 'points' mapping")
    points: dict[str, ProfilePoint] = {}
    for key, spec in raw["points"].items():
        where = f"{path}: points.{key}"
        if not isinstance(spec, dict):
            raise ProfileError(f"{where}: must be a mapping")
        if spec.get("table") not in TABLES:
            raise ProfileError(f"{where}.table: one of {', '.join(TABLES)}")
        if spec.get("data_type") not in WORDS:
            raise ProfileError(f"{where}.data_type: one of {', '.join(WORDS)}")
        if not isinstance(spec.get("address"), int):
            raise ProfileError(f"{where}.address: an integer")
        points[str(key)] = ProfilePoint(
            key=str(key),
            table=spec["table"],
            address=spec["address"],
            data_type=spec["data_type"],
            word_order=spec.get("word_order", "big"),
            scale=float(spec.get("scale", 1.0)),
            offset=float(spec.get("offset", 0.0)),
            nan=tuple(spec.get("nan") or ()),
            labels={int(k): str(v) for k, v in (spec.get("labels") or {}).items()},
            state_class=spec.get("state_class"),
            unit=spec.get("unit"),
            min=spec.get("min"),
            max=spec.get("max"),
            writable=bool(spec.get("writable", False)),
        )
    return Profile(profile_id, points)


def raw_integer(point: ProfilePoint, value: float) -> int:
    """The unsigned raw integer a numeric value encodes to, before any counter offset."""
    scaled = (value - point.offset) / point.scale
    width = point.width
    if point.data_type in SIGNED:
        low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
        return max(low, min(high, round(scaled))) & ((1 << width) - 1)
    if point.is_counter:
        return round(scaled) % (1 << width)
    return max(0, min((1 << width) - 1, round(scaled)))


def nan_raw(point: ProfilePoint) -> int | None:
    """The point's first not-a-number sentinel as an unsigned raw integer, or None."""
    if not point.nan:
        return None
    return int(point.nan[0]) & ((1 << point.width) - 1)


def split_words(point: ProfilePoint, raw: int) -> list[int]:
    """Split an unsigned raw integer into 16-bit words in the point's word order."""
    n = WORDS[point.data_type]
    words = [(raw >> (16 * (n - 1 - i))) & 0xFFFF for i in range(n)]
    return words[::-1] if point.word_order == "little" else words


def float_raw(point: ProfilePoint, value: float) -> int:
    """The IEEE-754 bit pattern of a float point's scaled value."""
    scaled = (value - point.offset) / point.scale if math.isfinite(value) else value
    if point.data_type == "f32":
        return int.from_bytes(struct.pack(">f", scaled), "big")
    return int.from_bytes(struct.pack(">d", scaled), "big")


def encode(
    point: ProfilePoint, read: Callable[[str], float], quantity: str | None, constant: float | None
) -> tuple[int, list[int] | list[bool]]:
    """Encode a point from a model quantity (via ``read``) or a constant.

    Returns (raw integer, words or bits). A bitfield reads ``<quantity>.<flag>`` for each flag
    of its labels; an enum reads ``<quantity>.<state>`` and sends the first state that is set.
    A constant given for a bitfield or an enum is its raw register value.
    """
    if point.data_type in ("bitfield", "enum") and constant is not None:
        # A constant state word: a device whose flags the model does not simulate.
        raw = int(constant) & 0xFFFF
    elif point.data_type == "bitfield":
        raw = sum(1 << bit for bit, flag in point.labels.items() if read(f"{quantity}.{flag}"))
    elif point.data_type == "enum":
        raw = next((n for n, s in sorted(point.labels.items()) if read(f"{quantity}.{s}")), 0)
    else:
        value = constant if constant is not None else read(str(quantity))
        if point.data_type == "bool":
            raw = int(bool(value))
        elif point.data_type in FLOATS:
            raw = float_raw(point, value)
        else:
            raw = raw_integer(point, value)
    if point.bits_table:
        return raw, [bool(raw)]
    return raw, split_words(point, raw)


def raw_of_words(point: ProfilePoint, words: list[int] | list[bool]) -> int:
    """The unsigned raw integer that words (or a bit) written to the point carry."""
    if point.bits_table:
        return int(bool(words[0]))
    ordered = list(words)[::-1] if point.word_order == "little" else list(words)
    raw = 0
    for word in ordered:
        raw = (raw << 16) | (int(word) & 0xFFFF)
    return raw


def words_for_raw(point: ProfilePoint, raw: int) -> list[int] | list[bool]:
    """The words (or bit) for a given unsigned raw integer."""
    if point.bits_table:
        return [bool(raw)]
    return split_words(point, raw)
