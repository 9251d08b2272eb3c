"""Device profiles: schema, typed model and loader (pure: no Home Assistant, no network).

A profile is a YAML file describing one device type (docs/contracts.md, section 1). Loading a
folder never stops at a bad file: every problem becomes a ProfileError naming the file, the point
key and the field, and the good profiles are returned next to the errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import math
from pathlib import Path
import re
from types import MappingProxyType
from typing import Any

import voluptuous as vol
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the environment

from .points import COUNTER_ROLES, POWER_ROLES, Counting, Point, Role, ValueKind
from .protocols.modbus import Table

# The profiles shipped with microdc, beside lib/ in the integration's folder.
BUILTIN_PROFILES_DIR = Path(__file__).parent.parent / "profiles"

# Keys, flags and labels become translation keys and entity ids: keep them snake_case.
_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_ADDRESS = 0xFFFF


class DataType(StrEnum):
    """How the raw words of a point are interpreted."""

    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    U64 = "u64"
    F32 = "f32"
    F64 = "f64"
    BOOL = "bool"
    BITFIELD = "bitfield"
    ENUM = "enum"

    @property
    def register_count(self) -> int:
        """Registers the type occupies in a register table."""
        return _REGISTER_COUNT[self]


_REGISTER_COUNT = {
    DataType.U16: 1,
    DataType.S16: 1,
    DataType.BOOL: 1,
    DataType.BITFIELD: 1,
    DataType.ENUM: 1,
    DataType.U32: 2,
    DataType.S32: 2,
    DataType.F32: 2,
    DataType.U64: 4,
    DataType.F64: 4,
}


class WordOrder(StrEnum):
    """Order of the 16-bit words of a multi-register value."""

    BIG = "big"  # high word first
    LITTLE = "little"  # low word first


STATE_CLASSES = ("measurement", "total", "total_increasing")
ENTITY_CATEGORIES = ("diagnostic", "config")
PROTOCOLS = ("modbus",)


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """One value of a Modbus device, as its profile describes it: where and how it is stored."""

    key: str
    table: Table
    address: int
    data_type: DataType
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1
    offset: float = 0
    unit: str | None = None
    role: Role | None = None
    device_class: str | None = None
    state_class: str | None = None
    entity_category: str | None = None
    enabled_by_default: bool = True
    precision: int | None = None
    nan: frozenset[int | float] = frozenset()
    min: float | None = None
    max: float | None = None
    labels: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    # The device accepts writes of this point within min..max (holding registers and coils only).
    writable: bool = False
    # Names a role-less point and its states from strings.json (entity.<platform>.<key>).
    translation_key: str | None = None

    @property
    def count(self) -> int:
        """Registers (register tables) or bits (bit tables) the point occupies."""
        return 1 if self.table.is_bits else self.data_type.register_count

    @property
    def end(self) -> int:
        """The first address after the point."""
        return self.address + self.count

    @property
    def kind(self) -> ValueKind:
        """The shape of the decoded value."""
        return _KINDS.get(self.data_type, ValueKind.NUMBER)

    def as_point(self) -> Point:
        """The point as the rest of microdc sees it, whatever the protocol."""
        match self.kind:
            case ValueKind.STATE:
                options = tuple(sorted(set(self.labels.values())))
            case ValueKind.FLAGS:
                options = tuple(self.labels[bit] for bit in sorted(self.labels))
            case _:
                options = ()
        counting = None
        if self.role in COUNTER_ROLES:
            counting = Counting(self.scale, _COUNTER_BITS.get(self.data_type))
        return Point(
            key=self.key,
            kind=self.kind,
            role=self.role,
            translation_key=self.translation_key,
            unit=self.unit,
            device_class=self.device_class,
            state_class=self.state_class,
            entity_category=self.entity_category,
            enabled_by_default=self.enabled_by_default,
            precision=self.precision,
            options=options,
            minimum=self.min,
            maximum=self.max,
            writable=self.writable,
            counting=counting,
        )


_KINDS = {
    DataType.BOOL: ValueKind.BOOL,
    DataType.ENUM: ValueKind.STATE,
    DataType.BITFIELD: ValueKind.FLAGS,
}
# Unsigned counters wrap at their width; floats do not wrap.
_COUNTER_BITS = {DataType.U16: 16, DataType.U32: 32, DataType.U64: 64}


@dataclass(frozen=True, slots=True)
class Profile:
    """A device type: its identity and its points."""

    profile_id: str
    manufacturer: str
    model: str
    protocol: str
    points: Mapping[str, RegisterPoint]
    description: str | None = None
    firmware_point: str | None = None
    source: str | None = None  # the file it came from, for diagnostics and errors
    # What a person calls such a device ("UPS", "Rack PDU"): the name the device flow proposes.
    device_kind: str | None = None

    @property
    def proposed_name(self) -> str:
        """The short name the device flow offers for a new device of this profile."""
        return self.device_kind or self.model


@dataclass(frozen=True, slots=True)
class ProfileError:
    """One problem in one profile file."""

    file: str
    message: str
    point: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        """Render as `file: points.<key>.<field>: message`."""
        where = ".".join(
            part
            for part in (
                "points" if self.point is not None else None,
                self.point,
                self.field,
            )
            if part is not None
        )
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class ProfileValidationError(Exception):
    """A profile failed validation; `errors` lists every problem found."""

    def __init__(self, errors: list[ProfileError]) -> None:
        """Keep the errors and summarise them in the message."""
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ProfileLoadResult:
    """The outcome of loading folders of profiles."""

    profiles: Mapping[str, Profile]
    errors: list[ProfileError]


# --- schema -------------------------------------------------------------------------------


def _integer(value: Any) -> int:
    # bool is an int subclass in Python; `address: yes` is a typo, not address 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise vol.Invalid("expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise vol.Invalid("expected a finite number")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise vol.Invalid(f"expected true or false, got {value!r}")
    return value


def _mapping(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("expected a non-empty string")
    return value


def _snake_case(value: Any) -> str:
    if not isinstance(value, str) or not _SNAKE_CASE.match(value):
        raise vol.Invalid("expected a snake_case key (a-z, 0-9, _)")
    return value


def _one_of(options: Iterable[str]) -> Callable[[Any], str]:
    allowed = tuple(options)

    def validate(value: Any) -> str:
        if value not in allowed:
            raise vol.Invalid(f"expected one of {', '.join(allowed)}, got {value!r}")
        return str(value)

    return validate


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def validate(value: Any) -> int:
        number = _integer(value)
        if not low <= number <= high:
            raise vol.Invalid(f"expected an integer from {low} to {high}, got {number}")
        return number

    return validate


def _sentinels(value: Any) -> list[int | float]:
    items = value if isinstance(value, list) else [value]
    return [_number(item) for item in items]


def _labels(value: Any) -> dict[int, str]:
    if not isinstance(value, dict) or not value:
        raise vol.Invalid("expected a mapping of raw value or bit number to a snake_case key")
    labels: dict[int, str] = {}
    for raw, label in value.items():
        try:
            number = _int_range(0, _MAX_ADDRESS)(raw)
        except vol.Invalid as err:
            raise vol.Invalid(f"label key {raw!r}: {err.msg}") from None
        if not isinstance(label, str) or not _SNAKE_CASE.match(label):
            raise vol.Invalid(f"label {raw}: expected a snake_case key, got {label!r}")
        labels[number] = label
    return labels


POINT_SCHEMA = vol.Schema(
    {
        vol.Required("table"): _one_of(Table),
        vol.Required("address"): _int_range(0, _MAX_ADDRESS),
        vol.Required("data_type"): _one_of(DataType),
        vol.Optional("word_order"): _one_of(WordOrder),
        vol.Optional("scale"): _number,
        vol.Optional("offset"): _number,
        vol.Optional("unit"): _text,
        vol.Optional("role"): _one_of(sorted(Role)),
        vol.Optional("device_class"): _snake_case,
        vol.Optional("state_class"): _one_of(STATE_CLASSES),
        vol.Optional("entity_category"): _one_of(ENTITY_CATEGORIES),
        vol.Optional("enabled_by_default"): _boolean,
        vol.Optional("precision"): _int_range(0, 10),
        vol.Optional("nan"): _sentinels,
        vol.Optional("min"): _number,
        vol.Optional("max"): _number,
        vol.Optional("labels"): _labels,
        vol.Optional("writable"): _boolean,
        vol.Optional("translation_key"): _snake_case,
    }
)

PROFILE_SCHEMA = vol.Schema(
    {
        vol.Required("manufacturer"): _text,
        vol.Required("model"): _text,
        vol.Optional("description"): _text,
        vol.Optional("device_kind"): _text,
        vol.Required("protocol"): _one_of(PROTOCOLS),
        vol.Optional("firmware_point"): _snake_case,
        # Points are validated one by one below, so that each error names its point.
        vol.Required("points"): _mapping,
    }
)


# --- parsing ------------------------------------------------------------------------------


def _invalid_to_errors(file: str, err: vol.Invalid, point: str | None = None) -> list[ProfileError]:
    """Flatten a voluptuous (or probatio) error into ProfileErrors with a field each."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    result = []
    for error in errors:
        path = [str(part) for part in error.path]
        message = error.msg
        # voluptuous and probatio word an unknown key differently; say it one way.
        if message in ("extra keys not allowed", "not a valid option"):
            message = "unknown field"
        result.append(
            ProfileError(file=file, point=point, field=".".join(path) or None, message=message)
        )
    return result


