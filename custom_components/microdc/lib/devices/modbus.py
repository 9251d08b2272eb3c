"""A Modbus device: one unit id behind a shared connection, read and written as its profile says.

poll() reads the planned blocks and decodes every point. A block that fails with an
illegal-address exception is split until the offending points are found; they become suspects
(logged once) and the plan keeps the good halves. A suspect is read alone again every
``reprobe_polls`` polls and rejoins the plan when it answers: a device that refuses a register
while it boots must not lose that point for good. A poll in which every block is refused is a
failed poll, not a reason to skip every point.

write() encodes a value of a point its profile declares writable (holding registers and coils)
and reads the point back, so the caller sees what the device now holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import logging
import time
from types import MappingProxyType
from typing import Any

from ..points import Point, Reading, Value
from ..profile import Profile, RegisterPoint
from ..protocols.block_planner import DEFAULT_MAX_GAP, ReadBlock, plan_reads, split_block
from ..protocols.modbus import (
    ILLEGAL_DATA_ADDRESS,
    ILLEGAL_DATA_VALUE,
    Clock,
    ModbusConnectError,
    ModbusConnection,
    ModbusError,
    ModbusExceptionCodeError,
    ModbusTimeoutError,
    ModbusUnitNotAnsweringError,
    Table,
)
from .base import (
    Device,
    DeviceError,
    DeviceIdentity,
    PollReport,
    WriteRefusedError,
    checked_value,
)
from .modbus_codec import PointValue, decode_bits, decode_registers, encode

_LOGGER = logging.getLogger(__name__)

DEFAULT_REPROBE_POLLS = 60  # a refused point is tried again every 60 polls (10 min at 10 s)
# Some devices answer a read that touches an unmapped register with "illegal data value"
# instead of "illegal data address"; both mean "not this range", so both trigger a split.
_ADDRESS_EXCEPTIONS = frozenset({ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE})
_REFUSED = Reading(None, error="the device refuses this address")


def error_reason(err: ModbusError) -> str:
    """The stable reason key of a transport error (the glue translates it)."""
    if isinstance(err, ModbusConnectError):
        return "cannot_connect"
    if isinstance(err, ModbusTimeoutError):
        return "timeout"
    if isinstance(err, ModbusUnitNotAnsweringError):
        return "unit_not_answering"
    if isinstance(err, ModbusExceptionCodeError):
        return "exception_code"
    return "communication_error"


class ModbusDeviceError(DeviceError):
    """A Modbus device could not be read or written; ``cause`` is the transport's error."""

    def __init__(self, cause: ModbusError, *, reason: str | None = None) -> None:
        """Take the reason from the transport's error, unless told."""
        super().__init__(str(cause), reason=reason or error_reason(cause))
        self.cause = cause


@dataclass(frozen=True, slots=True)
class PollStatistics:
    """What one poll cost, for diagnostics and the benchmark."""

    requests: int
    errors: int
    duration_s: float
    blocks: int


@dataclass(frozen=True, slots=True)
class PollResult(PollReport):
    """A Modbus poll: the readings, the points the device refuses, and what it cost."""

    skipped: frozenset[str] = frozenset()
    statistics: PollStatistics | None = None


@dataclass(slots=True)
class _PollCounters:
    requests: int = 0
    errors: int = 0
    raw: dict[str, list[int] | list[bool]] = field(default_factory=dict)


