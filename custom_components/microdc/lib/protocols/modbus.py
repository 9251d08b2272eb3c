"""Modbus transport on pymodbus 3.13: shared connections, block reads, faults survived.

No Home Assistant imports; everything is async and nothing blocks the event loop.

- ModbusConnection: one socket to one endpoint (host, port, framing), shared by every device
  behind it (a gateway with several unit ids). Requests are serialised with a lock. After a
  timeout or a lost socket the connection is dropped and rebuilt on the next request; failed
  connects back off exponentially up to a cap, without sleeping: a request during the back-off
  fails at once with ModbusConnectError.
- ModbusConnectionPool: hands out connections by endpoint, reference counted; the last release
  closes the socket.

It moves words and bits; what they mean (profiles, decoding, roles) is lib/devices' business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
import logging
import time

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0  # seconds per request
# pymodbus's own request timeout: far above any of ours (the flow allows up to 60 s), so
# that ours always fire first and pymodbus neither logs each lost answer nor counts them
# towards closing the socket itself.
_LIBRARY_TIMEOUT = 120.0
DEFAULT_BACKOFF_INITIAL = 1.0  # seconds before the first reconnect attempt after a failure
DEFAULT_BACKOFF_MAX = 60.0

# Modbus exception codes (Modbus application protocol v1.1b3, section 7).
ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
GATEWAY_PATH_UNAVAILABLE = 10
GATEWAY_TARGET_NO_RESPONSE = 11


class Table(StrEnum):
    """A Modbus data table."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"

    @property
    def is_bits(self) -> bool:
        """Whether the table holds single bits rather than 16-bit registers."""
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def is_writable(self) -> bool:
        """Whether the protocol has write functions for the table (holding registers, coils)."""
        return self in (Table.HOLDING, Table.COIL)


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
        match table:
            case Table.HOLDING:
                request = self._reader(lambda c: c.read_holding_registers)
            case Table.INPUT:
                request = self._reader(lambda c: c.read_input_registers)
            case Table.COIL:
                request = self._reader(lambda c: c.read_coils)
            case Table.DISCRETE_INPUT:
                request = self._reader(lambda c: c.read_discrete_inputs)
        response = await self._request(
            unit_id,
            lambda client: request(client, address, count, unit_id),
            f"reading {table} {address}+{count}",
            timeout_s=timeout_s,
            ignore_backoff=ignore_backoff,
        )
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

    async def write(
        self,
        unit_id: int,
        table: Table,
        address: int,
        values: Sequence[int] | Sequence[bool],
        *,
        timeout_s: float | None = None,
    ) -> None:
        """Write registers (function 16) or coils (function 5, or 15 for several) of one unit."""
        if not table.is_writable:
            raise ModbusProtocolError(f"{self.endpoint}: the {table} table cannot be written")
        if not values:
            raise ModbusProtocolError(f"{self.endpoint}: nothing to write")
        if table is Table.COIL:
            bits = [bool(value) for value in values]

            def send(client: AsyncModbusTcpClient) -> Awaitable[ModbusPDU]:
                if len(bits) == 1:
                    return client.write_coil(address, bits[0], device_id=unit_id)
                return client.write_coils(address, bits, device_id=unit_id)

        else:
            words = [int(value) for value in values]
            if any(not 0 <= word <= 0xFFFF for word in words):
                raise ModbusProtocolError(f"{self.endpoint}: a register holds 0..65535")

            def send(client: AsyncModbusTcpClient) -> Awaitable[ModbusPDU]:
                return client.write_registers(address, words, device_id=unit_id)

        await self._request(
            unit_id, send, f"writing {table} {address}+{len(values)}", timeout_s=timeout_s
        )

    @staticmethod
    def _reader(
        pick: Callable[[AsyncModbusTcpClient], Callable[..., Awaitable[ModbusPDU]]],
    ) -> Callable[[AsyncModbusTcpClient, int, int, int], Awaitable[ModbusPDU]]:
        def request(
            client: AsyncModbusTcpClient, address: int, count: int, unit_id: int
        ) -> Awaitable[ModbusPDU]:
            return pick(client)(address, count=count, device_id=unit_id)

        return request

    async def _request(
        self,
        unit_id: int,
        send: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]],
        what: str,
        *,
        timeout_s: float | None = None,
        ignore_backoff: bool = False,
    ) -> ModbusPDU:
        """Send one request and return its answer; exception answers raise."""
        if self._closed:
            raise ModbusConnectError(f"{self.endpoint}: connection closed")
        timeout_s = self.timeout if timeout_s is None else timeout_s
        async with self._lock:
            client = await self._connect(timeout_s, ignore_backoff)
            response = await self._execute(client, unit_id, send, timeout_s=timeout_s)
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", 0)
            message = f"{self.endpoint} unit {unit_id}: exception code {code} {what}"
            if code in (GATEWAY_PATH_UNAVAILABLE, GATEWAY_TARGET_NO_RESPONSE):
                raise ModbusUnitNotAnsweringError(code, message)
            raise ModbusExceptionCodeError(code, message)
        return response

    async def _execute(
        self,
        client: AsyncModbusTcpClient,
        unit_id: int,
        send: Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]],
        *,
        timeout_s: float,
    ) -> ModbusPDU:
        lost = self._lost
        answer = asyncio.ensure_future(send(client))
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
