"""A select entity's write that succeeds: choosing a state of a writable enum point writes it.

No demo profile has a writable enum point, and the simulator's BACnet controller has no
multi-state object, so the device here is a user's profile of a mode register served by the
simulator's fleet mode (``--fleet``, which serves the profiles of a folder of its own) over real
Modbus TCP on 127.0.0.1. A fresh connection of its own then reads the register back: the
simulator holds the state chosen, not only Home Assistant.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.lib.devices.modbus import ModbusDevice
from custom_components.microdc.lib.profile import load_profile_file
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnection
from tests.simulator_process import SimulatorProcess, start_simulator

PROFILE_ID = "test_plant_mode"
UNIT_ID = 1
STATES = ["auto", "heat_recovery", "reject"]
PROFILE: dict[str, Any] = {
    "manufacturer": "Test",
    "model": "Plant mode controller",
    "protocol": "modbus",
    "points": {
        "mode": {
            "table": "holding",
            "address": 0,
            "data_type": "enum",
            "labels": dict(enumerate(STATES)),
            "writable": True,
        },
        # A read-only enum beside it: a sensor, not a select (and not written).
        "season": {
            "table": "holding",
            "address": 1,
            "data_type": "enum",
            "labels": {0: "winter", 1: "summer"},
        },
    },
}

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def mode_controller(hass: HomeAssistant, tmp_path: Path) -> Generator[SimulatorProcess]:
    """The profile in <config>/microdc/profiles, and a simulator serving it (mode: auto)."""
    hass.config.config_dir = str(tmp_path)
    profiles = tmp_path / "microdc" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / f"{PROFILE_ID}.yaml").write_text(yaml.safe_dump(PROFILE), encoding="utf-8")
    fleet = {
        "name": "Mode controller",
        "profiles_dir": "microdc/profiles",
        "gateways": [
            {
                "devices": {
                    "plant": {
                        "unit_id": UNIT_ID,
                        "profile": PROFILE_ID,
                        "points": {"mode": {"value": 0}, "season": {"value": 1}},
                    }
                }
            }
        ],
    }
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet), encoding="utf-8")
    sim = start_simulator(extra_args=["--fleet", str(fleet_file)])
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def _port(sim: SimulatorProcess) -> int:
    return int(sim.ready["modbus"][0]["port"])  # a fleet lists its gateways


async def _reread(sim: SimulatorProcess, profile_dir: Path) -> dict[str, Any]:
    """The device's points as a new connection reads them now."""
    profile = load_profile_file(profile_dir / f"{PROFILE_ID}.yaml")
    connection = ModbusConnection(Endpoint("127.0.0.1", _port(sim)))
    try:
        return dict((await ModbusDevice(connection, UNIT_ID, profile).poll()).values)
    finally:
        await connection.close()


async def test_choosing_a_state_writes_it_to_the_device(
    hass: HomeAssistant, mode_controller: SimulatorProcess, tmp_path: Path
) -> None:
    sim = mode_controller
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="modesite",
        data={CONF_SITE_NAME: "Mode site"},
        subentries_data=[
            {
                "subentry_id": "plant",
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "Plant",
                "unique_id": f"127.0.0.1:{_port(sim)}:{UNIT_ID}",
                "data": {
                    "host": "127.0.0.1",
                    "port": _port(sim),
                    "unit_id": UNIT_ID,
                    "profile": PROFILE_ID,
                },
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    mode_id = registry.async_get_entity_id("select", DOMAIN, "plant_mode")
    assert mode_id is not None
    assert registry.async_get_entity_id("select", DOMAIN, "plant_season") is None
    state = hass.states.get(mode_id)
    assert state is not None
    assert (state.state, state.attributes["options"]) == ("auto", STATES)

    await hass.services.async_call(
        "select", "select_option", {ATTR_ENTITY_ID: mode_id, "option": "reject"}, blocking=True
    )

    # The entity shows the device's read-back, the simulator holds it for any client, and the
    # next poll keeps it; the read-only neighbour is untouched.
    state = hass.states.get(mode_id)
    assert state is not None
    assert state.state == "reject"
    profile_dir = tmp_path / "microdc" / "profiles"
    assert await _reread(sim, profile_dir) == {"mode": "reject", "season": "summer"}
    await entry.runtime_data.devices["plant"].async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(mode_id)
    assert state is not None
    assert state.state == "reject"

    await hass.services.async_call(
        "select",
        "select_option",
        {ATTR_ENTITY_ID: mode_id, "option": "heat_recovery"},
        blocking=True,
    )
    assert (await _reread(sim, profile_dir))["mode"] == "heat_recovery"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
