"""A site of real devices' built-in profiles against the simulator: their roles light up the site.

The simulator serves every real profile (tests/real_devices.py) beside the demo devices; this
site adds only the real ones (no demo PDU or heat meter to share the roles): the Itron heat meter
is the loop's meter (the ONICON BTU meter when a test makes it the main meter), the Belimo
Energy Valve's setpoint opens the one heat destination, the APC and Eaton cards are the UPS (their
status words following the model's UPS, so a mains outage shows), the Tripp Lite card a third, and
the Eastron meter the rack's IT meter. Time stands still; the Clock of test_heat_accounting moves
the simulator and Home Assistant on together.
"""

from __future__ import annotations

from collections.abc import Generator
import json
from pathlib import Path
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.microdc import sensor
from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.destination_config import CONF_BRANCH_METER, CONF_KIND, CONF_VALVES
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from tests.ha.test_heat_accounting import POLL_S, Clock
from tests.real_devices import UNITS, site_with_real_devices
from tests.simulator_process import SimulatorProcess, start_simulator

METER, ONICON, VALVE, APC, TRIPP, EASTRON, EATON = (
    "itron_cf_echo_ii",
    "onicon_system_10",
    "belimo_energy_valve_v4",
    "apc_smart_ups",
    "tripp_lite_modbuscard_ups",
    "eastron_sdm630",
    "eaton_9px_modbus_ms",
)
DESTINATION = "stockroom"
STRINGS = json.loads((Path(sensor.__file__).parent / "strings.json").read_text(encoding="utf-8"))[
    "entity"
]


@pytest.fixture
def real_simulator(tmp_path: Path) -> Generator[SimulatorProcess]:
    """The real devices' site, the APC and Eaton status words following the model's UPS (one
    per test: a test's writes and faults stay its own)."""
    path = site_with_real_devices(tmp_path)
    site = yaml.safe_load(path.read_text(encoding="utf-8"))
    for card in (APC, EATON):
        site["modbus"]["devices"][card]["points"]["status"] = "ups_status"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    sim = start_simulator(speed=0.0, site=path)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def _device(sim: SimulatorProcess, profile: str) -> dict[str, Any]:
    unit = UNITS[profile]
    return {
        "subentry_id": profile,
        "subentry_type": SUBENTRY_MODBUS_DEVICE,
        "title": profile,
        "unique_id": f"127.0.0.1:{sim.modbus_port}:{unit}",
        "data": {"host": "127.0.0.1", "port": sim.modbus_port, "unit_id": unit, "profile": profile},
    }


def _site(sim: SimulatorProcess, main_meter: str) -> MockConfigEntry:
    # The main meter first: the site's main meter is its first device that measures heat
    # (the other heat meter and the Energy Valve meter heat too).
    meters = [main_meter, *(m for m in (METER, ONICON) if m != main_meter)]
    devices = [_device(sim, p) for p in (*meters, VALVE, APC, TRIPP, EASTRON, EATON)]
    destination = {
        "subentry_id": DESTINATION,
        "subentry_type": SUBENTRY_HEAT_DESTINATION,
        "title": "Stockroom",
        "unique_id": None,
        "data": {
            CONF_KIND: "stockroom",
            CONF_VALVES: [f"{VALVE}/setpoint"],
            CONF_BRANCH_METER: None,
        },
    }
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id="realsite",
        title="Corner Shop",
        unique_id="corner_shop_real",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[*devices, destination],  # type: ignore[list-item]
    )


@pytest.fixture
def main_meter() -> str:
    """The loop's main meter (a test parametrises it to try the other heat meter)."""
    return METER


@pytest.fixture
async def site(
    hass: HomeAssistant,
    real_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    main_meter: str,
) -> tuple[MockConfigEntry, Clock]:
    """The site set up, with its clock."""
    clock = Clock(hass, monkeypatch)
    entry = _site(real_simulator, main_meter)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry, clock


