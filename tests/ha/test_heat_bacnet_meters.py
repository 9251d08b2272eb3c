"""Heat meters on BACnet: the loop's BTU meter and the branches' own meters are BACnet devices.

The simulator's BACnet heat meters (simulator/sites/demo.yaml, ``bacnet_meters``) count the
same truth as its Modbus heat meter: the loop's counter is the heat the loop takes in, a
branch's the heat its exchanger delivered. Their energy objects are REALs in kWh, Wh or MWh;
heat accounting takes them as counters (one count = one unit, never wrapping) under the same
rule as a Modbus register, so over steady polls a site counts exactly what the meter counted.
A fresh simulator per test: the valves are commanded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.microdc.const import SUBENTRY_HEAT_DESTINATION
from custom_components.microdc.destination_config import (
    CONF_BRANCH_METER,
    CONF_KIND,
    CONF_VALVES,
    NO_METER,
)
from custom_components.microdc.heat_accounting import MAIN_CIRCUIT, SiteHeatAccounting
from custom_components.microdc.lib.devices.bacnet_config import object_key
from tests.ha.bacnet_site import demo_objects, device_subentry, meter_subentry, setup_site, write
from tests.ha.test_heat_accounting import Clock
from tests.ha.test_heat_bacnet_valves import (
    CONTROLLER_ID,
    DRY_COOLER,
    METER_RESOLUTION_WH,
    VALVES,
    _destination,
    _gained,
    _modbus,
)
from tests.simulator_process import SimulatorProcess

LOOP_METER = "loop-energy-meter"
# The BTU meter's objects (every demo meter numbers them alike).
METER_ROLES = {
    "analog-input,1": "heat_meter_power",
    "analog-input,2": "heat_meter_energy",
    "analog-input,3": "loop_flow",
    "analog-input,4": "loop_supply_temperature",
    "analog-input,5": "loop_return_temperature",
}
# A BACnet REAL is read to its 7 significant digits: 1 Wh at the loop meter's 1250 kWh, less
# on the branches. Over a window only its two ends count (the steps between them telescope).
REAL_RESOLUTION_WH = 1.0
# The branch meters tried and the unit each counts in (Wh per count of its REAL).
BRANCHES = {
    "stockroom": ("stockroom-energy-meter", 1.0),
    "tenant_a": ("tenant-a-energy-meter", 1000.0),
    "shared_loop": ("shared-loop-energy-meter", 1_000_000.0),
}


def _controller(sim: SimulatorProcess, subentry_id: str = CONTROLLER_ID) -> dict[str, Any]:
    """The controller with only its valves tagged: it measures no heat here."""
    roles = {str(oid): "valve_position" for oid in (*VALVES.values(), DRY_COOLER)}
    return {
        **device_subentry(sim, objects=demo_objects(roles), scan_interval_s=10, cov=False),
        "subentry_id": subentry_id,
    }


async def _route(
    clock: Clock, sim: SimulatorProcess, entry: Any, openings: Mapping[str, float]
) -> None:
    """Command the valves on the first site's controller and let them stroke."""
    coordinator = entry.runtime_data.devices[CONTROLLER_ID]
    for name, oid in VALVES.items():
        await write(coordinator, str(oid), openings.get(name, 0.0))
    await write(coordinator, str(DRY_COOLER), 0.0)
    await clock.advance(sim, 90)  # the valves' stroke is 60 s


def _count(heat: SiteHeatAccounting, circuit: str = MAIN_CIRCUIT) -> float:
    """The last count the circuit's energy counter took (the meter's reading, in its unit)."""
    counter = heat.ledger.channel(circuit).counter
    assert counter is not None
    assert counter.last_raw is not None
    return counter.last_raw


def _heat(entry: Any) -> SiteHeatAccounting:
    heat = entry.runtime_data.heat
    assert heat is not None
    return heat  # type: ignore[no-any-return]