def _check_point(file: str, key: str, data: Mapping[str, Any]) -> list[ProfileError]:
    """Rules between fields that a per-field schema cannot express."""
    table = Table(data["table"])
    data_type = DataType(data["data_type"])
    errors: list[ProfileError] = []

    def error(field_name: str, message: str) -> None:
        errors.append(ProfileError(file=file, point=key, field=field_name, message=message))

    if table.is_bits and data_type is not DataType.BOOL:
        error("data_type", f"a {table} point must be bool, got {data_type}")
    count = 1 if table.is_bits else data_type.register_count
    if data["address"] + count - 1 > _MAX_ADDRESS:
        error("address", f"a {data_type} at {data['address']} runs past address {_MAX_ADDRESS}")
    if data_type in (DataType.ENUM, DataType.BITFIELD):
        if "labels" not in data:
            error("labels", f"required for {data_type}")
        elif data_type is DataType.BITFIELD and max(data["labels"]) > 15:
            error("labels", "bit numbers run from 0 to 15")
    elif "labels" in data:
        error("labels", f"only enum and bitfield points have labels, not {data_type}")
    if "min" in data and "max" in data and data["min"] > data["max"]:
        error("min", f"min {data['min']} is above max {data['max']}")
    if "scale" in data and data["scale"] == 0:
        error("scale", "must not be 0")
    elif data.get("role") in COUNTER_ROLES and data.get("scale", 1) < 0:
        error("scale", f"an energy counter's scale must be positive, got {data['scale']}")
    if data.get("role") in COUNTER_ROLES and data.get("offset", 0) != 0:
        error("offset", "an energy counter counts from 0: it has no offset")
    if data.get("role") in POWER_ROLES and "max" in data and data["max"] <= 0:
        error("max", f"a power point's max must be above 0, got {data['max']}")
    errors.extend(_check_writable(file, key, table, data_type, data))
    return errors


