"""Valve entities of a site's valve points, against the simulator's controller on 127.0.0.1.

A commandable analog object with the valve_position role is a valve: open, close and set
position write its priority array at the site's priority (the simulator's GET /state shows the
array), its position is what the device holds (an operator's override included), and a write
the device, the point's range or a monitor-only site refuses is a translated error. Its number
entity is a spare, disabled by default on a new site.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from homeassistant.components.valve import ValveDeviceClass, ValveEntityFeature, ValveState
from homeassistant.const import ATTR_ENTITY_ID, ATTR_SUPPORTED_FEATURES
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SERVICE_RELINQUISH
from custom_components.microdc.lib.devices.bacnet_config import BacnetObjectConfig, object_key
from custom_components.microdc.lib.protocols import bacnet as transport
from custom_components.microdc.lib.protocols.bacnet import BacnetNetwork, ObjectId
from custom_components.microdc.settings import BacnetSiteSettings
from tests.ha.bacnet_site import (
    BACNET_OPTIONS,
    INSTANCE,
    WRITE_PRIORITY,
    Clock,
    coordinator_of,
    demo_objects,
    device_subentry,
    entity_id_of,
    held,
    sim_command,
    state_of,
)
from tests.simulator_process import SimulatorProcess

SLOT = WRITE_PRIORITY - 1  # the priority array is 1-based, the JSON list 0-based
SCAN_S = 600  # no poll by itself during a test: only Clock.tick() polls
STOCKROOM = "analog-output,1"
TENANT_A = "analog-output,2"
ROLES = {STOCKROOM: "valve_position", TENANT_A: "valve_position"}
OPERATOR = 8  # the operator's manual override, above microdc's 12

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
async def _network_released() -> Any:
    """Every test gives the shared socket back (no site left loaded holds it)."""
    yield
    assert transport._shared is None, "the BACnet/IP socket is still open"


async def _site(
    hass: HomeAssistant,
    sim: SimulatorProcess,
    *,
    objects: list[BacnetObjectConfig] | None = None,
    monitor_only: bool = False,
) -> MockConfigEntry:
    options: dict[str, Any] = dict(BACNET_OPTIONS)
    if monitor_only:
        options["routing"] = {"monitor_only": True}
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        title="Corner Shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=options,
        subentries_data=[
            device_subentry(
                sim,
                objects=objects if objects is not None else demo_objects(ROLES),
                scan_interval_s=SCAN_S,
                cov=False,
            )
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _unload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def _valve(hass: HomeAssistant, service: str, entity_id: str, **data: Any) -> None:
    await hass.services.async_call(
        "valve", service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )


async def _slots(sim: SimulatorProcess, object_id: str) -> list[Any]:
    return list(sim_command(await sim.async_state(), object_id)["priority_array"])


async def test_open_close_and_set_position_write_the_priority_array(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await _site(hass, simulator)
    valve_id = entity_id_of(hass, entry, "valve", STOCKROOM)
    assert valve_id == "valve.hvac_controller_vlv_stockroom"  # the object's name, as its number
    valve = state_of(hass, valve_id)
    assert valve.attributes["device_class"] == ValveDeviceClass.WATER
    # A setpoint the actuator follows: no stop.
    assert valve.attributes[ATTR_SUPPORTED_FEATURES] == (
        ValveEntityFeature.OPEN | ValveEntityFeature.CLOSE | ValveEntityFeature.SET_POSITION
    )
    assert valve.state == ValveState.CLOSED  # the relinquish default, 0 %
    assert valve.attributes["current_position"] == 0
    assert valve.attributes["is_closed"] is True
    assert valve.attributes["role"] == "valve_position"

    await _valve(hass, "set_valve_position", valve_id, position=40)
    slots = await _slots(simulator, STOCKROOM)
    assert slots[SLOT] == 40.0
    assert [i for i, slot in enumerate(slots) if slot is not None] == [SLOT]
    valve = state_of(hass, valve_id)
    assert valve.state == ValveState.OPEN
    assert valve.attributes["current_position"] == 40
    assert valve.attributes["is_closed"] is False

    await _valve(hass, "close_valve", valve_id)
    assert (await _slots(simulator, STOCKROOM))[SLOT] == 0.0
    assert state_of(hass, valve_id).state == ValveState.CLOSED
    await _valve(hass, "open_valve", valve_id)
    assert (await _slots(simulator, STOCKROOM))[SLOT] == 100.0
    assert state_of(hass, valve_id).attributes["current_position"] == 100
    await _valve(hass, "toggle", valve_id)  # open: toggling closes it
    assert (await _slots(simulator, STOCKROOM))[SLOT] == 0.0

    # Its command is given back like the number's.
    await _valve(hass, "set_valve_position", valve_id, position=65)
    await hass.services.async_call(
        DOMAIN, SERVICE_RELINQUISH, {ATTR_ENTITY_ID: valve_id}, blocking=True
    )
    assert await _slots(simulator, STOCKROOM) == [None] * 16
    assert state_of(hass, valve_id).attributes["current_position"] == 0
    assert held(coordinator_of(entry)) == set()
    await _unload(hass, entry)


async def test_only_valve_points_are_valves_and_their_numbers_are_spares(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """A valve point's number is made but disabled by default on a new site; an analog
    output without the role stays a number, and is no valve."""
    entry = await _site(hass, simulator)
    registry = er.async_get(hass)
    spare = registry.async_get(entity_id_of(hass, entry, "number", STOCKROOM))
    assert spare is not None
    assert spare.entity_id == "number.hvac_controller_vlv_stockroom"
    assert spare.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get(spare.entity_id) is None
    subentry_id = coordinator_of(entry).subentry.subentry_id
    tenant_b = f"{subentry_id}_{object_key(ObjectId.parse('analog-output,3'))}"
    assert registry.async_get_entity_id("valve", DOMAIN, tenant_b) is None
    number = registry.async_get_entity_id("number", DOMAIN, tenant_b)
    assert number is not None
    assert state_of(hass, number).state == "0.0"
    await _unload(hass, entry)


async def test_a_valve_whose_number_existed_keeps_the_number_as_it_was(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """A site upgraded from before the valve platform: its valve's number keeps its entity id
    and stays enabled; the valve entity comes next to it, and both show the same position."""
    subentry = device_subentry(
        simulator, objects=demo_objects(ROLES), scan_interval_s=SCAN_S, cov=False
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        title="Corner Shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=BACNET_OPTIONS,
        subentries_data=[{**subentry, "subentry_id": "controller"}],
    )
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    unique_id = f"controller_{object_key(ObjectId.parse(STOCKROOM))}"
    before = registry.async_get_or_create(
        "number",
        DOMAIN,
        unique_id,
        config_entry=entry,
        config_subentry_id="controller",
        suggested_object_id="stockroom_valve_before",
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    number = registry.async_get(before.entity_id)
    assert number is not None
    assert number.disabled_by is None
    assert registry.async_get_entity_id("number", DOMAIN, unique_id) == before.entity_id
    valve_id = registry.async_get_entity_id("valve", DOMAIN, unique_id)
    assert valve_id is not None
    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: before.entity_id, "value": 30}, blocking=True
    )
    assert float(state_of(hass, before.entity_id).state) == 30.0
    assert state_of(hass, valve_id).attributes["current_position"] == 30
    await _unload(hass, entry)


async def test_the_position_is_what_the_device_holds(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """An operator's override at priority 8 wins over microdc's command: the valve shows it,
    and microdc's command is still in its slot, taking over again when the operator leaves."""
    entry = await _site(hass, simulator)
    clock = Clock(hass, SCAN_S)
    valve_id = entity_id_of(hass, entry, "valve", STOCKROOM)
    await _valve(hass, "set_valve_position", valve_id, position=40)
    network = await BacnetNetwork.acquire(BacnetSiteSettings.from_options(BACNET_OPTIONS).network)
    try:
        operator = network.device(f"{simulator.host}:{simulator.bacnet_port}", INSTANCE)
        await operator.write_present_value(ObjectId.parse(STOCKROOM), 20.0, OPERATOR)
        await clock.tick()
        assert state_of(hass, valve_id).attributes["current_position"] == 20
        slots = await _slots(simulator, STOCKROOM)
        assert (slots[OPERATOR - 1], slots[SLOT]) == (20.0, 40.0)
        await operator.relinquish(ObjectId.parse(STOCKROOM), OPERATOR)
        await clock.tick()
        assert state_of(hass, valve_id).attributes["current_position"] == 40
    finally:
        await network.release()
    await _unload(hass, entry)


