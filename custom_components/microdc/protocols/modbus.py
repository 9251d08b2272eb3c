"""Modbus transport on pymodbus 3.13: shared connections, block reads, faults survived.

No Home Assistant imports; everything is async and nothing blocks the event loop.

- ModbusConnection: one socket to one endpoint (host, port, framing), shared by every device
  behind it (a gateway with several unit ids). Requests are serialised with a lock. After a
  timeout or a lost socket the connection is dropped and rebuilt on the next request; failed
  connects back off exponentially up to a cap, without sleeping: a request during the back-off
  fails at once with ModbusConnectError.
- ModbusConnectionPool: hands out connections by endpoint, reference counted; the last release
  closes the socket.
- ModbusDevice: one unit id with a profile. poll() reads the planned blocks and decodes every
  point. A block that fails with an illegal-address exception is split until the offending points
  are found; they become suspects (logged once) and the plan keeps the good halves. A suspect is
  read alone again every `reprobe_polls` polls and rejoins the plan when it answers: a device
  that refuses a register while it boots must not lose that point for good. A poll in which
  every block is refused is a failed poll, not a reason to skip every point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import time
from types import MappingProxyType

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from ..decode import PointValue, decode_bits, decode_registers
from ..profile import Point, Profile, Table
from .block_planner import DEFAULT_MAX_GAP, ReadBlock, plan_reads, split_block

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0  # seconds per request
# pymodbus's own request timeout: far above any of ours (the flow allows up to 60 s), so
# that ours always fire first and pymodbus neither logs each lost answer nor counts them
# towards closing the socket itself.
_LIBRARY_TIMEOUT = 120.0
DEFAULT_BACKOFF_INITIAL = 1.0  # seconds before the first reconnect attempt after a failure
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_REPROBE_POLLS = 60  # a refused point is tried again every 60 polls (10 min at 10 s)

# Modbus exception codes (Modbus application protocol v1.1b3, section 7).
ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
GATEWAY_PATH_UNAVAILABLE = 10
GATEWAY_TARGET_NO_RESPONSE = 11
# Some devices answer a read that touches an unmapped register with "illegal data value"
# instead of "illegal data address"; both mean "not this range", so both trigger a split.
_ADDRESS_EXCEPTIONS = frozenset({ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE})


class Framing(StrEnum):
    """How Modbus frames travel over the TCP connection."""

    TCP = "tcp"  # Modbus TCP (MBAP header)
    RTU_OVER_TCP = "rtu_over_tcp"  # RTU frames with CRC, as many serial gateways forward them


_FRAMERS = {Framing.TCP: FramerType.SOCKET, Framing.RTU_OVER_TCP: FramerType.RTU}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a connection goes: every device with the same endpoint shares one socket."""

    host: str
    port: int = 502
    framing: Framing = Framing.TCP

    def __str__(self) -> str:
        """Render as host:port (framing)."""
        return f"{self.host}:{self.port} ({self.framing})"


# --- errors the Home Assistant glue translates --------------------------------------------


class ModbusError(Exception):
    """Base of every error this transport raises."""


class ModbusConnectError(ModbusError):
    """The endpoint cannot be reached, or the socket was lost during a request."""


class ModbusTimeoutError(ModbusError):
    """No answer within the request timeout."""


class ModbusExceptionCodeError(ModbusError):
    """The device answered with a Modbus exception code."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the exception code for callers that branch on it."""
        super().__init__(message)
        self.code = code


class ModbusUnitNotAnsweringError(ModbusExceptionCodeError):
    """A gateway reports that the unit behind it does not answer (codes 10 and 11)."""


class ModbusProtocolError(ModbusError):
    """An answer that does not fit the request (wrong unit, wrong length)."""


# --- connection ---------------------------------------------------------------------------


type Clock = Callable[[], float]