def _check_writable(
    file: str, key: str, table: Table, data_type: DataType, data: Mapping[str, Any]
) -> list[ProfileError]:
    """Only what Modbus can write, and only as one value."""
    if not data.get("writable"):
        return []
    if not table.is_writable:
        message = f"only holding registers and coils can be written, not {table}"
    elif data_type is DataType.BITFIELD:
        message = "a bitfield cannot be written as one value"
    else:
        return []
    return [ProfileError(file=file, point=key, field="writable", message=message)]


def _build_point(key: str, data: Mapping[str, Any]) -> RegisterPoint:
    return RegisterPoint(
        key=key,
        table=Table(data["table"]),
        address=data["address"],
        data_type=DataType(data["data_type"]),
        word_order=WordOrder(data.get("word_order", WordOrder.BIG)),
        scale=data.get("scale", 1),
        offset=data.get("offset", 0),
        unit=data.get("unit"),
        role=Role(data["role"]) if "role" in data else None,
        device_class=data.get("device_class"),
        state_class=data.get("state_class"),
        entity_category=data.get("entity_category"),
        enabled_by_default=data.get("enabled_by_default", True),
        precision=data.get("precision"),
        nan=frozenset(data.get("nan", ())),
        min=data.get("min"),
        max=data.get("max"),
        labels=MappingProxyType(dict(data.get("labels", {}))),
        writable=data.get("writable", False),
        translation_key=data.get("translation_key"),
    )


