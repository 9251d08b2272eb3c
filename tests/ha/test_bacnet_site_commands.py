"""A site relinquishes only what it commanded: two sites on the simulator's one controller."""

from __future__ import annotations

from typing import Any

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN
from custom_components.microdc.lib.devices.bacnet_config import object_key
from custom_components.microdc.lib.protocols.bacnet import BacnetNetwork, ObjectId
from custom_components.microdc.settings import BacnetSiteSettings
from tests.ha.bacnet_site import (
    BACNET_OPTIONS,
    INSTANCE,
    WRITE_PRIORITY,
    coordinator_of,
    device_subentry,
    entity_id_of,
    held,
    setup_site,
    sim_command,
)
from tests.simulator_process import SimulatorProcess


def _key(object_id: str) -> str:
    """The point key of an object (its entities' unique ids end with it)."""
    return object_key(ObjectId.parse(object_id))


pytestmark = pytest.mark.usefixtures("socket_enabled")

SLOT = WRITE_PRIORITY - 1
VALVE = "analog-output,1"
TENANT_VALVE = "analog-output,2"
SCAN_S = 600


async def _slot(simulator: SimulatorProcess, object_id: str) -> Any:
    return sim_command(await simulator.async_state(), object_id)["priority_array"][SLOT]


async def _write_outside(simulator: SimulatorProcess, object_id: str, value: float | None) -> None:
    """A command at microdc's priority by another client (or a previous run); None relinquishes."""
    network = await BacnetNetwork.acquire(BacnetSiteSettings.from_options(BACNET_OPTIONS).network)
    try:
        client = network.device(f"{simulator.host}:{simulator.bacnet_port}", INSTANCE)
        if value is None:
            await client.relinquish(ObjectId.parse(object_id), WRITE_PRIORITY)
        else:
            await client.write_present_value(ObjectId.parse(object_id), value, WRITE_PRIORITY)
        await client.close()
    finally:
        await network.release()


async def test_removing_one_site_keeps_the_other_sites_command(
    hass: HomeAssistant, simulator: SimulatorProcess, hass_storage: dict[str, Any]
) -> None:
    site_a = await setup_site(
        hass, device_subentry(simulator, scan_interval_s=SCAN_S), name="Site A"
    )
    await hass.services.async_call(
        "number",
        "set_value",
        {ATTR_ENTITY_ID: entity_id_of(hass, site_a, "number", VALVE), "value": 50},
        blocking=True,
    )
    assert await _slot(simulator, VALVE) == 50.0
    # Saved at once: a crash now would not make the command anonymous.
    record = hass_storage[f"{DOMAIN}.commands.{site_a.entry_id}"]["data"]
    device_id = next(iter(site_a.subentries))
    assert record == {"commands": {device_id: {_key(VALVE): {str(WRITE_PRIORITY): 50.0}}}}

    site_b = await setup_site(
        hass, device_subentry(simulator, scan_interval_s=SCAN_S), name="Site B"
    )
    assert held(coordinator_of(site_b)) == set()  # the slot holds A's command, not B's
    assert await hass.config_entries.async_remove(site_b.entry_id)
    await hass.async_block_till_done()
    assert await _slot(simulator, VALVE) == 50.0
    assert f"{DOMAIN}.commands.{site_b.entry_id}" not in hass_storage

    assert await hass.config_entries.async_remove(site_a.entry_id)
    await hass.async_block_till_done()
    assert await _slot(simulator, VALVE) is None


async def test_a_restart_adopts_only_this_sites_commands(
    hass: HomeAssistant, simulator: SimulatorProcess, hass_storage: dict[str, Any]
) -> None:
    """Home Assistant stops without unloading: the next start finds the commands in place.

    The previous run is played by a record in storage and the commands it left on the device.
    The tenant valve's slot holds a value this site never wrote (the record says 30): another
    client overwrote it since, so it is not this site's to give back.
    """
    await _write_outside(simulator, VALVE, 50.0)
    await _write_outside(simulator, TENANT_VALVE, 45.0)
    await _write_outside(simulator, "analog-output,3", 20.0)  # nobody's record
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="site_a",
        unique_id="site_a",
        title="Site A",
        data={CONF_SITE_NAME: "Site A"},
        options=BACNET_OPTIONS,
        subentries_data=[device_subentry(simulator, scan_interval_s=SCAN_S)],
    )
    device_id = next(iter(entry.subentries))
    hass_storage[f"{DOMAIN}.commands.site_a"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.commands.site_a",
        "data": {
            "commands": {
                device_id: {
                    _key(VALVE): {str(WRITE_PRIORITY): 50.0},
                    _key(TENANT_VALVE): {str(WRITE_PRIORITY): 30.0},
                }
            }
        },
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert held(coordinator_of(entry)) == {VALVE}

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert await _slot(simulator, VALVE) is None
    assert await _slot(simulator, TENANT_VALVE) == 45.0
    assert await _slot(simulator, "analog-output,3") == 20.0
    # The simulator serves the whole session: give the other client's commands back.
    await _write_outside(simulator, TENANT_VALVE, None)
    await _write_outside(simulator, "analog-output,3", None)
