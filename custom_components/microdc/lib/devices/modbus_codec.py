"""A point's raw Modbus words or bits to its value, and a value back to words (pure: no I/O).

A reading is None when the device says "no value": a not-a-number sentinel, a float NaN, a value
outside the profile's valid range, or an enum value the profile has no label for. None means
unavailable, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
import struct

from ..profile import DataType, RegisterPoint as Point, WordOrder

type PointValue = int | float | bool | str | frozenset[str]


def combine_words(words: Sequence[int], word_order: WordOrder) -> int:
    """Join 16-bit words into one unsigned integer (bytes within a word are big-endian)."""
    ordered = words if word_order is WordOrder.BIG else list(reversed(words))
    value = 0
    for word in ordered:
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"register value {word} is not a 16-bit word")
        value = (value << 16) | word
    return value


def _to_signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw & (1 << (bits - 1)) else raw


def _raw_number(point: Point, raw: int) -> int | float:
    """The unscaled number the raw bits stand for."""
    match point.data_type:
        case DataType.S16:
            return _to_signed(raw, 16)
        case DataType.S32:
            return _to_signed(raw, 32)
        case DataType.F32:
            return f32_decimal(float(struct.unpack(">f", raw.to_bytes(4, "big"))[0]))
        case DataType.F64:
            return float(struct.unpack(">d", raw.to_bytes(8, "big"))[0])
        case _:
            return raw


def f32_decimal(value: float) -> float:
    """The shortest decimal that is the same float32 (1.39999997615814 -> 1.4).

    A float32 carries 6 to 9 significant decimal digits (fewer when subnormal); a fixed 7
    would merge neighbouring values above 1e7, so take the fewest digits that still read back
    as the same register contents: nothing the device sent is lost, no binary noise is shown.
    """
    if not math.isfinite(value):
        return value
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        try:
            if struct.unpack(">f", struct.pack(">f", candidate))[0] == value:
                return candidate
        except OverflowError:  # rounded past the largest float32
            continue
    return value


def _is_sentinel(point: Point, raw: int, number: int | float) -> bool:
    # A sentinel may be written as the raw bit pattern (0x8000, 0xFFFFFFFF) or as the number the
    # device means (-32768), whichever the data sheet uses.
    return raw in point.nan or number in point.nan


def _scaled(point: Point, number: int | float) -> int | float | None:
    if isinstance(number, float) and not math.isfinite(number):
        return None
    if point.scale == 1 and point.offset == 0:
        value: int | float = number
    else:
        # Rounding hides binary noise (0.1 * 235 = 23.500000000000004) without losing resolution.
        value = round(number * point.scale + point.offset, 10)
    if point.min is not None and value < point.min:
        return None
    if point.max is not None and value > point.max:
        return None
    return value


def decode_bits(point: Point, bits: Sequence[bool]) -> PointValue | None:
    """Decode a point of a coil or discrete-input table."""
    if len(bits) != 1:
        raise ValueError(f"{point.key}: expected 1 bit, got {len(bits)}")
    return bool(bits[0])


def _decode_state(point: Point, raw: int) -> PointValue | None:
    """A bool, enum or bitfield register."""
    if point.data_type is DataType.BOOL:
        return raw != 0
    if point.data_type is DataType.ENUM:
        return point.labels.get(raw)  # a state the profile does not know is no reading
    return frozenset(label for bit, label in point.labels.items() if raw >> bit & 1)


def decode_registers(point: Point, words: Sequence[int]) -> PointValue | None:
    """Decode a point of a holding or input register table."""
    if len(words) != point.data_type.register_count:
        raise ValueError(
            f"{point.key}: expected {point.data_type.register_count} registers, got {len(words)}"
        )
    raw = combine_words(words, point.word_order)
    if point.data_type in (DataType.BOOL, DataType.ENUM, DataType.BITFIELD):
        return None if raw in point.nan else _decode_state(point, raw)
    number = _raw_number(point, raw)
    if _is_sentinel(point, raw, number):
        return None
    return _scaled(point, number)


_INTEGER_BITS = {DataType.U16: 16, DataType.S16: 16, DataType.U32: 32, DataType.S32: 32}
_INTEGER_BITS |= {DataType.U64: 64}
_SIGNED = frozenset({DataType.S16, DataType.S32})


def split_words(raw: int, count: int, word_order: WordOrder) -> list[int]:
    """An unsigned integer as count 16-bit words, in the point's word order."""
    words = [(raw >> (16 * (count - 1 - index))) & 0xFFFF for index in range(count)]
    return words if word_order is WordOrder.BIG else list(reversed(words))


def _raw_of_number(point: Point, value: float) -> int:
    """The bit pattern of a scaled number (ValueError if the register cannot hold it)."""
    if isinstance(value, int) and point.scale == 1 and point.offset == 0:
        # An unscaled integer stays exact: a float would round u64 values above 2**53.
        number: float = value
    else:
        number = (value - point.offset) / point.scale
    if point.data_type is DataType.F32:
        return int.from_bytes(struct.pack(">f", number), "big")
    if point.data_type is DataType.F64:
        return int.from_bytes(struct.pack(">d", number), "big")
    bits = _INTEGER_BITS[point.data_type]
    whole = number if isinstance(number, int) else round(number)
    low, high = (
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        if point.data_type in _SIGNED
        else (
            0,
            (1 << bits) - 1,
        )
    )
    if not low <= whole <= high:
        raise ValueError(f"{point.key}: {value} does not fit a {point.data_type}")
    return whole & ((1 << bits) - 1)


def encode(point: Point, value: PointValue) -> list[int] | list[bool]:
    """The words (registers) or bits (coils) that make the device hold value."""
    if point.table.is_bits:
        if not isinstance(value, bool):
            raise ValueError(f"{point.key}: a coil holds true or false, not {value!r}")
        return [value]
    if point.data_type is DataType.BOOL:
        if not isinstance(value, bool):
            raise ValueError(f"{point.key}: expected true or false, not {value!r}")
        return [int(value)]
    if point.data_type is DataType.ENUM:
        raw = next((number for number, label in point.labels.items() if label == value), None)
        if raw is None:
            raise ValueError(f"{point.key}: {value!r} is not one of its states")
        return [raw]
    if (
        point.data_type is DataType.BITFIELD
        or isinstance(value, bool)
        or not isinstance(value, int | float)
    ):
        raise ValueError(f"{point.key}: cannot write {value!r} to a {point.data_type}")
    raw = _raw_of_number(point, value)
    return split_words(raw, point.data_type.register_count, point.word_order)