def _entity_id(hass: HomeAssistant, platform: Platform, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


async def _enable_valve_entity(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """The commissioning engineer enables the routed valve's own entity (it is disabled by
    default, the router owns the valve) and the site reloads."""
    entity_id = _entity_id(hass, Platform.NUMBER, f"{VALVE}_setpoint")
    er.async_get(hass).async_update_entity(entity_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    return entity_id


def _state(hass: HomeAssistant, platform: Platform, unique_id: str) -> str:
    state = hass.states.get(_entity_id(hass, platform, unique_id))
    assert state is not None, unique_id
    return state.state


async def _served(sim: SimulatorProcess, profile: str) -> dict[str, Any]:
    points: dict[str, Any] = (await sim.async_state())["modbus"][profile]["points"]
    return points


async def _heat_counted_from_the_meter(
    entry: MockConfigEntry, clock: Clock, sim: SimulatorProcess
) -> None:
    """Run 30 polls; the ledger counts the main meter's energy register (not only its power)
    and its captured heat equals the simulator's truth within a couple of the meter's f32
    kWh steps."""
    accounting = entry.runtime_data.heat
    assert accounting.main_meter is not None
    assert accounting.main_meter.counter is not None
    start_truth = (await sim.async_state())["ledgers"]["heat_to_loop_wh"]
    await clock.poll(sim, 30)
    truth = (await sim.async_state())["ledgers"]["heat_to_loop_wh"] - start_truth
    assert truth > 100
    assert accounting.totals.captured_wh == pytest.approx(truth, abs=2.0)


async def test_a_real_heat_meter_and_energy_valve_make_the_heat_figures(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """The Itron's roles feed the ledger; the Belimo setpoint routes it; a write re-routes it."""
    entry, clock = site
    sim = real_simulator
    accounting = entry.runtime_data.heat
    await _heat_counted_from_the_meter(entry, clock, sim)

    assert float(_state(hass, Platform.SENSOR, "realsite_recovered_power")) > 0
    recovered_kwh = float(_state(hass, Platform.SENSOR, "realsite_recovered_heat"))
    assert recovered_kwh == pytest.approx(accounting.totals.captured_wh / 1000, abs=1e-3)
    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert heat["main_meter"] == METER
    assert heat["it_meters"] == [EASTRON]
    # The Energy Valve's setpoint (62.5 % as served) is the destination's only valve: it
    # takes all of the loop's heat.
    assert heat["openings_pct"] == {DESTINATION: pytest.approx(62.5, abs=0.01)}
    assert accounting.totals.by_destination_wh[DESTINATION] == pytest.approx(
        accounting.totals.captured_wh
    )
    assert accounting.totals.rejected_wh == 0

    # Closing the valve (as the router or an engineer would: its entity is the router's, so it
    # is disabled by default): the heat from then on is rejected.
    await entry.runtime_data.devices[VALVE].async_write("setpoint", 0.0, priority=12)
    assert (await _served(sim, VALVE))["setpoint"] == {"raw": 0, "value": 0.0, "written": True}
    reused = accounting.totals.by_destination_wh[DESTINATION]
    await clock.poll(sim, 12)
    # At most the scan interval the write fell in still goes to the stockroom.
    gained = accounting.totals.by_destination_wh[DESTINATION] - reused
    assert gained <= (accounting.recovered_power_w() or 0) * POLL_S / 3600 * 1.5
    assert accounting.totals.rejected_wh > 20
    assert accounting.totals.rejected_wh > 10 * gained


@pytest.mark.parametrize("main_meter", [ONICON])
async def test_the_onicon_btu_meter_as_main_meter_makes_the_heat_figures(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """The ONICON's roles (its mode 1 kWh total, kW, flow, temperatures) feed the ledger."""
    entry, clock = site
    sim = real_simulator
    accounting = entry.runtime_data.heat
    start_kwh = (await _served(sim, ONICON))["energy"]["value"]
    await _heat_counted_from_the_meter(entry, clock, sim)

    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert heat["main_meter"] == ONICON
    served = await _served(sim, ONICON)
    counted_wh = (served["energy"]["value"] - start_kwh) * 1000
    assert accounting.totals.captured_wh == pytest.approx(counted_wh, abs=2.0)
    recovered_kw = float(_state(hass, Platform.SENSOR, "realsite_recovered_power"))
    assert recovered_kw == pytest.approx(served["thermal_power"]["value"], rel=1e-3)
    for key in ("flow", "supply_temperature", "return_temperature"):
        shown = float(_state(hass, Platform.SENSOR, f"{ONICON}_{key}"))
        assert shown == pytest.approx(served[key]["value"], abs=0.01), key


async def test_a_real_ups_card_makes_the_ups_sensors(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """APC's and Eaton's status words, charge and runtime; a mains outage shows on battery,
    then low."""
    _, clock = site
    sim = real_simulator
    # The first scan falls due just after one interval (setup took a moment): two polls make
    # the entities show the simulator's present.
    await clock.poll(sim, 2)

    async def check(status: str, on_battery: str, low_battery: str) -> None:
        for card in (APC, EATON):
            served = await _served(sim, card)
            assert _state(hass, Platform.SENSOR, f"{card}_status") == status, card
            assert _state(hass, Platform.BINARY_SENSOR, f"{card}_on_battery") == on_battery, card
            assert _state(hass, Platform.BINARY_SENSOR, f"{card}_low_battery") == low_battery, card
            charge = float(_state(hass, Platform.SENSOR, f"{card}_battery_charge"))
            assert charge == pytest.approx(served["battery_charge"]["value"], abs=0.01), card
        # APC's card counts seconds; a new entity shows them in minutes (suggested unit).
        runtime_min = float(_state(hass, Platform.SENSOR, f"{APC}_runtime_remaining"))
        served_s = (await _served(sim, APC))["runtime_remaining"]["value"]
        assert runtime_min * 60 == pytest.approx(served_s, abs=0.5)
        # Eaton's counts whole minutes.
        eaton_min = float(_state(hass, Platform.SENSOR, f"{EATON}_runtime_remaining"))
        assert eaton_min == (await _served(sim, EATON))["runtime_remaining"]["value"]
        assert abs(eaton_min * 60 - served_s) <= 30

    await check("online", "off", "off")
    # Eaton's status word has no fault bit that the manual describes: no UPS fault sensor.
    registry = er.async_get(hass)
    assert registry.async_get_entity_id(Platform.BINARY_SENSOR, DOMAIN, f"{APC}_ups_fault")
    assert not registry.async_get_entity_id(Platform.BINARY_SENSOR, DOMAIN, f"{EATON}_ups_fault")
    assert (await _served(sim, APC))["battery_charge"]["value"] == pytest.approx(100, abs=0.01)
    # The Tripp Lite card has no status word: its charge and runtime (in minutes) only.
    tripp = await _served(sim, TRIPP)
    assert float(_state(hass, Platform.SENSOR, f"{TRIPP}_battery_charge")) == pytest.approx(
        tripp["battery_charge"]["value"]
    )
    assert float(_state(hass, Platform.SENSOR, f"{TRIPP}_runtime_remaining")) == pytest.approx(
        tripp["runtime_remaining"]["value"]
    )

    await sim.async_inject_fault("mains_outage")
    await clock.poll(sim, 6)
    await check("on_battery", "on", "off")
    for card in (APC, EATON):
        assert float(_state(hass, Platform.SENSOR, f"{card}_input_voltage")) == 0, card
    runtime = float(_state(hass, Platform.SENSOR, f"{APC}_runtime_remaining")) * 60  # s
    assert 300 < runtime < 86400
    # AN176's status has no low-battery bit: the site's limit (300 s of runtime) decides.
    await clock.advance(sim, runtime - 250)
    await check("on_battery", "on", "on")
    # Eaton's card raises its own low-battery bit (6) too.
    assert "low_battery" in (await _served(sim, EATON))["status"]["value"]
    await sim.async_clear_faults()
    await clock.poll(sim, 1)
    # Mains is back; the nearly empty battery still gives under 300 s until it recharges.
    await check("online", "off", "on")


async def test_a_real_energy_meter_is_the_racks_it_meter(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """The Eastron's power and import energy are the site's IT power and energy."""
    entry, clock = site
    sim = real_simulator
    start = (await sim.async_state())["ledgers"]["it_energy_wh"]
    await clock.poll(sim, 30)
    truth = (await sim.async_state())["ledgers"]["it_energy_wh"] - start
    accounting = entry.runtime_data.heat
    # Its kWh register is an f32 near 8 800 kWh: steps of about 1 Wh.
    assert accounting.it_total_wh == pytest.approx(truth, abs=3.0)
    assert float(_state(hass, Platform.SENSOR, "realsite_site_it_energy")) == pytest.approx(
        accounting.it_total_wh / 1000, abs=1e-3
    )
    served = await _served(sim, EASTRON)
    site_kw = float(_state(hass, Platform.SENSOR, "realsite_site_it_power"))
    assert site_kw == pytest.approx(served["total_power"]["value"] / 1000, rel=1e-3)
    assert float(_state(hass, Platform.SENSOR, f"{EASTRON}_total_power")) == pytest.approx(
        served["total_power"]["value"], abs=0.5
    )


async def test_writes_reach_the_device_within_the_profiles_range(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """Every writable point of the real profiles is an entity; out of range nothing is sent."""
    entry, _ = site
    sim = real_simulator
    registry = er.async_get(hass)
    commands = {
        e.unique_id: e.domain
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.domain in (Platform.NUMBER, Platform.SWITCH, Platform.SELECT)
        and e.config_subentry_id is not None  # the site's own routing select is no point
    }
    # The Belimo setpoint is the only point the real profiles declare writable.
    assert commands == {f"{VALVE}_setpoint": Platform.NUMBER}
    number_id = await _enable_valve_entity(hass, entry)
    state = hass.states.get(number_id)
    assert state is not None
    assert (state.attributes["min"], state.attributes["max"]) == (0, 100)
    assert state.name == "belimo_energy_valve_v4 Valve position"

    await hass.services.async_call(
        "number", "set_value", {"entity_id": number_id, "value": 37.25}, blocking=True
    )
    served = (await _served(sim, VALVE))["setpoint"]
    assert served == {"raw": 3725, "value": pytest.approx(37.25), "written": True}
    assert float(_state(hass, Platform.NUMBER, f"{VALVE}_setpoint")) == pytest.approx(37.25)

    # Out of the profile's 0..100 %: refused with a translated error, before anything is sent.
    with pytest.raises(ServiceValidationError) as refused:
        await hass.services.async_call(
            "number", "set_value", {"entity_id": number_id, "value": 150}, blocking=True
        )
    assert refused.value.translation_key is not None
    coordinator = entry.runtime_data.devices[VALVE]
    with pytest.raises(HomeAssistantError) as out_of_range:
        await coordinator.async_write("setpoint", 150.0, priority=12)
    assert (out_of_range.value.translation_domain, out_of_range.value.translation_key) == (
        DOMAIN,
        "out_of_range",
    )
    with pytest.raises(HomeAssistantError) as read_only:
        await coordinator.async_write("relative_position", 10.0, priority=12)
    assert read_only.value.translation_key == "not_writable"
    assert (await _served(sim, VALVE))["setpoint"]["raw"] == 3725


async def test_the_energy_valve_is_a_valve_over_modbus(
    hass: HomeAssistant, real_simulator: SimulatorProcess, site: tuple[MockConfigEntry, Clock]
) -> None:
    """The Belimo setpoint (a writable valve_position register) is a valve entity that writes
    the register, and shows what it holds; it is the router's, so the engineer enables it."""
    entry, _ = site
    registry = er.async_get(hass)
    valve_id = _entity_id(hass, Platform.VALVE, f"{VALVE}_setpoint")
    routed = registry.async_get(valve_id)
    assert routed is not None
    assert routed.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    registry.async_update_entity(valve_id, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    valve = hass.states.get(valve_id)
    assert valve is not None
    assert valve.name == "belimo_energy_valve_v4 Valve"
    assert valve.attributes["device_class"] == "water"

    await hass.services.async_call(
        "valve", "set_valve_position", {"entity_id": valve_id, "position": 37}, blocking=True
    )
    assert (await _served(real_simulator, VALVE))["setpoint"]["raw"] == 3700
    valve = hass.states.get(valve_id)
    assert valve is not None
    assert (valve.state, valve.attributes["current_position"]) == ("open", 37)
    await hass.services.async_call("valve", "close_valve", {"entity_id": valve_id}, blocking=True)
    assert (await _served(real_simulator, VALVE))["setpoint"]["raw"] == 0
    assert _state(hass, Platform.VALVE, f"{VALVE}_setpoint") == "closed"


async def test_every_entity_of_a_real_device_has_a_translated_name(
    hass: HomeAssistant, site: tuple[MockConfigEntry, Clock]
) -> None:
    """Named from strings.json under its platform, never from its point key."""
    entry, _ = site
    registry = er.async_get(hass)
    entities = [
        e
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id in UNITS
    ]
    assert len(entities) > 40
    for entity in entities:
        assert entity.translation_key is not None, entity.unique_id
        expected = STRINGS[entity.domain][entity.translation_key]["name"]
        assert entity.original_name == expected, entity.unique_id
    names = {e.unique_id: e.original_name for e in entities}
    assert names[f"{EASTRON}_phase_2_current"] == "Phase 2 current"
    assert names[f"{APC}_battery_system_error_needs_replacement"] == "Battery needs replacement"
    assert names[f"{VALVE}_relative_position"] == "Valve feedback"
    assert names[f"{ONICON}_heating_volume"] == "Heating volume"
    assert names[f"{EATON}_mains_2_alarms_output_on_bypass"] == "Output on bypass"
    assert names[f"{EATON}_inverter_alarms_major_fault"] == "Inverter major fault"
