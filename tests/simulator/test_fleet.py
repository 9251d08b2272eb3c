"""The simulator's fleet mode (many devices in one process), as a real process on 127.0.0.1.

A small generated plant room (benchmarks/plant_room.py): two gateways with two units each and
one BACnet controller. microdc's own Modbus device reads a unit behind the second gateway; the
control API changes a quantity and the next read shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.plant_room import PROFILE_ID, PlantRoom, write_plant_room
from custom_components.microdc.lib.devices.modbus import ModbusDevice
from custom_components.microdc.lib.profile import load_profile_file
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnection
from tests.simulator_process import SimulatorProcess, start_simulator


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[SimulatorProcess, PlantRoom]]:
    room = write_plant_room(
        tmp_path, gateways=2, units_per_gateway=2, points=20, controllers=1, objects=10
    )
    sim = start_simulator(extra_args=["--fleet", str(room.fleet_file)])
    try:
        yield sim, room
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def _quantity(state: dict[str, Any], name: str) -> float:
    return float(state["quantities"][name])


async def test_fleet_serves_every_gateway_and_takes_new_values(
    socket_enabled: None, fleet: tuple[SimulatorProcess, PlantRoom]
) -> None:
    sim, room = fleet
    ready = sim.ready
    assert len(ready["modbus"]) == 2
    assert len({g["port"] for g in ready["modbus"]}) == 2
    assert [c["device_instance"] for c in ready["bacnet"]] == list(room.bacnet_devices)
    profile = load_profile_file(room.profiles_dir / f"{PROFILE_ID}.yaml")
    connection = ModbusConnection(Endpoint("127.0.0.1", int(ready["modbus"][1]["port"])))
    device = ModbusDevice(connection, 2, profile)
    try:
        first = await device.poll()
        state = await sim.async_state()
        assert first.values["h000"] == pytest.approx(_quantity(state, "meter-2-02.h000"))
        assert first.values["i000"] == pytest.approx(_quantity(state, "meter-2-02.i000"))
        # Every request went to the second gateway, one per planned block.
        assert state["requests"]["modbus"][0]["total"] == 0
        assert state["requests"]["modbus"][1]["total"] == len(device.plan)

        status, answer = await sim.async_request(
            "POST", "/quantities", {"values": {"meter-2-02.h000": 231.5}}
        )
        assert (status, answer) == (200, {"applied": 1})
        second = await device.poll()
        assert second.values["h000"] == pytest.approx(231.5)
        status, answer = await sim.async_request("POST", "/quantities", {"values": {"no-such": 1}})
        assert status == 400
        assert "no-such" in answer["error"]
    finally:
        await connection.close()
