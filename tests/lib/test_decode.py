"""Decoding raw Modbus words and bits into readings; None means unavailable, never zero."""

import math
import struct
from types import MappingProxyType
from typing import Any

import pytest

from custom_components.microdc.lib.devices.modbus_codec import (
    combine_words,
    decode_bits,
    decode_registers,
)
from custom_components.microdc.lib.profile import DataType, RegisterPoint as Point, WordOrder
from custom_components.microdc.lib.protocols.modbus import Table


def _point(data_type: DataType, **kwargs: Any) -> Point:
    if "labels" in kwargs:
        kwargs["labels"] = MappingProxyType(kwargs["labels"])
    if "nan" in kwargs:
        kwargs["nan"] = frozenset(kwargs["nan"])
    kwargs.setdefault("table", Table.HOLDING)
    return Point(key="p", address=0, data_type=data_type, **kwargs)


def _words(fmt: str, value: float) -> list[int]:
    data = struct.pack(fmt, value)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@pytest.mark.parametrize(
    ("data_type", "words", "expected"),
    [
        (DataType.U16, [0xFFFF], 65535),
        (DataType.S16, [0xFFFF], -1),
        (DataType.S16, [0x8000], -32768),
        (DataType.S16, [0x7FFF], 32767),
        (DataType.U32, [0x0001, 0x0002], 65538),
        (DataType.S32, [0xFFFF, 0xFFFE], -2),
        (DataType.U64, [0x0001, 0, 0, 0x0005], (1 << 48) + 5),
        (DataType.F32, _words(">f", 21.5), 21.5),
        (DataType.F64, _words(">d", -1234.0625), -1234.0625),
    ],
)
def test_numbers_big_word_order(data_type: DataType, words: list[int], expected: float) -> None:
    value = decode_registers(_point(data_type), words)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("data_type", "words", "expected"),
    [
        (DataType.U32, [0x0002, 0x0001], 65538),
        (DataType.S32, [0xFFFE, 0xFFFF], -2),
        (DataType.U64, [0x0005, 0, 0, 0x0001], (1 << 48) + 5),
        (DataType.F32, list(reversed(_words(">f", 21.5))), 21.5),
        (DataType.F64, list(reversed(_words(">d", -1234.0625))), -1234.0625),
    ],
)
def test_little_word_order(data_type: DataType, words: list[int], expected: float) -> None:
    assert decode_registers(_point(data_type, word_order=WordOrder.LITTLE), words) == expected


def test_combine_words_rejects_non_words() -> None:
    with pytest.raises(ValueError, match="not a 16-bit word"):
        combine_words([0x10000], WordOrder.BIG)


def test_wrong_register_count_is_a_bug_not_a_reading() -> None:
    with pytest.raises(ValueError, match="expected 2 registers"):
        decode_registers(_point(DataType.U32), [1])
    with pytest.raises(ValueError, match="expected 1 bit"):
        decode_bits(_point(DataType.BOOL, table=Table.COIL), [True, False])


def test_scale_and_offset() -> None:
    assert decode_registers(_point(DataType.U16, scale=0.1), [235]) == 23.5
    assert decode_registers(_point(DataType.S16, scale=0.01, offset=-40), [6500]) == 25.0
    assert decode_registers(_point(DataType.S16, scale=0.1), [0xFF9C]) == -10.0
    # Unscaled integers stay integers (counters keep every unit).
    assert decode_registers(_point(DataType.U32), [0xFFFF, 0xFFFF]) == 0xFFFFFFFF


def test_sentinels_make_the_reading_unavailable() -> None:
    u32 = _point(DataType.U32, scale=0.1, nan=[0xFFFFFFFF])
    assert decode_registers(u32, [0xFFFF, 0xFFFF]) is None
    assert decode_registers(u32, [0, 0]) == 0  # zero is a reading, not "missing"
    # A signed sentinel may be given as its bit pattern or as the number.
    assert decode_registers(_point(DataType.S16, nan=[0x8000]), [0x8000]) is None
    assert decode_registers(_point(DataType.S16, nan=[-32768]), [0x8000]) is None
    assert decode_registers(_point(DataType.S16, nan=[-32768]), [0x8001]) == -32767


def test_float_nan_and_infinity_are_unavailable() -> None:
    assert decode_registers(_point(DataType.F32), _words(">f", math.nan)) is None
    assert decode_registers(_point(DataType.F64), _words(">d", math.inf)) is None


def test_valid_range_applies_to_the_scaled_value() -> None:
    humidity = _point(DataType.U16, scale=0.1, min=0, max=100)
    assert decode_registers(humidity, [1000]) == 100.0
    assert decode_registers(humidity, [1001]) is None
    temperature = _point(DataType.S16, scale=0.1, min=-40)
    assert decode_registers(temperature, [0xFE70]) == -40.0
    assert decode_registers(temperature, [0xFE6F]) is None


def test_enum_labels() -> None:
    mode = _point(DataType.ENUM, labels={0: "off", 1: "cooling", 2: "heating"}, nan=[0xFFFF])
    assert decode_registers(mode, [2]) == "heating"
    assert decode_registers(mode, [7]) is None  # a state the profile does not know
    assert decode_registers(mode, [0xFFFF]) is None


def test_bitfield_flags() -> None:
    status = _point(
        DataType.BITFIELD,
        labels={0: "online", 1: "on_battery", 2: "low_battery", 15: "fault"},
    )
    assert decode_registers(status, [0b0000_0000_0000_0011]) == frozenset({"online", "on_battery"})
    assert decode_registers(status, [0x8000 | 0b0100 | 0b1000]) == frozenset(
        {"low_battery", "fault"}  # bit 3 has no label and is ignored
    )
    assert decode_registers(status, [0]) == frozenset()


def test_bool_in_registers_and_bits() -> None:
    door = _point(DataType.BOOL)
    assert decode_registers(door, [0]) is False
    assert decode_registers(door, [0x0100]) is True
    assert decode_registers(_point(DataType.BOOL, nan=[0xFFFF]), [0xFFFF]) is None
    coil = _point(DataType.BOOL, table=Table.COIL)
    assert decode_bits(coil, [True]) is True
    assert decode_bits(coil, [False]) is False


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (1.4, 1.4),  # float32 holds 1.39999997615814: the device meant 1.4
        (0.1, 0.1),
        (21.37, 21.37),
        (123456.789, 123456.79),  # float32 steps 1/128 here: 8 digits, not 7
        (16777215.0, 16777215.0),  # the largest whole run: nothing the register holds is lost
        (3.4028234663852886e38, 3.4028235e38),
        (1e-40, 1e-40),  # subnormal
    ],
)
def test_f32_reads_as_the_shortest_decimal_it_holds(written: float, expected: float) -> None:
    """No float32 noise in states; every value the register holds still reads back exactly."""
    words = _words(">f", written)
    value = decode_registers(_point(DataType.F32), words)
    assert value == expected
    assert _words(">f", value) == words  # the same register contents: nothing lost


def test_f32_shortest_decimal_also_scaled() -> None:
    assert decode_registers(_point(DataType.F32, scale=10.0), _words(">f", 0.14)) == 1.4
