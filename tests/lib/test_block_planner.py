"""The block planner: fewest reads within the protocol's limits and the gap limit."""

from typing import Any

import pytest

from custom_components.microdc.lib.profile import DataType, RegisterPoint as Point
from custom_components.microdc.lib.protocols.block_planner import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    ReadBlock,
    plan_reads,
    split_block,
)
from custom_components.microdc.lib.protocols.modbus import Table


def _p(key: str, address: int, data_type: DataType = DataType.U16, **kwargs: Any) -> Point:
    kwargs.setdefault("table", Table.HOLDING)
    return Point(key=key, address=address, data_type=data_type, **kwargs)


def _shape(blocks: tuple[ReadBlock, ...]) -> list[tuple[str, int, int, list[str]]]:
    return [(b.table.value, b.address, b.count, [p.key for p in b.points]) for b in blocks]


def test_contiguous_points_make_one_read() -> None:
    points = [_p("b", 2, DataType.U32), _p("a", 0, DataType.U32), _p("c", 4, DataType.F64)]
    assert _shape(plan_reads(points)) == [("holding", 0, 8, ["a", "b", "c"])]


def test_gaps_up_to_the_limit_are_read_through() -> None:
    points = [_p("a", 0), _p("b", 4), _p("c", 20)]  # gaps of 3 and 15 registers
    assert _shape(plan_reads(points, max_gap=3)) == [
        ("holding", 0, 5, ["a", "b"]),
        ("holding", 20, 1, ["c"]),
    ]
    assert _shape(plan_reads(points, max_gap=15)) == [("holding", 0, 21, ["a", "b", "c"])]
    assert len(plan_reads(points, max_gap=0)) == 3


def test_tables_never_mix() -> None:
    points = [
        _p("h", 0),
        _p("i", 1, table=Table.INPUT),
        _p("c", 0, DataType.BOOL, table=Table.COIL),
        _p("d", 0, DataType.BOOL, table=Table.DISCRETE_INPUT),
    ]
    assert [b.table for b in plan_reads(points)] == list(Table)


def test_register_limit_per_request() -> None:
    # 130 registers back to back: one full read of 125, then the rest.
    points = [_p(f"r{i}", i) for i in range(130)]
    blocks = plan_reads(points)
    assert [(b.address, b.count) for b in blocks] == [(0, MAX_REGISTERS_PER_READ), (125, 5)]
    # A 2-register value never straddles two reads.
    points = [_p(f"r{i}", i * 2, DataType.U32) for i in range(63)]  # 126 registers
    blocks = plan_reads(points)
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 2)]
    assert all(b.count <= MAX_REGISTERS_PER_READ for b in blocks)


def test_bit_limit_and_bit_gap() -> None:
    coils = [_p(f"c{i}", i, DataType.BOOL, table=Table.COIL) for i in range(2001)]
    assert [(b.address, b.count) for b in plan_reads(coils)] == [(0, MAX_BITS_PER_READ), (2000, 1)]
    sparse = [_p(f"c{i}", i * 40, DataType.BOOL, table=Table.COIL) for i in range(3)]
    assert len(plan_reads(sparse, max_gap=1)) == 3  # default bit gap 16 < 39
    assert len(plan_reads(sparse, max_gap=1, max_bit_gap=39)) == 1


def test_points_sharing_registers() -> None:
    # A status word read both as a bitfield and as a raw u16 costs one register.
    points = [
        _p("status", 10, DataType.BITFIELD, labels={0: "online"}),
        _p("status_raw", 10),
        _p("low", 8, DataType.U32),
    ]
    assert _shape(plan_reads(points)) == [("holding", 8, 3, ["low", "status", "status_raw"])]


def test_slices_and_empty_plan() -> None:
    block = plan_reads([_p("a", 100), _p("b", 103, DataType.U32)])[0]
    assert block.slice_for(block.points[1]) == slice(3, 5)
    assert plan_reads([]) == ()
    with pytest.raises(ValueError, match="negative"):
        plan_reads([], max_gap=-1)


def test_split_drops_the_gap_between_halves() -> None:
    block = plan_reads([_p("a", 0), _p("b", 1), _p("c", 10), _p("d", 12)], max_gap=10)[0]
    halves = split_block(block)
    assert _shape(halves) == [("holding", 0, 2, ["a", "b"]), ("holding", 10, 3, ["c", "d"])]
    with pytest.raises(ValueError, match="cannot be split"):
        split_block(halves[0].__class__(Table.HOLDING, 0, 1, (_p("a", 0),)))