async def test_refused_writes_are_translated_errors(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """Outside the point's range (the object's max present value) and on a monitor-only
    site: a translated error, and nothing written."""
    limited = [
        replace(obj, max_value=80.0) if str(obj.object_id) == STOCKROOM else obj
        for obj in demo_objects(ROLES)
    ]
    entry = await _site(hass, simulator, objects=limited)
    valve_id = entity_id_of(hass, entry, "valve", STOCKROOM)
    with pytest.raises(HomeAssistantError) as refused:
        await _valve(hass, "set_valve_position", valve_id, position=90)
    assert (refused.value.translation_domain, refused.value.translation_key) == (
        DOMAIN,
        "out_of_range",
    )
    with pytest.raises(HomeAssistantError) as refused:
        await _valve(hass, "open_valve", valve_id)  # 100 %
    assert refused.value.translation_key == "out_of_range"
    assert await _slots(simulator, STOCKROOM) == [None] * 16
    await _valve(hass, "set_valve_position", valve_id, position=80)  # the limit itself is fine
    assert (await _slots(simulator, STOCKROOM))[SLOT] == 80.0
    await _unload(hass, entry)

    entry = await _site(hass, simulator, monitor_only=True)
    valve_id = entity_id_of(hass, entry, "valve", TENANT_A)
    for service, data in (("set_valve_position", {"position": 50}), ("open_valve", {})):
        with pytest.raises(ServiceValidationError) as refused:
            await _valve(hass, service, valve_id, **data)
        assert (refused.value.translation_domain, refused.value.translation_key) == (
            DOMAIN,
            "routing_monitor_only",
        )
    assert await _slots(simulator, TENANT_A) == [None] * 16
    await _unload(hass, entry)
