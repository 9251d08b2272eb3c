"""A site set up by microdc 0.1.0 keeps its entities, devices and totals after the upgrade.

fixtures/site_0_1_0.json is what microdc 0.1.0 (the last release: two stacks, before the
device model) left behind on the demo site: its config entry with every kind of subentry, its
entity and device registry entries and its heat ledger's Store, after two routings over BACnet.
It was produced by running 0.1.0 itself against the simulator; the simulator's ports are
placeholders (MODBUS_PORT, BACNET_PORT) filled in with the test simulator's.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import DOMAIN
from custom_components.microdc.routed_entities import DISABLED_BY_ROUTER_OPTION
from tests.simulator_process import SimulatorProcess

FIXTURE = Path(__file__).parent / "fixtures" / "site_0_1_0.json"
ENTRY_ID = "site010"
# How far the simulator had run when 0.1.0 saved its ledger: three hours, then two routings of
# 90 s each with 60 polls of 10 s after each. A fresh simulator run as far serves the counters
# the Store's baselines were taken from, so no energy is owed between the two runs.
SIMULATED_S = 3 * 3600 + 2 * (90 + 60 * 10)
# What this version adds to a 0.1.0 site, by domain and unique id: the rack's IT power summed
# over its feeds (issue 9), and the demo environment sensor's writable alarm limit and buzzer.
NEW_ENTITIES = {
    ("sensor", f"{ENTRY_ID}_site_it_power"),
    ("number", "env_exhaust_alarm_limit"),
    ("switch", "env_alarm_buzzer"),
    # Heat routing (issue 11): the site has heat destinations.
    ("select", f"{ENTRY_ID}_heat_destination"),
    ("sensor", f"{ENTRY_ID}_heat_routing"),
    ("binary_sensor", f"{ENTRY_ID}_heat_safety"),
    # The valve platform (issue 9): a valve entity for each valve point, next to its number
    # (same unique id in another domain, so the number keeps its own).
    *(("valve", f"controller_analog-output_{instance}") for instance in (1, 2, 3, 4)),
}

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _fixture(sim: SimulatorProcess) -> dict[str, Any]:
    text = FIXTURE.read_text(encoding="utf-8")
    text = text.replace("MODBUS_PORT", str(sim.modbus_port))
    text = text.replace("BACNET_PORT", str(sim.bacnet_port))
    return json.loads(text)  # type: ignore[no-any-return]


def _entry(saved: dict[str, Any]) -> MockConfigEntry:
    entry = saved["entry"]
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        version=entry["version"],
        minor_version=entry["minor_version"],
        title=entry["title"],
        unique_id=entry["unique_id"],
        data=entry["data"],
        options=entry["options"],
        subentries_data=[ConfigSubentryData(**s) for s in entry["subentries"]],  # type: ignore[typeddict-item]
    )


def _registries_as_0_1_0_left_them(
    hass: HomeAssistant, entry: MockConfigEntry, saved: dict[str, Any]
) -> None:
    devices = dr.async_get(hass)
    for device in saved["devices"]:
        devices.async_get_or_create(
            config_entry_id=entry.entry_id,
            config_subentry_id=device["config_subentry_id"],
            identifiers={tuple(i) for i in device["identifiers"]},
            name=device["name"],
        )
    entities = er.async_get(hass)
    for entity in saved["entities"]:
        created = entities.async_get_or_create(
            entity["domain"],
            DOMAIN,
            entity["unique_id"],
            config_entry=entry,
            config_subentry_id=entity["config_subentry_id"],
            suggested_object_id=entity["entity_id"].partition(".")[2],
            disabled_by=er.RegistryEntryDisabler(entity["disabled_by"])
            if entity["disabled_by"]
            else None,
        )
        assert created.entity_id == entity["entity_id"]


async def test_a_0_1_0_site_keeps_its_entities_devices_and_totals(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    hass_storage: dict[str, Any],
) -> None:
    simulator = simulator_factory()
    await simulator.async_advance(SIMULATED_S)
    saved = _fixture(simulator)
    entry = _entry(saved)
    entry.add_to_hass(hass)
    _registries_as_0_1_0_left_them(hass, entry, saved)
    hass_storage[f"{DOMAIN}.heat.{ENTRY_ID}"] = saved["heat_store"]

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 1)  # the data's shape did not change

    entities = er.async_get(hass)
    now = {
        (e.domain, e.unique_id): e
        for e in er.async_entries_for_config_entry(entities, entry.entry_id)
    }
    before = {(e["domain"], e["unique_id"]): e for e in saved["entities"]}
    # Every entity of 0.1.0 is still there under its entity id, and only the new ones came.
    assert set(now) - set(before) == NEW_ENTITIES
    assert set(before) - set(now) == set()
    # The valves the destinations route are the router's now: their number entities, enabled
    # in 0.1.0, are disabled by the integration (ids kept; an engineer may enable them again).
    routed = {f"{ref.device}_{ref.key}" for ref in entry.runtime_data.routing.routed}
    assert routed
    for (domain, unique_id), old in before.items():
        current = now[domain, unique_id]
        assert current.entity_id == old["entity_id"], unique_id
        assert current.config_subentry_id == old["config_subentry_id"], unique_id
        state = hass.states.get(current.entity_id)
        if unique_id in routed and domain == "number":
            assert current.disabled_by is er.RegistryEntryDisabler.INTEGRATION, unique_id
            # The router disabled it (enabled in 0.1.0): enabled again when no longer routed,
            # although a new valve's number is a spare disabled by default.
            assert current.options[DOMAIN][DISABLED_BY_ROUTER_OPTION] is True, unique_id
            assert state is None, unique_id
        elif old["disabled_by"] is None:
            # Provided by the integration again, not a leftover restored by the registry.
            assert state is not None, unique_id
            assert not state.attributes.get("restored"), unique_id
    # The new valve entities: named as the valves' numbers were, the router's where routed
    # (all four valves are some destination's on this site).
    for domain, unique_id in NEW_ENTITIES:
        if domain != "valve":
            continue
        valve = now[domain, unique_id]
        assert valve.entity_id == now["number", unique_id].entity_id.replace("number.", "valve.")
        routed_valve = unique_id in routed
        assert (valve.disabled_by is er.RegistryEntryDisabler.INTEGRATION) == routed_valve
        assert (hass.states.get(valve.entity_id) is None) == routed_valve
    # A unit suggested since (minutes for durations) is for new entities: this one keeps
    # seconds, and so its long-term statistics.
    runtime = hass.states.get("sensor.demo_ups_runtime")
    assert runtime is not None
    assert runtime.attributes["unit_of_measurement"] == "s"
    # The same devices: none added, none orphaned.
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert sorted(sorted(map(list, d.identifiers)) for d in devices) == sorted(
        d["identifiers"] for d in saved["devices"]
    )

    # The heat ledger continues from its Store: no kWh lost, none counted twice.
    ledger = saved["heat_store"]["data"]["ledger"]["by_destination_wh"]
    for destination in ("stockroom", "tenant_a", "tenant_b"):
        entity_id = entities.async_get_entity_id(
            "sensor", DOMAIN, f"{ENTRY_ID}_destination_heat_{destination}"
        )
        assert entity_id is not None
        shown = float(hass.states.get(entity_id).state)  # type: ignore[union-attr]
        assert shown == pytest.approx(ledger[destination] / 1000, abs=0.02), destination
        assert shown >= round(ledger[destination] / 1000, 4) - 1e-9, destination
    it_energy = entities.async_get_entity_id("sensor", DOMAIN, f"{ENTRY_ID}_site_it_energy")
    assert it_energy is not None
    saved_it_kwh = saved["heat_store"]["data"]["it"]["total_wh"] / 1000
    shown_it = hass.states.get(it_energy)
    assert shown_it is not None
    assert shown_it.state != STATE_UNAVAILABLE
    assert float(shown_it.state) == pytest.approx(saved_it_kwh, abs=0.02)
    assert float(shown_it.state) >= round(saved_it_kwh, 4) - 1e-9

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
