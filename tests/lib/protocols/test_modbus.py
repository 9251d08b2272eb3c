"""The Modbus transport against a real pymodbus server on 127.0.0.1.

The peer is pymodbus's own server (an independent implementation of the server side), started
inside each test on a free port. Faults the server cannot produce (a peer that accepts and never
answers) come from a plain TCP listener, also real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
import logging
import socket
from types import MappingProxyType
from typing import Any, override

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
import pytest

from custom_components.microdc.lib.devices.modbus import ModbusDevice, ModbusDeviceError, PollResult
from custom_components.microdc.lib.profile import (
    DataType,
    Profile,
    RegisterPoint as Point,
    WordOrder,
)
from custom_components.microdc.lib.protocols.modbus import (
    Endpoint,
    ModbusConnectError,
    ModbusConnection,
    ModbusConnectionPool,
    ModbusExceptionCodeError,
    ModbusTimeoutError,
    ModbusUnitNotAnsweringError,
    Table,
)
from tests.modbus_peer import HOST, ModbusPeer as Peer


async def poll_cause(device: ModbusDevice) -> PollResult:
    """Poll, raising the transport's own error (the device wraps it in a DeviceError)."""
    try:
        return await device.poll()
    except ModbusDeviceError as err:
        raise err.cause from err


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant instance needed here (overrides the suite's autouse fixture)."""


def _point(key: str, table: Table, address: int, data_type: DataType, **kwargs: Any) -> Point:
    if "labels" in kwargs:
        kwargs["labels"] = MappingProxyType(kwargs["labels"])
    return Point(key=key, table=table, address=address, data_type=data_type, **kwargs)


# Holding registers 0..9 and 12..19 exist; 10 and 11 do not (illegal address).
PROFILE = Profile(
    profile_id="test_device",
    manufacturer="Test",
    model="T1",
    protocol="modbus",
    points=MappingProxyType(
        {
            p.key: p
            for p in (
                _point("power", Table.HOLDING, 0, DataType.U32, scale=0.1),
                _point("temperature", Table.HOLDING, 2, DataType.S16, scale=0.1),
                _point("energy", Table.HOLDING, 3, DataType.U32, word_order=WordOrder.LITTLE),
                _point("mode", Table.HOLDING, 5, DataType.ENUM, labels={0: "idle", 1: "run"}),
                _point("missing", Table.HOLDING, 10, DataType.U16),
                _point("after_gap", Table.HOLDING, 12, DataType.U16),
                _point("status", Table.INPUT, 0, DataType.BITFIELD, labels={0: "ok", 1: "alarm"}),
                _point("door", Table.DISCRETE_INPUT, 1, DataType.BOOL),
                _point("relay", Table.COIL, 0, DataType.BOOL),
            )
        }
    ),
)
GOOD_VALUES = {
    "power": 6553.9,  # 0x0001_0003 * 0.1
    "temperature": -12.5,
    "energy": 0x0004_0005,
    "mode": "run",
    "after_gap": 12,
    "status": frozenset({"alarm"}),
    "door": True,
    "relay": False,
}


@pytest.fixture
async def peer(socket_enabled: None) -> AsyncGenerator[Peer]:
    server = Peer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def silent_peer(socket_enabled: None) -> AsyncGenerator[int]:
    """Accepts connections and reads requests but never answers: a half-open peer."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(256):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, HOST, 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def _until(
    condition: Callable[[], Awaitable[bool]], deadline_s: float = 10.0, pause_s: float = 0.05
) -> None:
    """Poll a condition with a deadline (a retry loop, not a sleep used as synchronisation)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not await condition():
        assert loop.time() < end, "condition not met before the deadline"
        await asyncio.sleep(pause_s)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


async def test_poll_reads_every_table_in_few_requests(peer: Peer) -> None:
    good = {k: p for k, p in PROFILE.points.items() if k != "missing"}
    profile = Profile("good", "Test", "T1", "modbus", MappingProxyType(good))
    connection = ModbusConnection(peer.endpoint, timeout=2)
    # A gap of 3 keeps the read clear of the unmapped registers 10 and 11.
    device = ModbusDevice(connection, 1, profile, max_gap=3)
    try:
        result = await poll_cause(device)
    finally:
        await connection.close()
    assert dict(result.values) == GOOD_VALUES
    # 8 points in 5 requests: holding 0..5, holding 12, input 0, coil 0, discrete input 1.
    assert [(b.table, b.address, b.count) for b in device.plan] == [
        (Table.HOLDING, 0, 6),
        (Table.HOLDING, 12, 1),
        (Table.INPUT, 0, 1),
        (Table.COIL, 0, 1),
        (Table.DISCRETE_INPUT, 1, 1),
    ]
    assert result.statistics.requests == 5 == peer.requests
    assert result.statistics.errors == 0
    assert result.skipped == frozenset()


async def test_bad_register_is_split_out_and_skipped(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    connection = ModbusConnection(peer.endpoint, timeout=2)
    device = ModbusDevice(connection, 1, PROFILE, max_gap=8)
    try:
        first = await poll_cause(device)
        requests_after_first = peer.requests
        second = await poll_cause(device)
    finally:
        await connection.close()

    assert first.values["missing"] is None
    assert first.skipped == second.skipped == frozenset({"missing"})
    assert {k: v for k, v in first.values.items() if k != "missing"} == GOOD_VALUES
    assert dict(second.values) == dict(first.values)
    assert first.statistics.errors > 0
    # The plan learned: the second poll reads only blocks that work, without errors.
    assert second.statistics.errors == 0
    assert second.statistics.requests == len(device.plan) == peer.requests - requests_after_first
    assert all("missing" not in [p.key for p in b.points] for b in device.plan)
    skips = [r for r in caplog.records if "skipping point missing" in r.getMessage()]
    assert len(skips) == 1


async def test_devices_behind_one_endpoint_share_one_socket(peer: Peer) -> None:
    pool = ModbusConnectionPool()
    first = pool.acquire(peer.endpoint, timeout=1)
    second = pool.acquire(peer.endpoint, timeout=2)
    assert first is second
    assert first.timeout == 1  # a later user's timeout does not change the first's
    assert pool.users(peer.endpoint) == 2
    good = {k: p for k, p in PROFILE.points.items() if k != "missing"}
    profile = Profile("good", "Test", "T1", "modbus", MappingProxyType(good))
    unit1 = ModbusDevice(first, 1, profile)
    unit2 = ModbusDevice(second, 2, profile)

    results = await asyncio.gather(*(unit1.poll(), unit2.poll(), unit1.poll(), unit2.poll()))

    assert all(dict(r.values) == GOOD_VALUES for r in results)
    assert peer.connections == 1
    assert first.connects == 1

    await pool.release(first)
    assert pool.users(peer.endpoint) == 1
    assert second.connected  # still in use by unit 2
    assert dict((await poll_cause(unit2)).values) == GOOD_VALUES

    assert peer.open_connections == 1
    await pool.release(second)
    assert pool.users(peer.endpoint) == 0
    assert not second.connected

    async def server_sees_it_closed() -> bool:
        return peer.open_connections == 0

    await _until(server_sees_it_closed)
    with pytest.raises(ModbusConnectError, match="closed"):
        await poll_cause(unit2)
    with pytest.raises(ValueError, match="not a connection of this pool"):
        await pool.release(second)
    # A new user after the last release gets a new connection.
    third = pool.acquire(peer.endpoint)
    assert third is not first
    await pool.release(third)


async def test_reconnects_after_the_server_restarts(
    peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.microdc.lib")
    connection = ModbusConnection(peer.endpoint, timeout=1, backoff_initial=0.05, backoff_max=0.2)
    device = ModbusDevice(connection, 1, PROFILE, name="rack pdu")
    try:
        assert (await poll_cause(device)).values["power"] == GOOD_VALUES["power"]
        await peer.stop()
        for _ in range(3):  # unavailable while the server is down; logged once
            with pytest.raises((ModbusConnectError, ModbusTimeoutError)):
                await poll_cause(device)
        await peer.start()

        async def polls() -> bool:
            try:
                await poll_cause(device)
            except ModbusConnectError:
                return False
            return True

        await _until(polls)
        assert (await poll_cause(device)).values["power"] == GOOD_VALUES["power"]
    finally:
        await connection.close()
    assert connection.connects == 2
    # The transport leaves reporting the outage to its caller (the coordinator logs it once);
    # only the profile's unmapped point is its own news.
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("custom_components.microdc.lib.") and r.levelno >= logging.INFO
    ] == [
        "rack pdu: skipping point missing (holding 10): the device answers exception code 2; "
        "it is tried again every 60 polls"
    ]


async def test_connect_backoff_doubles_up_to_its_cap(socket_enabled: None) -> None:
    now = [0.0]
    connection = ModbusConnection(
        Endpoint(HOST, _free_port()),
        timeout=1,
        backoff_initial=1,
        backoff_max=4,
        clock=lambda: now[0],
    )
    waits = []
    for _ in range(5):
        with pytest.raises(ModbusConnectError, match="cannot connect"):
            await connection.read(1, Table.HOLDING, 0, 1)
        waits.append(connection.backoff)
        # Within the back-off a request fails at once, without a connect attempt.
        now[0] += connection.backoff / 2
        with pytest.raises(ModbusConnectError, match="next attempt in"):
            await connection.read(1, Table.HOLDING, 0, 1)
        now[0] += connection.backoff / 2
    assert waits == [1, 2, 4, 4, 4]
    await connection.close()


async def test_half_open_peer_times_out_and_drops_the_socket(silent_peer: int) -> None:
    connection = ModbusConnection(Endpoint(HOST, silent_peer), timeout=0.3)
    with pytest.raises(ModbusTimeoutError):
        await connection.read(1, Table.HOLDING, 0, 1)
    assert not connection.connected  # the next request starts a fresh socket
    with pytest.raises(ModbusTimeoutError):
        await connection.read(1, Table.HOLDING, 0, 1)
    assert connection.connects == 2
    await connection.close()


async def test_cancelled_poll_is_cancelled_not_an_error(silent_peer: int) -> None:
    connection = ModbusConnection(Endpoint(HOST, silent_peer), timeout=30)
    device = ModbusDevice(connection, 1, PROFILE)
    task = asyncio.create_task(device.poll())
    await _until(lambda: asyncio.sleep(0, result=connection.connected))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await connection.close()


async def test_unit_that_does_not_answer(peer: Peer) -> None:
    connection = ModbusConnection(peer.endpoint, timeout=0.3)
    try:
        with pytest.raises(ModbusTimeoutError):
            await poll_cause(ModbusDevice(connection, 4, PROFILE))
        # The connection still serves the units that answer.
        assert (await poll_cause(ModbusDevice(connection, 2, PROFILE))).values["mode"] == "run"
    finally:
        await connection.close()


async def test_exception_codes_are_typed(peer: Peer) -> None:
    connection = ModbusConnection(peer.endpoint, timeout=2)
    try:
        # pymodbus's server answers "device failure" (4) for a unit it does not have.
        with pytest.raises(ModbusExceptionCodeError) as caught:
            await poll_cause(ModbusDevice(connection, 9, PROFILE))
        assert caught.value.code == 4
        # A gateway whose target does not respond (11).
        with pytest.raises(ModbusUnitNotAnsweringError) as gateway:
            await poll_cause(ModbusDevice(connection, 3, PROFILE))
        assert gateway.value.code == 11
    finally:
        await connection.close()


async def test_rtu_over_tcp_framing(socket_enabled: None) -> None:
    server = Peer(framer=FramerType.RTU)
    await server.start()
    connection = ModbusConnection(server.endpoint, timeout=2)
    try:
        result = await poll_cause(ModbusDevice(connection, 1, PROFILE))
    finally:
        await connection.close()
        await server.stop()
    assert {k: v for k, v in result.values.items() if k != "missing"} == GOOD_VALUES


async def test_peer_closing_mid_request_is_a_lost_connection(socket_enabled: None) -> None:
    """A peer that reads the request and hangs up (a gateway rebooting) is not a timeout."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(256)
        writer.close()

    server = await asyncio.start_server(hang_up, HOST, 0)
    connection = ModbusConnection(Endpoint(HOST, server.sockets[0].getsockname()[1]), timeout=5)
    try:
        with pytest.raises(ModbusConnectError, match="connection lost"):
            await connection.read(1, Table.HOLDING, 0, 1)
        assert not connection.connected
    finally:
        await connection.close()
        server.close()
        await server.wait_closed()


class RefusingPeer(Peer):
    """The peer, answering "illegal data address" for reads touching chosen holding registers
    (a device that refuses registers while it boots)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[int] = set()

    @override
    async def _apply_holding(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: Any,
    ) -> Any:
        if function_code == 3 and any(address <= a < address + count for a in self.refuse):
            return ExcCodes.ILLEGAL_ADDRESS
        return await super()._apply_holding(
            function_code, start_address, address, count, registers, values
        )


@pytest.fixture
async def refusing_peer(socket_enabled: None) -> AsyncGenerator[RefusingPeer]:
    server = RefusingPeer()
    await server.start()
    yield server
    await server.stop()


HOLDING_ONLY = Profile(
    "holding_only",
    "Test",
    "T1",
    "modbus",
    MappingProxyType(
        {k: p for k, p in PROFILE.points.items() if p.table is Table.HOLDING and k != "missing"}
    ),
)


async def test_a_refused_point_is_tried_again_and_rejoins_the_plan(
    refusing_peer: RefusingPeer,
) -> None:
    refusing_peer.refuse = {2}  # temperature
    connection = ModbusConnection(refusing_peer.endpoint, timeout=2)
    device = ModbusDevice(connection, 1, HOLDING_ONLY, max_gap=3, reprobe_polls=2)
    try:
        first = await poll_cause(device)
        assert first.skipped == {"temperature"}
        assert first.values["temperature"] is None
        assert first.values["power"] == GOOD_VALUES["power"]
        # Not due yet: the next poll reads the plan only, the suspect stays out.
        second = await poll_cause(device)
        assert second.statistics.requests == len(device.plan)
        assert second.skipped == {"temperature"}
        refusing_peer.refuse.clear()  # the device has finished booting
        blocks = len(device.plan)
        third = await poll_cause(device)  # the second poll after the refusal re-reads it alone
        assert third.statistics.requests == blocks + 1
        assert third.skipped == frozenset()
        assert third.values["temperature"] == GOOD_VALUES["temperature"]
        # Nothing is suspect any more: the merged plan is back.
        fourth = await poll_cause(device)
        assert [(b.address, b.count) for b in device.plan] == [(0, 6), (12, 1)]
        assert fourth.statistics.requests == 2
        assert dict(fourth.values) == {
            k: v for k, v in GOOD_VALUES.items() if k in HOLDING_ONLY.points
        }
    finally:
        await connection.close()


async def test_a_suspect_still_refused_waits_another_round(
    refusing_peer: RefusingPeer,
) -> None:
    refusing_peer.refuse = {12}  # after_gap
    connection = ModbusConnection(refusing_peer.endpoint, timeout=2)
    device = ModbusDevice(connection, 1, HOLDING_ONLY, max_gap=3, reprobe_polls=2)
    try:
        await poll_cause(device)
        plan = device.plan
        requests = [(await poll_cause(device)).statistics.requests for _ in range(4)]
        # Re-read alone every second poll, refused each time; the plan stays tight.
        assert requests == [len(plan), len(plan) + 1, len(plan), len(plan) + 1]
        assert device.skipped == {"after_gap"}
        assert device.plan == plan
    finally:
        await connection.close()


async def test_a_poll_with_every_read_refused_fails_and_skips_nothing(
    refusing_peer: RefusingPeer,
) -> None:
    refusing_peer.refuse = set(range(20))  # everything, as a device still starting up
    connection = ModbusConnection(refusing_peer.endpoint, timeout=2)
    device = ModbusDevice(connection, 1, HOLDING_ONLY, max_gap=3)
    plan = device.plan
    try:
        with pytest.raises(ModbusExceptionCodeError) as caught:
            await poll_cause(device)
        assert caught.value.code == 2
        assert device.skipped == frozenset()
        assert device.plan == plan
        refusing_peer.refuse.clear()
        result = await poll_cause(device)
        assert result.skipped == frozenset()
        assert result.values["after_gap"] == GOOD_VALUES["after_gap"]
    finally:
        await connection.close()


async def test_each_device_reads_with_its_own_timeout(silent_peer: int) -> None:
    """A device's timeout goes with its requests; the shared connection's stays as it was."""
    connection = ModbusConnection(Endpoint(HOST, silent_peer), timeout=60)
    device = ModbusDevice(connection, 1, PROFILE, timeout=0.2)
    try:
        async with asyncio.timeout(20):  # a deadline: with the connection's 60 s it would fail
            with pytest.raises(ModbusTimeoutError):
                await poll_cause(device)
    finally:
        await connection.close()
    assert connection.timeout == 60


async def test_a_probe_connects_while_the_connection_backs_off(peer: Peer) -> None:
    now = [0.0]
    connection = ModbusConnection(
        peer.endpoint, timeout=2, backoff_initial=60, clock=lambda: now[0]
    )
    site_device = ModbusDevice(connection, 1, PROFILE)
    probe = ModbusDevice(connection, 2, PROFILE, probe=True)
    try:
        await peer.stop()
        with pytest.raises(ModbusConnectError, match="cannot connect"):
            await poll_cause(site_device)
        await peer.start()  # back, but the site's connection waits out its 60 s
        with pytest.raises(ModbusConnectError, match="next attempt in"):
            await poll_cause(site_device)
        # The user adding a device waits on a form: the probe tries now, and succeeds.
        assert (await poll_cause(probe)).values["mode"] == "run"
        assert connection.backoff == 0
        assert (await poll_cause(site_device)).values["mode"] == "run"  # and the site is back too
    finally:
        await connection.close()


async def test_unchanged_registers_keep_their_reading(peer: Peer) -> None:
    """A point whose registers did not change since the last poll is not decoded again: the
    poll hands over the same Reading; a changed register gives a new one with its value."""
    good = {k: p for k, p in PROFILE.points.items() if k != "missing"}
    profile = Profile("good", "Test", "T1", "modbus", MappingProxyType(good))
    connection = ModbusConnection(peer.endpoint, timeout=2)
    device = ModbusDevice(connection, 1, profile, max_gap=3)
    try:
        first = await poll_cause(device)
        peer.holding[2] = 0x0064  # temperature 10.0 °C
        second = await poll_cause(device)
    finally:
        await connection.close()
    assert second.values == {**GOOD_VALUES, "temperature": 10.0}
    for key in good:
        if key == "temperature":
            assert second.readings[key] is not first.readings[key]
        else:
            assert second.readings[key] is first.readings[key], key
