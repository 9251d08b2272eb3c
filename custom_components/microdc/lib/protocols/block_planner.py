"""Merge a device's points into as few Modbus read requests as the protocol allows.

A read plan is plain data (a tuple of ReadBlocks), so it can be tested and shown in diagnostics.
Points of one table merge into one block while the block stays within the protocol's limit per
request (125 registers, 2000 bits) and the unused addresses between two neighbours are no more
than the gap limit. Reading through a short gap costs a few bytes; another request costs a round
trip, which on an RS-485 gateway is tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .modbus import Table

MAX_REGISTERS_PER_READ = 125  # Modbus application protocol, functions 3 and 4
MAX_BITS_PER_READ = 2000  # functions 1 and 2
DEFAULT_MAX_GAP = 16  # registers


class Span(Protocol):
    """What the planner needs of a point: where it is and how many registers (or bits) it has."""

    @property
    def key(self) -> str: ...
    @property
    def table(self) -> Table: ...
    @property
    def address(self) -> int: ...
    @property
    def count(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ReadBlock[S: Span]:
    """One read request: a contiguous run of one table and the points it carries."""

    table: Table
    address: int
    count: int
    points: tuple[S, ...]

    @property
    def end(self) -> int:
        """The first address after the block."""
        return self.address + self.count

    def slice_for(self, point: Span) -> slice:
        """Where a point's words (or bits) sit in this block's response."""
        start = point.address - self.address
        return slice(start, start + point.count)


def _limit(table: Table) -> int:
    return MAX_BITS_PER_READ if table.is_bits else MAX_REGISTERS_PER_READ


def plan_reads[S: Span](
    points: Iterable[S],
    *,
    max_gap: int = DEFAULT_MAX_GAP,
    max_bit_gap: int | None = None,
) -> tuple[ReadBlock[S], ...]:
    """Plan the fewest reads that cover the points.

    max_gap is the longest run of unused registers to read through; max_bit_gap the same for
    coils and discrete inputs (default: 16 bits per register of max_gap, one register's worth of
    bits costing what one register costs). Greedy left to right is optimal here: extending the
    current block whenever allowed never needs more blocks than any other cover.
    """
    if max_gap < 0:
        raise ValueError("max_gap must not be negative")
    bit_gap = max_gap * 16 if max_bit_gap is None else max_bit_gap
    by_table: dict[Table, list[S]] = {}
    for point in points:
        by_table.setdefault(point.table, []).append(point)

    blocks: list[ReadBlock[S]] = []
    for table in Table:  # a stable table order keeps plans reproducible
        table_points = sorted(by_table.get(table, ()), key=lambda p: (p.address, p.end, p.key))
        if not table_points:
            continue
        limit = _limit(table)
        gap = bit_gap if table.is_bits else max_gap
        current = [table_points[0]]
        start, end = table_points[0].address, table_points[0].end
        for point in table_points[1:]:
            new_end = max(end, point.end)
            if point.address - end <= gap and new_end - start <= limit:
                current.append(point)
                end = new_end
                continue
            blocks.append(ReadBlock(table, start, end - start, tuple(current)))
            current = [point]
            start, end = point.address, point.end
        blocks.append(ReadBlock(table, start, end - start, tuple(current)))
    return tuple(blocks)


def split_block[S: Span](block: ReadBlock[S]) -> tuple[ReadBlock[S], ...]:
    """Halve a block's points (by address) into two tighter blocks, to find a bad address.

    Each half covers only its own points, so a gap between the halves is no longer read.
    """
    if len(block.points) < 2:
        raise ValueError("a block of one point cannot be split")
    middle = len(block.points) // 2
    halves = (block.points[:middle], block.points[middle:])
    return tuple(
        ReadBlock(
            block.table,
            min(p.address for p in half),
            max(p.end for p in half) - min(p.address for p in half),
            half,
        )
        for half in halves
    )
