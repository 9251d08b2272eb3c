"""Every entity of the demo site, per platform, against a snapshot (as core's platinum
integrations test theirs): a change to any entity's name, unit, device class, category or state
shows here.

The demo site is all four Modbus devices of the simulator's gateway and its BACnet controller
with the roles a commissioning engineer would give, plus the heat destinations; a simulator of
its own, held still, serves the same values on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.microdc import heat_accounting
from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from tests.ha.bacnet_site import BACNET_OPTIONS, demo_objects, device_subentry
from tests.simulator_process import SimulatorProcess

ROLES = {
    "analog-input,1": "loop_supply_temperature",
    "analog-input,2": "loop_return_temperature",
    "analog-input,3": "loop_flow",
    "analog-input,4": "outdoor_temperature",
    "analog-input,5": "space_temperature",
    "analog-input,6": "space_temperature",
    "analog-input,7": "space_temperature",
    "analog-output,1": "valve_position",
    "analog-output,2": "valve_position",
    "analog-output,3": "valve_position",
    "analog-output,4": "valve_position",
    "analog-output,5": "valve_position",
    "binary-input,1": "occupancy",
    "binary-output,1": "pump_command",
}
MODBUS = {"pdu": ("demo_rack_pdu", 1), "ups": ("demo_ups", 2), "env": ("demo_environment", 3)}
MODBUS |= {"meter": ("demo_heat_meter", 4)}
FIXED_NOW = 1_768_471_200.0  # 2026-01-15 10:00 UTC
VALVES = {"stockroom": 1, "tenant_a": 2, "tenant_b": 3, "shared_loop": 4}

pytestmark = pytest.mark.usefixtures("socket_enabled", "entity_registry_enabled_by_default")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Home Assistant's serializer: ids and times that change on every run are left out."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Entities disabled by default (firmware, outlets) are enabled: all go in the snapshot."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


def _demo_site(sim: SimulatorProcess) -> MockConfigEntry:
    modbus: list[Any] = [
        {
            "subentry_id": subentry_id,
            "subentry_type": SUBENTRY_MODBUS_DEVICE,
            "title": profile,
            "unique_id": f"127.0.0.1:{sim.modbus_port}:{unit}",
            "data": {
                "host": "127.0.0.1",
                "port": sim.modbus_port,
                "unit_id": unit,
                "profile": profile,
            },
        }
        for subentry_id, (profile, unit) in MODBUS.items()
    ]
    controller = {
        **device_subentry(sim, objects=demo_objects(ROLES), scan_interval_s=30, cov=False),
        "subentry_id": "controller",
    }
    destinations = [
        {
            "subentry_id": name,
            "subentry_type": SUBENTRY_HEAT_DESTINATION,
            "title": name.replace("_", " ").title(),
            "unique_id": None,
            "data": {
                "kind": "tenant" if name.startswith("tenant") else name,
                "valves": [f"controller/analog-output_{instance}"],
                "branch_meter": None,
            },
        }
        for name, instance in VALVES.items()
    ]
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id="demo",
        title="Demo",
        unique_id="demo",
        data={CONF_SITE_NAME: "Demo"},
        options=BACNET_OPTIONS,
        subentries_data=[*modbus, controller, *destinations],
    )


@pytest.mark.parametrize(
    "platform",
    [
        Platform.SENSOR,
        Platform.BINARY_SENSOR,
        Platform.NUMBER,
        Platform.SWITCH,
        Platform.SELECT,
        Platform.VALVE,
    ],
)
async def test_platform_snapshot(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    simulator_factory: Callable[..., SimulatorProcess],
    monkeypatch: pytest.MonkeyPatch,
    platform: Platform,
) -> None:
    # The heat ledgers' and the router's clock, held still: the routing sensor says since when.
    monkeypatch.setattr(heat_accounting, "utc_timestamp", lambda: FIXED_NOW)
    entry = _demo_site(simulator_factory())
    entry.add_to_hass(hass)
    with patch("custom_components.microdc.PLATFORMS", [platform]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        # The integration disabled the routed valves' own entities; the engineer enables
        # them on purpose (they stay enabled), so that they are in the snapshot too.
        disabled = [
            e
            for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
            if e.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        ]
        # The five valves, by their valve entities and their (spare) numbers.
        assert bool(disabled) == (platform in {Platform.NUMBER, Platform.VALVE})
        for e in disabled:
            entity_registry.async_update_entity(e.entity_id, disabled_by=None)
        if disabled:
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