class ModbusConnection:
    """One socket to one endpoint, shared by the devices behind it."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        clock: Clock = time.monotonic,
    ) -> None:
        """Prepare the connection; nothing is opened until the first request."""
        self.endpoint = endpoint
        self.timeout = timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._clock = clock
        self._lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | None = None
        self._lost = asyncio.Event()  # set when the current socket closes
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._closed = False
        self.connects = 0  # successful connects, for diagnostics

    @property
    def connected(self) -> bool:
        """Whether a socket is open right now."""
        return self._client is not None and self._client.connected

    @property
    def backoff(self) -> float:
        """The current wait after a failed connect (0 while connects succeed)."""
        return self._backoff

    async def _connect(self, timeout_s: float, ignore_backoff: bool) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop()
        now = self._clock()
        if now < self._next_attempt and not ignore_backoff:
            raise ModbusConnectError(
                f"{self.endpoint}: not reachable, next attempt in {self._next_attempt - now:.1f} s"
            )
        lost = asyncio.Event()

        def note_connection(connected: bool) -> None:
            # pymodbus leaves a pending request waiting out its timeout when the peer hangs
            # up; this event lets the request end at once instead.
            if not connected:
                lost.set()

        client = AsyncModbusTcpClient(
            self.endpoint.host,
            port=self.endpoint.port,
            framer=_FRAMERS[self.endpoint.framing],
            timeout=_LIBRARY_TIMEOUT,
            retries=0,  # retrying is the poller's decision, not the library's
            reconnect_delay=0,  # reconnects are ours: capped backoff, no background task
            name=f"microdc {self.endpoint.host}:{self.endpoint.port}",
            trace_connect=note_connection,
        )
        try:
            async with asyncio.timeout(timeout_s):
                connected = await client.connect()
        except OSError, TimeoutError:
            connected = False
        if not connected:
            client.close()
            self._backoff = min(
                self._backoff * 2 if self._backoff else self._backoff_initial, self._backoff_max
            )
            self._next_attempt = self._clock() + self._backoff
            raise ModbusConnectError(f"{self.endpoint}: cannot connect")
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._client = client
        self._lost = lost
        self.connects += 1
        return client

    def _drop(self) -> None:
        """Forget the socket; the next request opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def read(
        self,
        unit_id: int,
        table: Table,
        address: int,
        count: int,
        *,
        timeout_s: float | None = None,
        ignore_backoff: bool = False,
    ) -> list[int] | list[bool]:
        """Read count registers (or bits) from one table of one unit.

        timeout_s: this request's own (default: the connection's), so that one device's
        setting does not change another's. ignore_backoff: try to connect even while failed
        connects back off (a user waiting on a form should not be told "cannot connect"
        because of the site's earlier failures).
        """
        if self._closed:
            raise ModbusConnectError(f"{self.endpoint}: connection closed")
        timeout_s = self.timeout if timeout_s is None else timeout_s
        async with self._lock:
            client = await self._connect(timeout_s, ignore_backoff)
            response = await self._execute(
                client, unit_id, table, address, count, timeout_s=timeout_s
            )
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", 0)
            message = (
                f"{self.endpoint} unit {unit_id}: exception code {code} reading "
                f"{table} {address}+{count}"
            )
            if code in (GATEWAY_PATH_UNAVAILABLE, GATEWAY_TARGET_NO_RESPONSE):
                raise ModbusUnitNotAnsweringError(code, message)
            raise ModbusExceptionCodeError(code, message)
        if table.is_bits:
            # pymodbus pads bits to whole bytes.
            bits = list(response.bits[:count])
            if len(bits) != count:
                raise ModbusProtocolError(f"{self.endpoint}: expected {count} bits")
            return bits
        registers = list(response.registers)
        if len(registers) != count:
            raise ModbusProtocolError(
                f"{self.endpoint}: expected {count} registers, got {len(registers)}"
            )
        return registers

    async def _execute(
        self,
        client: AsyncModbusTcpClient,
        unit_id: int,
        table: Table,
        address: int,
        count: int,
        *,
        timeout_s: float,
    ) -> ModbusPDU:
        match table:
            case Table.HOLDING:
                request = client.read_holding_registers
            case Table.INPUT:
                request = client.read_input_registers
            case Table.COIL:
                request = client.read_coils
            case Table.DISCRETE_INPUT:
                request = client.read_discrete_inputs
        lost = self._lost
        answer = asyncio.ensure_future(request(address, count=count, device_id=unit_id))
        hang_up = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait(
                (answer, hang_up), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            # Also when this task is cancelled: end both helpers and collect their outcome, so
            # that nothing is left running or logged as never retrieved.
            for helper in (answer, hang_up):
                helper.cancel()
            await asyncio.wait((answer, hang_up))
            error = None if answer.cancelled() else answer.exception()
        if answer.done() and not answer.cancelled() and error is None:
            return answer.result()
        # The stream's state is unknown after a lost or failed answer (half-open socket, or a
        # late answer that would be taken for the next request's): start a fresh one.
        self._drop()
        if lost.is_set() or isinstance(error, ConnectionException | OSError):
            raise ModbusConnectError(f"{self.endpoint}: connection lost") from error
        if error is None or "No response" in str(error) or "cancelled" in str(error):
            raise ModbusTimeoutError(f"{self.endpoint} unit {unit_id}: no answer") from error
        raise ModbusProtocolError(f"{self.endpoint} unit {unit_id}: {error}") from error

    async def close(self) -> None:
        """Close the socket for good."""
        self._closed = True
        async with self._lock:
            self._drop()


class ModbusConnectionPool:
    """Connections by endpoint, reference counted: the last user's release closes one."""

    def __init__(
        self,
        *,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
    ) -> None:
        """Start with no connections."""
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connections: dict[Endpoint, ModbusConnection] = {}
        self._users: dict[Endpoint, int] = {}

    def acquire(self, endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT) -> ModbusConnection:
        """The endpoint's connection, created on first use with this default timeout.

        Devices behind one endpoint pass their own timeout with each request (ModbusDevice),
        so acquiring never changes another user's.
        """
        connection = self._connections.get(endpoint)
        if connection is None:
            connection = ModbusConnection(
                endpoint,
                timeout=timeout,
                backoff_initial=self._backoff_initial,
                backoff_max=self._backoff_max,
            )
            self._connections[endpoint] = connection
            self._users[endpoint] = 0
        self._users[endpoint] += 1
        return connection

    async def release(self, connection: ModbusConnection) -> None:
        """Give a connection back; the last user's release closes it."""
        endpoint = connection.endpoint
        if self._connections.get(endpoint) is not connection:
            raise ValueError(f"{endpoint}: not a connection of this pool")
        self._users[endpoint] -= 1
        if self._users[endpoint] == 0:
            del self._connections[endpoint]
            del self._users[endpoint]
            await connection.close()

    def users(self, endpoint: Endpoint) -> int:
        """How many devices hold the endpoint's connection."""
        return self._users.get(endpoint, 0)


# --- device -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollStatistics:
    """What one poll cost, for diagnostics and the benchmark."""

    requests: int
    errors: int
    duration_s: float
    blocks: int


@dataclass(frozen=True, slots=True)
class PollResult:
    """The readings of one poll: point key -> value, None where the device has no reading."""

    values: Mapping[str, PointValue | None]
    skipped: frozenset[str]
    statistics: PollStatistics


@dataclass(slots=True)
class _PollCounters:
    requests: int = 0
    errors: int = 0
    raw: dict[str, list[int] | list[bool]] = field(default_factory=dict)


class ModbusDevice:
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
        self.reprobe_polls = reprobe_polls
        self._clock = clock
        self.timeout = timeout
        self._probe = probe
        self._skip_level = logging.DEBUG if probe else logging.WARNING
        # Suspect point key -> polls left until it is read alone again.
        self._suspects: dict[str, int] = {}
        self._full_plan = plan_reads(profile.points.values(), max_gap=max_gap)
        self._plan: tuple[ReadBlock, ...] = self._full_plan
        self.last_statistics: PollStatistics | None = None

    @property
    def plan(self) -> tuple[ReadBlock, ...]:
        """The current read plan (it tightens when a bad address is found)."""
        return self._plan

    @property
    def skipped(self) -> frozenset[str]:
        """Points the device refuses (illegal address); re-read alone now and then."""
        return frozenset(self._suspects)

    async def poll(self) -> PollResult:
        """Read every point once; raises a ModbusError when the device cannot be read."""
        started = self._clock()
        counters = _PollCounters()
        plan: list[ReadBlock] = []
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
            raise
        for key, code in refused.items():
            self._suspect(self.profile.points[key], code)
        self._plan = self._replan(plan, recovered)
        values: dict[str, PointValue | None] = {}
        for key, data in counters.raw.items():
            point = self.profile.points[key]
            if point.table.is_bits:
                values[key] = decode_bits(point, [bool(bit) for bit in data])
            else:
                values[key] = decode_registers(point, [int(word) for word in data])
        for key in self._suspects:
            values[key] = None
        return PollResult(
            values=MappingProxyType(values),
            skipped=frozenset(self._suspects),
            statistics=self._record(counters, started, len(self._plan)),
        )

    def _record(self, counters: _PollCounters, started: float, blocks: int) -> PollStatistics:
        self.last_statistics = PollStatistics(
            requests=counters.requests,
            errors=counters.errors,
            duration_s=self._clock() - started,
            blocks=blocks,
        )
        return self.last_statistics

    async def _read_block(
        self, block: ReadBlock, counters: _PollCounters, refused: dict[str, int]
    ) -> list[ReadBlock]:
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
            good: list[ReadBlock] = []
            for half in split_block(block):
                good.extend(await self._read_block(half, counters, refused))
            return good
        except ModbusError:
            counters.errors += 1
            raise
        for point in block.points:
            counters.raw[point.key] = data[block.slice_for(point)]
        return [block]

    async def _reprobe(self, counters: _PollCounters) -> list[Point]:
        """Read each suspect that is due alone; return those that answered."""
        recovered: list[Point] = []
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

    def _replan(self, plan: list[ReadBlock], recovered: list[Point]) -> tuple[ReadBlock, ...]:
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

    def _suspect(self, point: Point, code: int) -> None:
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