class ModbusDevice(Device):
    """One unit id behind a connection, read as its profile says."""

    def __init__(
        self,
        connection: ModbusConnection,
        unit_id: int,
        profile: Profile,
        *,
        max_gap: int = DEFAULT_MAX_GAP,
        name: str | None = None,
        clock: Clock = time.monotonic,
        reprobe_polls: int = DEFAULT_REPROBE_POLLS,
        timeout: float | None = None,
        probe: bool = False,
    ) -> None:
        """Plan the reads; nothing is sent until the first poll.

        timeout: this device's request timeout (default: the connection's). probe=True is the
        config flow's one-off read: it connects even while the connection backs off, and logs
        refused points at debug level only (the form shows the verdict).
        """
        if not 0 <= unit_id <= 255:
            raise ValueError(f"unit id {unit_id} is outside 0..255")
        if reprobe_polls < 1:
            raise ValueError("reprobe_polls must be at least 1")
        self.connection = connection
        self.unit_id = unit_id
        self.profile = profile
        self.name = name or f"{profile.profile_id} unit {unit_id}"
        self.points: Mapping[str, Point] = MappingProxyType(
            {key: point.as_point() for key, point in profile.points.items()}
        )
        self.reprobe_polls = reprobe_polls
        self._clock = clock
        self.timeout = timeout
        self._probe = probe
        self._skip_level = logging.DEBUG if probe else logging.WARNING
        # Suspect point key -> polls left until it is read alone again.
        self._suspects: dict[str, int] = {}
        # Each point's last registers and what they decoded to: most of a plant room's
        # values do not change between polls, and an unchanged one is neither decoded nor
        # allocated again (a poll's new objects would live until the next poll and load the
        # garbage collector's oldest generation).
        self._decoded: dict[str, tuple[list[int] | list[bool], Reading]] = {}
        self._full_plan = plan_reads(profile.points.values(), max_gap=max_gap)
        self._plan: tuple[ReadBlock[RegisterPoint], ...] = self._full_plan
        self.last_statistics: PollStatistics | None = None

    @property
    def identity(self) -> DeviceIdentity:
        """The profile's manufacturer and model.

        No model id: Home Assistant shows it after the model in parentheses, and a profile id
        ("demo_ups") says nothing to the person reading the device page.
        """
        profile = self.profile
        return DeviceIdentity(profile.manufacturer, profile.model)

    @property
    def plan(self) -> tuple[ReadBlock[RegisterPoint], ...]:
        """The current read plan (it tightens when a bad address is found)."""
        return self._plan

    @property
    def skipped(self) -> frozenset[str]:
        """Points the device refuses (illegal address); re-read alone now and then."""
        return frozenset(self._suspects)

    def firmware(self, report: PollReport | None) -> str | None:
        """The profile's firmware point, else the firmware role's."""
        key = self.profile.firmware_point
        if key is None or report is None:
            return super().firmware(report)
        reading = report.readings.get(key)
        return None if reading is None or reading.value is None else str(reading.value)

    async def poll(self) -> PollResult:
        """Read every point once; raises ModbusDeviceError when the device cannot be read."""
        started = self._clock()
        counters = _PollCounters()
        plan: list[ReadBlock[RegisterPoint]] = []
        refused: dict[str, int] = {}  # newly refused point -> exception code
        try:
            for block in self._plan:
                plan.extend(await self._read_block(block, counters, refused))
            if refused and not plan:
                # Nothing answered: a device still booting or a gateway in trouble, not a
                # profile with bad addresses. Fail the poll and keep the plan.
                code = next(iter(refused.values()))
                raise ModbusExceptionCodeError(
                    code, f"{self.name}: every read refused with exception code {code}"
                )
            recovered = await self._reprobe(counters)
        except ModbusError as err:
            self._record(counters, started, len(self._plan))
            # Debug only: the caller reports an outage (Home Assistant's coordinator logs it
            # once, the config flow shows it on the form).
            _LOGGER.debug("%s: poll failed: %s", self.name, err)
            raise ModbusDeviceError(err) from err
        for key, code in refused.items():
            self._suspect(self.profile.points[key], code)
        self._plan = self._replan(plan, recovered)
        readings: dict[str, Reading] = {}
        decoded = self._decoded
        for key, data in counters.raw.items():
            last = decoded.get(key)
            if last is not None and last[0] == data:
                readings[key] = last[1]
                continue
            reading = Reading(self._decode(self.profile.points[key], data))
            decoded[key] = (data, reading)
            readings[key] = reading
        for key in self._suspects:
            readings[key] = _REFUSED
        statistics = self._record(counters, started, len(self._plan))
        return PollResult(
            readings=MappingProxyType(readings),
            requests=statistics.requests,
            skipped=frozenset(self._suspects),
            statistics=statistics,
        )

    @staticmethod
    def _decode(point: RegisterPoint, data: list[int] | list[bool]) -> PointValue | None:
        if point.table.is_bits:
            return decode_bits(point, [bool(bit) for bit in data])
        return decode_registers(point, [int(word) for word in data])

    async def write(self, key: str, value: Value, *, priority: int) -> Reading:
        """Write a writable point (Modbus has no priorities: ``priority`` is not sent) and read
        it back."""
        point = self.profile.points.get(key)
        if point is None:
            raise WriteRefusedError(f"{self.name} has no point {key}", reason="not_writable")
        checked = checked_value(self.points[key], value)
        try:
            words = encode(point, checked)
        except ValueError as err:
            raise WriteRefusedError(f"{self.name}: {err}", reason="bad_value") from err
        try:
            await self.connection.write(
                self.unit_id, point.table, point.address, words, timeout_s=self.timeout
            )
            data = await self.connection.read(
                self.unit_id, point.table, point.address, point.count, timeout_s=self.timeout
            )
        except ModbusError as err:
            raise ModbusDeviceError(err, reason="write_failed") from err
        _LOGGER.debug("%s: wrote %s = %s", self.name, key, checked)
        return Reading(self._decode(point, data))

    async def close(self) -> None:
        """Nothing of its own to close: the connection is the pool's."""

    def diagnostics(self) -> dict[str, Any]:
        """The profile, the read plan, the refused points, the last poll and the connection."""
        profile, statistics, connection = self.profile, self.last_statistics, self.connection
        return {
            "endpoint": str(connection.endpoint),
            "unit_id": self.unit_id,
            "profile": {
                "profile_id": profile.profile_id,
                "manufacturer": profile.manufacturer,
                "model": profile.model,
                "source": profile.source,
                "points": len(profile.points),
            },
            "plan": [
                {
                    "table": block.table.value,
                    "address": block.address,
                    "count": block.count,
                    "points": [point.key for point in block.points],
                }
                for block in self._plan
            ],
            "skipped_points": sorted(self._suspects),
            "last_poll": None
            if statistics is None
            else {
                "requests": statistics.requests,
                "errors": statistics.errors,
                "blocks": statistics.blocks,
                "duration_ms": round(statistics.duration_s * 1000, 1),
            },
            "connection": {
                "connected": connection.connected,
                "connects": connection.connects,
                "backoff_s": connection.backoff,
                "timeout_s": connection.timeout,
            },
        }

    def _record(self, counters: _PollCounters, started: float, blocks: int) -> PollStatistics:
        self.last_statistics = PollStatistics(
            requests=counters.requests,
            errors=counters.errors,
            duration_s=self._clock() - started,
            blocks=blocks,
        )
        return self.last_statistics

    async def _read_block(
        self,
        block: ReadBlock[RegisterPoint],
        counters: _PollCounters,
        refused: dict[str, int],
    ) -> list[ReadBlock[RegisterPoint]]:
        """Read a block, splitting it on an address error; returns the blocks that worked."""
        counters.requests += 1
        try:
            data = await self.connection.read(
                self.unit_id,
                block.table,
                block.address,
                block.count,
                timeout_s=self.timeout,
                ignore_backoff=self._probe,
            )
        except ModbusExceptionCodeError as err:
            counters.errors += 1
            if err.code not in _ADDRESS_EXCEPTIONS:
                raise
            if len(block.points) == 1:
                refused[block.points[0].key] = err.code
                return []
            good: list[ReadBlock[RegisterPoint]] = []
            for half in split_block(block):
                good.extend(await self._read_block(half, counters, refused))
            return good
        except ModbusError:
            counters.errors += 1
            raise
        for point in block.points:
            counters.raw[point.key] = data[block.slice_for(point)]
        return [block]

    async def _reprobe(self, counters: _PollCounters) -> list[RegisterPoint]:
        """Read each suspect that is due alone; return those that answered."""
        recovered: list[RegisterPoint] = []
        for key in list(self._suspects):
            self._suspects[key] -= 1
            if self._suspects[key] > 0:
                continue
            point = self.profile.points[key]
            single = ReadBlock(point.table, point.address, point.count, (point,))
            refused: dict[str, int] = {}
            if await self._read_block(single, counters, refused):
                recovered.append(point)
            else:
                self._suspects[key] = self.reprobe_polls
        return recovered

    def _replan(
        self, plan: list[ReadBlock[RegisterPoint]], recovered: list[RegisterPoint]
    ) -> tuple[ReadBlock[RegisterPoint], ...]:
        for point in recovered:
            del self._suspects[point.key]
            _LOGGER.info("%s: point %s answers again", self.name, point.key)
        if not recovered:
            return tuple(plan)
        if not self._suspects:
            # Every refusal was passing: back to the merged plan. A gap the device does not
            # serve is split out again on the next poll, at the cost of a few requests.
            return self._full_plan
        singles = [ReadBlock(p.table, p.address, p.count, (p,)) for p in recovered]
        order = list(Table)
        return tuple(
            sorted([*plan, *singles], key=lambda b: (order.index(b.table), b.address, b.count))
        )

    def _suspect(self, point: RegisterPoint, code: int) -> None:
        self._suspects[point.key] = self.reprobe_polls
        _LOGGER.log(
            self._skip_level,
            "%s: skipping point %s (%s %d): the device answers exception code %d; "
            "it is tried again every %d polls",
            self.name,
            point.key,
            point.table,
            point.address,
            code,
            self.reprobe_polls,
        )
