"""A small Modbus TCP peer for tests: pymodbus's own server on 127.0.0.1, restartable.

Unit 1 and 2 hold the same registers; unit 3 answers every request with gateway exception 11
(target device failed to respond); unit 4 never answers. Holding registers 10 and 11 do not
exist (illegal address), so a read through them fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
import threading
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType, SimData, SimDevice

from custom_components.microdc.lib.protocols.modbus import Endpoint, Framing

HOST = "127.0.0.1"
HOLDING = [1, 3, -125, 5, 4, 1, 6, 7, 8, 9]  # pymodbus stores registers signed: -125 = 0xFF83
HOLDING_AFTER_GAP = list(range(12, 20))  # registers 12..19
INPUT = [2, 0, 0, 0]
DISCRETE_INPUTS = [False, True] * 8

# A profile of that register map, as a user would write it.
TEST_PROFILE_YAML = """\
manufacturer: Test
model: T1
protocol: modbus
firmware_point: firmware
points:
  power: {table: holding, address: 0, data_type: u32, scale: 0.1, unit: W, role: it_power,
          device_class: power, state_class: measurement, precision: 1}
  temperature: {table: holding, address: 2, data_type: s16, scale: 0.1, unit: °C,
                role: inlet_temperature, device_class: temperature, state_class: measurement}
  energy: {table: holding, address: 3, data_type: u32, word_order: little, unit: Wh,
           role: it_energy, device_class: energy, state_class: total_increasing}
  mode: {table: holding, address: 5, data_type: enum, device_class: enum,
         labels: {0: idle, 1: run}}
  firmware: {table: holding, address: 6, data_type: u16, role: firmware_version,
             entity_category: diagnostic, enabled_by_default: false}
  after_gap: {table: holding, address: 12, data_type: u16}
  status: {table: input, address: 0, data_type: bitfield, role: ups_status,
           labels: {0: online, 1: on_battery, 2: low_battery, 5: fault}}
  door: {table: discrete_input, address: 1, data_type: bool, role: door_open}
"""
# A profile whose only point the device does not have.
WRONG_PROFILE_YAML = """\
manufacturer: Test
model: Wrong
protocol: modbus
points:
  nothing_here: {table: holding, address: 10, data_type: u16}
"""


def _unit(unit_id: int, action: Any = None) -> SimDevice:
    return SimDevice(
        unit_id,
        simdata=(
            [SimData(0, values=[False] * 16, datatype=SimType.BITS)],
            [SimData(0, values=DISCRETE_INPUTS, datatype=SimType.BITS)],
            [
                SimData(0, values=HOLDING, datatype=SimType.REGISTERS),
                SimData(12, values=HOLDING_AFTER_GAP, datatype=SimType.REGISTERS),
            ],
            [SimData(0, values=INPUT, datatype=SimType.REGISTERS)],
        ),
        action=action,
    )


async def _gateway_no_response(*_args: Any) -> ExcCodes:
    return ExcCodes.GATEWAY_NO_RESPONSE


class ModbusPeer:
    """A pymodbus server that can be stopped and started again on the same port."""

    def __init__(self, framer: FramerType = FramerType.SOCKET) -> None:
        self.framer = framer
        self.port = 0
        self.requests = 0
        self.connections = 0
        self.open_connections = 0
        self._server: ModbusTcpServer | None = None
        self._release_mute = asyncio.Event()
        # Holding registers to change while serving (address -> unsigned word), units 1 and 2.
        self.holding: dict[int, int] = {}

    async def _apply_holding(
        self,
        function_code: int,
        start_address: int,
        _address: int,
        _count: int,
        registers: list[int],
        _values: Any,
    ) -> None:
        """Write the test's register changes into the served holding block before a read."""
        if function_code != 3:
            return
        for address, word in self.holding.items():
            if 0 <= address - start_address < len(registers):
                registers[address - start_address] = word

    async def _mute(self, *_args: Any) -> None:
        """Unit 4 never answers (until the peer stops): a dead unit behind a gateway."""
        await self._release_mute.wait()

    def _count_pdu(self, sending: bool, pdu: Any) -> Any:
        if not sending:
            self.requests += 1
        return pdu

    def _count_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1
            self.open_connections += 1
        else:
            self.open_connections -= 1

    async def start(self) -> None:
        """Serve on the same port as before (a free one the first time)."""
        self._release_mute = asyncio.Event()
        devices = [
            _unit(1, action=self._apply_holding),
            _unit(2, action=self._apply_holding),
            _unit(3, action=_gateway_no_response),
            _unit(4, action=self._mute),
        ]
        self._server = ModbusTcpServer(
            devices,
            address=(HOST, self.port),
            framer=self.framer,
            trace_pdu=self._count_pdu,
            trace_connect=self._count_connect,
        )
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving and drop every client."""
        self._release_mute.set()
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    @property
    def endpoint(self) -> Endpoint:
        """Where a client finds this peer."""
        framing = Framing.TCP if self.framer is FramerType.SOCKET else Framing.RTU_OVER_TCP
        return Endpoint(HOST, self.port, framing)


class ModbusPeerThread:
    """A ModbusPeer on its own event loop in a thread.

    Home Assistant tests travel in time with async_fire_time_changed, which runs every timer of
    the test's loop that falls due, the server's own included; a peer on another loop keeps
    real time.
    """

    def __init__(self) -> None:
        self.peer = ModbusPeer()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="modbus peer", daemon=True
        )
        self._thread.start()

    async def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def start(self) -> None:
        """Serve (again, on the same port)."""
        await self._call(self.peer.start())

    async def stop(self) -> None:
        """Stop serving."""
        await self._call(self.peer.stop())

    async def close(self) -> None:
        """Stop serving and end the thread."""
        await self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._loop.close()

    @property
    def port(self) -> int:
        """The port it serves on."""
        return self.peer.port

    @property
    def holding(self) -> dict[int, int]:
        """Holding registers to change while serving (a dict: safe to update across threads)."""
        return self.peer.holding

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        return self.peer.connections

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return self.peer.open_connections