def parse_profile(profile_id: str, data: Any, *, file: str | None = None) -> Profile:
    """Validate one profile's parsed YAML and build it, or raise ProfileValidationError."""
    file = file or f"{profile_id}.yaml"
    errors: list[ProfileError] = []
    if not _SNAKE_CASE.match(profile_id):
        errors.append(
            ProfileError(file=file, message="the file name must be a snake_case profile id")
        )
    if not isinstance(data, dict):
        errors.append(ProfileError(file=file, message="expected a mapping at the top level"))
        raise ProfileValidationError(errors)
    try:
        top = PROFILE_SCHEMA(data)
    except vol.Invalid as err:
        errors.extend(_invalid_to_errors(file, err))
        top = None

    points: dict[str, RegisterPoint] = {}
    raw_points = data.get("points")
    if isinstance(raw_points, dict):
        if not raw_points:
            errors.append(ProfileError(file=file, field="points", message="no points"))
        for key, raw in raw_points.items():
            point_key = str(key)
            if not _SNAKE_CASE.match(point_key):
                errors.append(
                    ProfileError(
                        file=file, point=point_key, message="point keys must be snake_case"
                    )
                )
                continue
            try:
                valid = POINT_SCHEMA(raw if raw is not None else {})
            except vol.Invalid as err:
                errors.extend(_invalid_to_errors(file, err, point_key))
                continue
            point_errors = _check_point(file, point_key, valid)
            errors.extend(point_errors)
            if not point_errors:
                points[point_key] = _build_point(point_key, valid)

    firmware = data.get("firmware_point")
    if isinstance(firmware, str) and isinstance(raw_points, dict) and firmware not in raw_points:
        errors.append(
            ProfileError(file=file, field="firmware_point", message=f"no point named {firmware!r}")
        )
    if errors or top is None:
        raise ProfileValidationError(errors)
    return Profile(
        profile_id=profile_id,
        manufacturer=top["manufacturer"],
        model=top["model"],
        description=top.get("description"),
        device_kind=top.get("device_kind"),
        protocol=top["protocol"],
        firmware_point=top.get("firmware_point"),
        points=MappingProxyType(points),
        source=file,
    )


class _ProfileLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.2 booleans: only true/false.

    PyYAML follows YAML 1.1, where on/off/yes/no are booleans, so `labels: {0: off, 1: on}`
    would silently become {0: False, 1: True}. In profiles they are state keys.
    """


_ProfileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_yaml(text: str) -> Any:
    """Parse profile YAML (YAML 1.2 booleans); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_ProfileLoader)


def load_profile_file(path: Path) -> Profile:
    """Read and validate one profile file (blocking I/O: run it in an executor)."""
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ProfileValidationError(
            [ProfileError(file=path.name, message=f"cannot read: {err}")]
        ) from err
    except yaml.YAMLError as err:
        raise ProfileValidationError(
            [ProfileError(file=path.name, message=f"invalid YAML: {err}")]
        ) from err
    except RecursionError:
        # PyYAML's scanner and composer recurse per nesting level: a hostile file must not
        # take the loader (and the site's setup) down with it.
        raise ProfileValidationError(
            [ProfileError(file=path.name, message="invalid YAML: nested too deeply")]
        ) from None
    return parse_profile(path.stem, data, file=path.name)


def load_profiles(*folders: Path) -> ProfileLoadResult:
    """Load every *.yaml profile in the folders (blocking I/O: run it in an executor).

    A missing folder is simply empty (the user's folder is optional). A later folder's profile
    replaces an earlier one with the same id, so a user can correct a built-in profile.
    """
    profiles: dict[str, Profile] = {}
    errors: list[ProfileError] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                profile = load_profile_file(path)
            except ProfileValidationError as err:
                errors.extend(err.errors)
                continue
            profiles[profile.profile_id] = profile
    return ProfileLoadResult(profiles=MappingProxyType(profiles), errors=errors)
