"""Fuzzing the Modbus codec: any register words of any data type decode to a value of the
point's kind or to None (never an exception), and what encode writes decodes back."""

from __future__ import annotations

import math
import os
from types import MappingProxyType

from hypothesis import given, settings, strategies as st

from custom_components.microdc.lib.devices.modbus_codec import (
    decode_bits,
    decode_registers,
    encode,
)
from custom_components.microdc.lib.points import ValueKind
from custom_components.microdc.lib.profile import DataType, RegisterPoint, WordOrder
from custom_components.microdc.lib.protocols.modbus import Table

CASES = int(os.environ.get("MICRODC_FUZZ_EXAMPLES", "300"))
LABELS = MappingProxyType({0: "off", 1: "on", 7: "fault", 15: "top"})
WORD = st.integers(0, 0xFFFF)
SCALES = st.sampled_from([1.0, 0.1, 0.01, 10.0, -0.5, 1e-6, 1e6])


@st.composite
def points(draw: st.DrawFn) -> RegisterPoint:
    data_type = draw(st.sampled_from(list(DataType)))
    labelled = data_type in (DataType.ENUM, DataType.BITFIELD)
    numeric = data_type not in (DataType.ENUM, DataType.BITFIELD, DataType.BOOL)
    low = draw(st.none() | st.floats(-1e6, 1e6)) if numeric else None
    high = None if low is None else low + draw(st.floats(0, 1e6))
    return RegisterPoint(
        key="fuzz",
        table=Table.HOLDING,
        address=0,
        data_type=data_type,
        word_order=draw(st.sampled_from(list(WordOrder))),
        scale=draw(SCALES) if numeric else 1.0,
        offset=draw(st.sampled_from([0.0, -40.0, 273.15])) if numeric else 0.0,
        nan=frozenset(draw(st.sets(st.integers(0, 0xFFFFFFFF), max_size=2))),
        min=low,
        max=high,
        labels=LABELS if labelled else MappingProxyType({}),
    )


@settings(max_examples=CASES, derandomize=True)
@given(point=points(), data=st.data())
def test_any_words_decode_to_the_points_kind_or_none(
    point: RegisterPoint, data: st.DataObject
) -> None:
    words = data.draw(st.lists(WORD, min_size=point.count, max_size=point.count))
    value = decode_registers(point, words)
    if value is None:
        return
    match point.kind:
        case ValueKind.BOOL:
            assert isinstance(value, bool)
        case ValueKind.STATE:
            assert value in LABELS.values()
        case ValueKind.FLAGS:
            assert isinstance(value, frozenset)
            assert value <= set(LABELS.values())
        case _:
            assert isinstance(value, int | float)
            assert not isinstance(value, bool)
            assert math.isfinite(value)
            if point.min is not None and point.max is not None:
                assert point.min <= value <= point.max


@settings(max_examples=CASES, derandomize=True)
@given(point=points(), words=st.lists(WORD, max_size=6))
def test_a_wrong_word_count_is_a_value_error(point: RegisterPoint, words: list[int]) -> None:
    try:
        decode_registers(point, words)
    except ValueError:
        assert len(words) != point.count
    else:
        assert len(words) == point.count


@given(bits=st.lists(st.booleans(), max_size=3))
def test_bits(bits: list[bool]) -> None:
    point = RegisterPoint(key="b", table=Table.COIL, address=0, data_type=DataType.BOOL)
    try:
        assert decode_bits(point, bits) is bits[0]
    except ValueError:
        assert len(bits) != 1


@settings(max_examples=CASES, derandomize=True)
@given(point=points(), data=st.data())
def test_encode_then_decode_round_trips(point: RegisterPoint, data: st.DataObject) -> None:
    words = data.draw(st.lists(WORD, min_size=point.count, max_size=point.count))
    value = decode_registers(point, words)
    if value is None or point.kind is ValueKind.FLAGS:
        return  # nothing to write back (bitfields are read-only)
    try:
        written = encode(point, value)
    except ValueError:
        # A scaled u64 near 2**64 is a float that rounds past the register's top.
        assert point.data_type is DataType.U64
        assert isinstance(value, float)
        assert abs(value) >= 2**53
        return
    again = decode_registers(point, written)
    if again is None:
        # Only a sentinel can do it: two raw values (-0.0 and 0.0) made the same number.
        assert point.nan
        return
    if isinstance(value, float) and not isinstance(again, bool):
        assert isinstance(again, int | float)
        assert math.isclose(again, value, rel_tol=1e-6, abs_tol=abs(point.scale) * 1e-6)
    elif point.data_type is DataType.U64 and isinstance(value, int):
        assert again == value  # exact: unscaled integers never pass through a float
    else:
        assert again == value
