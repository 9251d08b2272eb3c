"""The demo site as built: heat meter and PDU on Modbus, the valves on the BACnet controller.

The heat destinations name the controller's valve outputs; microdc commands them itself (its
BACnet coordinator, at its write priority) and the split follows. A fresh simulator per test:
the commands change its valves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from custom_components.microdc.const import SUBENTRY_HEAT_DESTINATION, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.destination_config import CONF_BRANCH_METER, CONF_KIND, CONF_VALVES
from custom_components.microdc.lib.devices.bacnet_config import object_key
from custom_components.microdc.lib.protocols.bacnet import ObjectId
from tests.ha.bacnet_site import demo_objects, device_subentry, setup_site, write
from tests.ha.test_heat_accounting import Clock
from tests.simulator_process import SimulatorProcess

CONTROLLER_ID = "controller"
METER_RESOLUTION_WH = 10.0
VALVES = {
    "stockroom": ObjectId("analog-output", 1),
    "tenant_a": ObjectId("analog-output", 2),
    "tenant_b": ObjectId("analog-output", 3),
    "shared_loop": ObjectId("analog-output", 4),
}
DRY_COOLER = ObjectId("analog-output", 5)


def _modbus(sim: SimulatorProcess, subentry_id: str, profile: str, unit: int) -> dict[str, Any]:
    return {
        "subentry_id": subentry_id,
        "subentry_type": SUBENTRY_MODBUS_DEVICE,
        "title": profile,
        "unique_id": f"127.0.0.1:{sim.modbus_port}:{unit}",
        "data": {"host": "127.0.0.1", "port": sim.modbus_port, "unit_id": unit, "profile": profile},
    }


def _destination(name: str, controller: str = CONTROLLER_ID, suffix: str = "") -> dict[str, Any]:
    return {
        "subentry_id": f"{name}{suffix}",
        "subentry_type": SUBENTRY_HEAT_DESTINATION,
        "title": name,
        "unique_id": None,
        "data": {
            CONF_KIND: "tenant" if name.startswith("tenant") else name,
            CONF_VALVES: [f"{controller}/{object_key(VALVES[name])}"],
            CONF_BRANCH_METER: None,
        },
    }


async def test_split_follows_the_controllers_valves(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Route to the stockroom, then half and half to the tenants, by BACnet commands."""
    sim = simulator_factory()
    clock = Clock(hass, monkeypatch)
    roles = {str(oid): "valve_position" for oid in (*VALVES.values(), DRY_COOLER)}
    controller = {
        **device_subentry(sim, objects=demo_objects(roles), scan_interval_s=10),
        "subentry_id": CONTROLLER_ID,
    }
    entry = await setup_site(
        hass,
        _modbus(sim, "meter", "demo_heat_meter", 4),
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        controller,
        *(_destination(d) for d in VALVES),
    )
    coordinator = entry.runtime_data.devices[CONTROLLER_ID]
    accounting = entry.runtime_data.heat
    assert accounting is not None

    async def route(openings: dict[str, float]) -> dict[str, float]:
        for name, oid in VALVES.items():
            await write(coordinator, str(oid), openings.get(name, 0.0))
        await write(coordinator, str(DRY_COOLER), 0.0)
        await clock.advance(sim, 90)  # the valves' stroke is 60 s
        return dict(accounting.totals.by_destination_wh)

    start = float((await sim.async_state())["ledgers"]["heat_to_loop_wh"])
    before = await route({"stockroom": 100})
    await clock.poll(sim, 30)
    gained = {d: e - before[d] for d, e in accounting.totals.by_destination_wh.items()}
    assert gained["stockroom"] > 50
    assert all(gained[d] == 0 for d in ("tenant_a", "tenant_b", "shared_loop", "reject"))

    before = await route({"tenant_a": 50, "tenant_b": 50})
    await clock.poll(sim, 30)
    gained = {d: e - before[d] for d, e in accounting.totals.by_destination_wh.items()}
    assert gained["tenant_a"] > 50
    assert gained["tenant_a"] == pytest.approx(gained["tenant_b"], rel=1e-6)
    assert gained["stockroom"] == gained["shared_loop"] == gained["reject"] == 0

    truth = float((await sim.async_state())["ledgers"]["heat_to_loop_wh"]) - start
    assert accounting.totals.captured_wh == pytest.approx(truth, abs=2 * METER_RESOLUTION_WH)
    assert await hass.config_entries.async_unload(entry.entry_id)