async def test_a_bacnet_heat_meter_accounts_like_the_modbus_heat_meter(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flow, temperatures, power and energy tagged on the loop's BACnet BTU meter give the
    figures the Modbus heat meter gives a second site on the same loop; the energy is the
    meter's counter, in kWh, so the total is the simulator's truth to the REAL's resolution."""
    sim = simulator_factory()
    clock = Clock(hass, monkeypatch)
    over_bacnet = await setup_site(
        hass,
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        _controller(sim),
        meter_subentry(sim, LOOP_METER, METER_ROLES, subentry_id="loop_meter"),
        *(_destination(d) for d in VALVES),
        name="BACnet meter",
    )
    over_modbus = await setup_site(
        hass,
        _modbus(sim, "meter", "demo_heat_meter", 4),
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        _controller(sim, "other_controller"),
        *(_destination(d, "other_controller", "-b") for d in VALVES),
        name="Modbus meter",
    )
    bacnet_heat, modbus_heat = _heat(over_bacnet), _heat(over_modbus)
    assert bacnet_heat.main_meter is not None
    assert bacnet_heat.main_meter.coordinator.subentry.subentry_id == "loop_meter"
    assert modbus_heat.main_meter is not None
    assert modbus_heat.main_meter.coordinator.subentry.subentry_id == "meter"
    # The energy object is a counter in kWh that never wraps, bounded by the rule of every
    # counter (lib/heat/counter.py).
    counter = bacnet_heat.main_meter.counter
    assert counter is not None
    assert (counter.wh_per_count, counter.bits) == (1000.0, None)

    async def steady(openings: Mapping[str, float]) -> tuple[dict[str, float], ...]:
        """Route, let both sites poll past the change, then count 30 polls of steady heat."""
        await _route(clock, sim, over_bacnet, openings)
        await clock.poll(sim, 2)
        truth = float((await sim.async_state())["ledgers"]["heat_to_loop_wh"])
        before = (
            dict(bacnet_heat.totals.by_destination_wh),
            dict(modbus_heat.totals.by_destination_wh),
            {"captured": bacnet_heat.totals.captured_wh, "count": _count(bacnet_heat)},
        )
        await clock.poll(sim, 30)
        state = await sim.async_state()
        meter = {o["name"]: o for o in state["bacnet_meters"][LOOP_METER]["objects"]}
        return (
            _gained(dict(bacnet_heat.totals.by_destination_wh), before[0]),
            _gained(dict(modbus_heat.totals.by_destination_wh), before[1]),
            {
                "truth": float(state["ledgers"]["heat_to_loop_wh"]) - truth,
                "captured": bacnet_heat.totals.captured_wh - before[2]["captured"],
                "counted_kwh": _count(bacnet_heat) - before[2]["count"],
                "meter_kwh": float(meter["EM-LOOP-ENERGY"]["present_value"]),
            },
        )

    for openings in ({"stockroom": 100}, {"tenant_a": 50, "tenant_b": 50}):
        bacnet, modbus, figures = await steady(openings)
        assert sum(bacnet.values()) > 100
        for destination in VALVES:
            # The Modbus meter counts in 10 Wh steps; the BACnet meter's REAL far finer.
            assert bacnet[destination] == pytest.approx(
                modbus[destination], abs=2 * METER_RESOLUTION_WH
            ), (destination, bacnet, modbus)
            assert (bacnet[destination] > 0) == (destination in openings)
        # The counter, not flow and temperatures, gave the energy: exactly the meter's rise,
        # which is the heat the loop took in.
        assert figures["captured"] == pytest.approx(figures["counted_kwh"] * 1000, abs=1e-6)
        assert figures["captured"] == pytest.approx(figures["truth"], abs=REAL_RESOLUTION_WH)
        assert sum(bacnet.values()) == pytest.approx(figures["captured"], rel=1e-9)
        assert _count(bacnet_heat) == pytest.approx(figures["meter_kwh"], abs=0.0005)
    assert bacnet["tenant_a"] == pytest.approx(bacnet["tenant_b"], rel=1e-6)
    assert bacnet_heat.totals.replacements == bacnet_heat.totals.set_aside_wh == 0
    for entry in (over_bacnet, over_modbus):
        assert await hass.config_entries.async_unload(entry.entry_id)


def _branch_destination(name: str, meter_id: str) -> dict[str, Any]:
    return {
        "subentry_id": name,
        "subentry_type": SUBENTRY_HEAT_DESTINATION,
        "title": name,
        "unique_id": None,
        "data": {
            CONF_KIND: "tenant" if name.startswith("tenant") else name,
            CONF_VALVES: [f"{CONTROLLER_ID}/{object_key(VALVES[name])}"],
            CONF_BRANCH_METER: meter_id,
        },
    }


async def test_a_destinations_bacnet_branch_meter_gives_its_recovered_energy(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three destinations each with a BACnet branch meter (in Wh, kWh and MWh; the stockroom's
    with flow and temperatures too) get the heat their meter counted, which is the heat the
    simulator delivered there.

    The site has no loop meter: its branch meters are on the rack loop, which a loop meter would
    measure too (docs/heat.md: that heat would be counted twice)."""
    sim = simulator_factory()
    clock = Clock(hass, monkeypatch)
    meters = [
        meter_subentry(sim, meter, METER_ROLES, subentry_id=f"{name}_meter")
        for name, (meter, _) in BRANCHES.items()
    ]
    entry = await setup_site(
        hass,
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        _controller(sim),
        *meters,
        *(_branch_destination(name, f"{name}_meter") for name in BRANCHES),
        _destination("tenant_b"),
    )
    heat = _heat(entry)
    assert {d: m.coordinator.subentry.subentry_id for d, m in heat.branch_meters.items()} == {
        name: f"{name}_meter" for name in BRANCHES
    }
    assert heat.main_meter is None
    assert heat.shared == ("tenant_b",)
    for name, (_, wh_per_count) in BRANCHES.items():
        counter = heat.branch_meters[name].counter
        assert counter is not None
        assert counter.wh_per_count == wh_per_count, name

    await _route(clock, sim, entry, {"stockroom": 100, "tenant_a": 60, "shared_loop": 40})
    await clock.poll(sim, 2)
    start = (await sim.async_state())["ledgers"]
    before = dict(heat.totals.by_destination_wh)
    captured = heat.totals.captured_wh
    counts = {name: _count(heat, name) for name in BRANCHES}
    await clock.poll(sim, 30)
    delivered = (await sim.async_state())["ledgers"]
    gained = {d: e - before[d] for d, e in heat.totals.by_destination_wh.items()}
    for name, (_, wh_per_count) in BRANCHES.items():
        truth = delivered[f"delivered_wh.{name}"] - start[f"delivered_wh.{name}"]
        assert truth > 20, name
        # The branch meter's counter gave it, in the meter's unit, and it is the truth.
        counted = (_count(heat, name) - counts[name]) * wh_per_count
        assert gained[name] == pytest.approx(counted, rel=1e-9), name
        assert gained[name] == pytest.approx(truth, abs=REAL_RESOLUTION_WH), name
    # The branches' heat is theirs alone: the unmetered rest of the loop gets none.
    assert gained["tenant_b"] == gained["reject"] == 0
    assert heat.totals.captured_wh - captured == pytest.approx(
        sum(gained[name] for name in BRANCHES), rel=1e-9
    )
    assert heat.totals.replacements == heat.totals.set_aside_wh == 0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_destination_form_offers_a_bacnet_meter_as_branch_meter(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    socket_enabled: None,
) -> None:
    """A BACnet heat meter is offered as a destination's branch meter (the loop's Modbus meter
    is not: it measures the loop), and once chosen the site counts that branch from it."""
    sim = simulator_factory()
    entry = await setup_site(
        hass,
        _modbus(sim, "meter", "demo_heat_meter", 4),
        _controller(sim),
        meter_subentry(sim, "stockroom-energy-meter", METER_ROLES, subentry_id="stockroom_meter"),
    )
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_HEAT_DESTINATION), context={"source": "user"}
    )
    schema = result["data_schema"]
    assert schema is not None
    options = schema.schema[CONF_BRANCH_METER].config["options"]
    assert {o["value"] for o in options} == {NO_METER, "stockroom_meter"}
    valve = f"{CONTROLLER_ID}/{object_key(VALVES['stockroom'])}"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Stockroom",
            CONF_KIND: "stockroom",
            CONF_VALVES: [valve],
            CONF_BRANCH_METER: "stockroom_meter",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BRANCH_METER] == "stockroom_meter"
    await hass.async_block_till_done()
    heat = _heat(entry)
    assert [m.coordinator.subentry.subentry_id for m in heat.branch_meters.values()] == [
        "stockroom_meter"
    ]
    assert heat.main_meter is not None
    assert heat.main_meter.coordinator.subentry.subentry_id == "meter"
    assert await hass.config_entries.async_unload(entry.entry_id)