def _gained(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """Energy gained per destination name (the second site's ids end in -b)."""
    return {d.removesuffix("-b"): e - before.get(d, 0.0) for d, e in now.items()}


async def test_a_loop_measured_over_bacnet_accounts_like_the_modbus_heat_meter(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flow and temperatures tagged on the controller's objects give the heat figures that the
    Modbus heat meter gives a second site on the same loop, at the same time."""
    sim = simulator_factory()
    clock = Clock(hass, monkeypatch)
    roles = {str(oid): "valve_position" for oid in (*VALVES.values(), DRY_COOLER)}
    roles |= {
        "analog-input,1": "loop_supply_temperature",
        "analog-input,2": "loop_return_temperature",
        "analog-input,3": "loop_flow",
    }
    controller = {
        **device_subentry(sim, objects=demo_objects(roles), scan_interval_s=10, cov=False),
        "subentry_id": CONTROLLER_ID,
    }
    over_bacnet = await setup_site(
        hass,
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        controller,
        *(_destination(d) for d in VALVES),
        name="BACnet loop",
    )
    over_modbus = await setup_site(
        hass,
        _modbus(sim, "meter", "demo_heat_meter", 4),
        _modbus(sim, "pdu", "demo_rack_pdu", 1),
        {**controller, "subentry_id": "other_controller"},
        *(_destination(d, "other_controller", "-b") for d in VALVES),
        name="Modbus meter",
    )
    bacnet_heat, modbus_heat = over_bacnet.runtime_data.heat, over_modbus.runtime_data.heat
    assert bacnet_heat is not None
    assert modbus_heat is not None
    # The BACnet site found its loop on the controller; the other site on its heat meter.
    assert bacnet_heat.main_meter is not None
    assert bacnet_heat.main_meter.coordinator.subentry.subentry_id == CONTROLLER_ID
    assert modbus_heat.main_meter is not None
    assert modbus_heat.main_meter.coordinator.subentry.subentry_id == "meter"
    coordinator = over_bacnet.runtime_data.devices[CONTROLLER_ID]

    async def route(openings: dict[str, float]) -> None:
        for name, oid in VALVES.items():
            await write(coordinator, str(oid), openings.get(name, 0.0))
        await write(coordinator, str(DRY_COOLER), 0.0)
        await clock.advance(sim, 90)  # the valves' stroke is 60 s

    async def steady(openings: dict[str, float]) -> tuple[dict[str, float], ...]:
        """Route, let both sites poll past the change, then count 30 polls of steady heat.

        The sites' devices poll apart, so the poll that sees a valve move may split one
        interval differently at each site; steady intervals are the fair comparison.
        """
        await route(openings)
        await clock.poll(sim, 2)
        truth = float((await sim.async_state())["ledgers"]["heat_to_loop_wh"])
        before = (
            dict(bacnet_heat.totals.by_destination_wh),
            dict(modbus_heat.totals.by_destination_wh),
        )
        await clock.poll(sim, 30)
        truth = float((await sim.async_state())["ledgers"]["heat_to_loop_wh"]) - truth
        return (
            _gained(bacnet_heat.totals.by_destination_wh, before[0]),
            _gained(modbus_heat.totals.by_destination_wh, before[1]),
            {"truth": truth},
        )

    for openings in ({"stockroom": 100}, {"tenant_a": 50, "tenant_b": 50}):
        bacnet, modbus, truth = await steady(openings)
        assert sum(bacnet.values()) > 100
        for destination in VALVES:
            # The meter counts in 10 Wh steps; the BACnet site integrates flow and temperatures.
            assert bacnet[destination] == pytest.approx(
                modbus[destination], rel=0.01, abs=2 * METER_RESOLUTION_WH
            ), (destination, bacnet, modbus)
            assert (bacnet[destination] > 0) == (destination in openings)
        assert sum(bacnet.values()) == pytest.approx(truth["truth"], rel=0.01)
    assert bacnet["tenant_a"] == pytest.approx(bacnet["tenant_b"], rel=1e-6)
    for entry in (over_bacnet, over_modbus):
        assert await hass.config_entries.async_unload(entry.entry_id)
