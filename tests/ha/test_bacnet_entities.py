"""BACnet devices of a site in Home Assistant, against the simulator's controller on 127.0.0.1.

Entity mapping, COV ahead of the poll, commands at microdc's priority and their relinquish,
relinquish on unload, RPM and its fallback, two devices on one socket, a device that goes away
and comes back, and the translated errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging
import socket
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SERVICE_RELINQUISH
from custom_components.microdc.coordinator import translated_error
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from custom_components.microdc.lib.devices.bacnet import BacnetRequestError, error_reason
from custom_components.microdc.lib.devices.bacnet_config import BacnetObjectConfig
from custom_components.microdc.lib.protocols import bacnet as transport
from custom_components.microdc.lib.protocols.bacnet import (
    BacnetAbortError,
    BacnetDeviceError,
    BacnetError,
    BacnetNetwork,
    BacnetRejectError,
    BacnetTimeoutError,
    ObjectId,
    PointReading,
    StatusFlags,
)
from custom_components.microdc.settings import BacnetSiteSettings
from custom_components.microdc.site_points import (
    async_site_points,
    meter_devices,
    valve_candidates,
)
from tests.ha.bacnet_site import (
    BACNET_OPTIONS,
    DEADLINE_S,
    DEVICE_NAME,
    INSTANCE,
    WRITE_PRIORITY,
    Clock,
    bacnet_coordinators,
    coordinator_of,
    cov_outdoor_change,
    demo_objects,
    device_subentry,
    entity_id_of,
    held,
    setup_site,
    sim_command,
    sim_object,
    state_of,
    wait_for,
    write,
)
from tests.simulator_process import REPO_ROOT, SimulatorProcess

SLOT = WRITE_PRIORITY - 1  # the priority array is 1-based, the JSON list 0-based
# Long enough that no poll happens by itself during a test: only Clock.tick() polls.
SCAN_S = 600

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
async def _network_released() -> Any:
    """Every test gives the shared socket back (no site left loaded holds it)."""
    yield
    assert transport._shared is None, "the BACnet/IP socket is still open"


async def _unload(hass: HomeAssistant, *entries: Any) -> None:
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_entity_mapping(
    hass: HomeAssistant, simulator: SimulatorProcess, device_registry: dr.DeviceRegistry
) -> None:
    """Analog in: sensor; binary in: binary sensor; analog out: number (and valve, for a valve
    point); binary out: switch."""
    roles = {
        "analog-input,1": "loop_supply_temperature",
        "analog-output,1": "valve_position",
        "binary-input,1": "occupancy",
    }
    entry = await setup_site(
        hass, device_subentry(simulator, objects=demo_objects(roles), scan_interval_s=SCAN_S)
    )
    assert entry.state is ConfigEntryState.LOADED
    sim = await simulator.async_state()

    supply = state_of(hass, entity_id_of(hass, entry, "sensor", "analog-input,1"))
    assert float(supply.state) == pytest.approx(
        sim_object(sim, "analog-input,1")["present_value"], abs=1e-4
    )
    assert supply.attributes["device_class"] == "temperature"
    assert supply.attributes["unit_of_measurement"] == "°C"
    assert supply.attributes["state_class"] == "measurement"
    assert supply.attributes["friendly_name"] == f"{DEVICE_NAME} LOOP-SUPPLY-T"
    assert supply.attributes["role"] == "loop_supply_temperature"
    assert supply.attributes["role"] == "loop_supply_temperature"
    assert supply.attributes["out_of_service"] is False

    flow = state_of(hass, entity_id_of(hass, entry, "sensor", "analog-input,3"))
    assert flow.attributes["device_class"] == "volume_flow_rate"
    assert flow.attributes["unit_of_measurement"] == "m³/h"
    assert float(flow.state) == pytest.approx(sim_object(sim, "analog-input,3")["present_value"])

    occupancy = state_of(hass, entity_id_of(hass, entry, "binary_sensor", "binary-input,1"))
    expected = STATE_ON if sim_object(sim, "binary-input,1")["present_value"] else STATE_OFF
    assert occupancy.state == expected
    assert occupancy.attributes["device_class"] == "occupancy"  # from its role

    valve = state_of(hass, entity_id_of(hass, entry, "valve", "analog-output,1"))
    assert (
        valve.attributes["current_position"] == sim_command(sim, "analog-output,1")["present_value"]
    )
    assert valve.attributes["device_class"] == "water"
    # The valve point's number is a spare, disabled by default; an output without the role
    # is a number.
    spare = er.async_get(hass).async_get(entity_id_of(hass, entry, "number", "analog-output,1"))
    assert spare is not None
    assert spare.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    tenant_b = state_of(hass, entity_id_of(hass, entry, "number", "analog-output,3"))
    assert float(tenant_b.state) == sim_command(sim, "analog-output,3")["present_value"]
    assert tenant_b.attributes["unit_of_measurement"] == "%"
    assert (tenant_b.attributes["min"], tenant_b.attributes["max"]) == (0.0, 100.0)
    dry_cooler = state_of(hass, entity_id_of(hass, entry, "number", "analog-output,5"))
    assert float(dry_cooler.state) == 100.0  # its relinquish default: heat goes outdoors

    pump = state_of(hass, entity_id_of(hass, entry, "switch", "binary-output,1"))
    assert pump.state == STATE_ON

    # One entity per object, and a valve for the valve point; commandable objects are
    # controls only.
    subentry_id = coordinator_of(entry).subentry.subentry_id
    domains = [
        e.domain
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.config_subentry_id == subentry_id
    ]
    assert sorted(domains) == sorted(
        ["sensor"] * 12 + ["binary_sensor"] * 3 + ["number"] * 5 + ["switch", "valve"]
    )

    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, coordinator_of(entry).subentry.subentry_id), entry.entry_id
    )
    assert device is not None
    assert device.name == DEVICE_NAME
    # A device added before microdc read the device object (no identity in its subentry,
    # no names of its own for its objects): as it was.
    assert (device.manufacturer, device.model, device.sw_version) == (
        "BACnet",
        f"BACnet/IP device {INSTANCE}",
        None,
    )
    assert "identity" not in coordinator_of(entry).subentry.data
    site = device_registry.async_get_device_by_identifier((DOMAIN, entry.entry_id), entry.entry_id)
    assert site is not None
    assert device.via_device_id == site.id
    await _unload(hass, entry)


async def test_cov_reaches_the_entity_before_the_poll(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    coordinator = coordinator_of(entry)
    outdoor_id = entity_id_of(hass, entry, "sensor", "analog-input,4")
    await wait_for(
        lambda: (
            all(s.active for s in coordinator.device.subscriptions.values())
            and len(coordinator.device.subscriptions) == len(coordinator.device.config.objects)
        ),
        "every object subscribed",
    )
    before = float(state_of(hass, outdoor_id).state)
    requests_before = coordinator.device.client.requests_sent

    # Hours later the outdoor temperature has moved by more than its COV increment; no poll
    # runs (the scan interval is ten minutes and time is not fired).
    notified = coordinator.device.subscriptions[ObjectId("analog-input", 4)].notifications
    after = await cov_outdoor_change(hass, simulator, outdoor_id)
    assert after != before
    assert coordinator.device.client.requests_sent == requests_before  # nothing was polled
    assert coordinator.device.subscriptions[ObjectId("analog-input", 4)].notifications > notified
    await _unload(hass, entry)


async def test_write_and_relinquish_at_microdc_priority(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    valve_id = entity_id_of(hass, entry, "number", "analog-output,1")
    pump_id = entity_id_of(hass, entry, "switch", "binary-output,1")

    await hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: valve_id, "value": 40}, blocking=True
    )
    await hass.services.async_call("switch", "turn_off", {ATTR_ENTITY_ID: pump_id}, blocking=True)
    sim = await simulator.async_state()
    valve = sim_command(sim, "analog-output,1")
    assert valve["priority_array"][SLOT] == 40.0
    assert valve["current_command_priority"] == WRITE_PRIORITY
    assert [i for i, slot in enumerate(valve["priority_array"]) if slot is not None] == [SLOT]
    assert sim_command(sim, "binary-output,1")["priority_array"][SLOT] is False
    assert float(state_of(hass, valve_id).state) == 40.0
    assert state_of(hass, pump_id).state == STATE_OFF

    await hass.services.async_call(
        DOMAIN, SERVICE_RELINQUISH, {ATTR_ENTITY_ID: [valve_id, pump_id]}, blocking=True
    )
    sim = await simulator.async_state()
    assert sim_command(sim, "analog-output,1")["priority_array"] == [None] * 16
    assert sim_command(sim, "binary-output,1")["priority_array"] == [None] * 16
    # Back to the relinquish defaults: the building's own control.
    assert float(state_of(hass, valve_id).state) == 0.0
    assert state_of(hass, pump_id).state == STATE_ON
    assert held(coordinator_of(entry)) == set()

    # Only microdc's commandable BACnet entities can be relinquished.
    sensor_id = entity_id_of(hass, entry, "sensor", "analog-input,1")
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, SERVICE_RELINQUISH, {ATTR_ENTITY_ID: sensor_id}, blocking=True
        )
    assert info.value.translation_key == "not_a_bacnet_command"
    await _unload(hass, entry)


async def test_unload_relinquishes_every_command(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    for instance, value in ((2, 55.0), (3, 20.0)):
        await hass.services.async_call(
            "number",
            "set_value",
            {
                ATTR_ENTITY_ID: entity_id_of(hass, entry, "number", f"analog-output,{instance}"),
                "value": value,
            },
            blocking=True,
        )
    sim = await simulator.async_state()
    assert sim_command(sim, "analog-output,2")["priority_array"][SLOT] == 55.0
    assert sim_command(sim, "analog-output,3")["priority_array"][SLOT] == 20.0

    await _unload(hass, entry)
    sim = await simulator.async_state()
    assert sim_command(sim, "analog-output,2")["priority_array"] == [None] * 16
    assert sim_command(sim, "analog-output,3")["priority_array"] == [None] * 16
    assert sim_command(sim, "analog-output,2")["present_value"] == 0.0


async def test_rpm_batches_and_single_read_fallback(
    hass: HomeAssistant, simulator_factory: Callable[..., SimulatorProcess]
) -> None:
    """One RPM per poll; a device refusing RPM and segmentation is read object by object."""
    batched = simulator_factory()
    refusing = simulator_factory()
    await _bacnet_options(refusing, rpm_enabled=False, segmentation=False)
    entry = await setup_site(
        hass,
        # The controller's first 14 objects: as many as one ReadPropertyMultiple carries
        # before the device has said how long an APDU it takes.
        device_subentry(batched, objects=demo_objects()[:14], scan_interval_s=SCAN_S, cov=False),
        device_subentry(refusing, scan_interval_s=SCAN_S, cov=False),
    )
    clock = Clock(hass, SCAN_S)
    fast, slow = coordinator_of(entry, 0), coordinator_of(entry, 1)
    assert fast.device.client.address != slow.device.client.address
    objects = len(slow.device.config.objects)

    sent = (fast.device.client.requests_sent, slow.device.client.requests_sent)
    await clock.tick()
    assert fast.device.client.requests_sent - sent[0] == 1
    # Present value and status flags of each object, one ReadProperty each.
    assert slow.device.client.requests_sent - sent[1] == 2 * objects
    assert (fast.device.client.rpm_supported, slow.device.client.rpm_supported) == (True, False)

    refused = await refusing.async_state()
    for index in (0, 1):
        supply = state_of(hass, entity_id_of(hass, entry, "sensor", "analog-input,2", index))
        assert float(supply.state) == pytest.approx(
            sim_object(refused, "analog-input,2")["present_value"]
        )
    assert refused["requests"]["bacnet"].get("read-property-multiple", 0) >= 1  # refused once
    await _unload(hass, entry)


async def _bacnet_options(sim: SimulatorProcess, **options: Any) -> None:
    status, answer = await sim.async_request("POST", "/bacnet", json.dumps(options).encode())
    assert status == 200, answer


async def test_two_devices_on_one_shared_socket(
    hass: HomeAssistant,
    simulator: SimulatorProcess,
    simulator_factory: Callable[..., SimulatorProcess],
) -> None:
    """Two sites, one controller each: one BACnet/IP socket, both read."""
    other = simulator_factory()
    shop = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    mall = await setup_site(hass, device_subentry(other, scan_interval_s=SCAN_S), name="Strip Mall")
    network = coordinator_of(shop).device.client._network
    assert network is not None
    assert coordinator_of(mall).device.client._network is network
    assert network.references == 2
    for entry, sim in ((shop, simulator), (mall, other)):
        state = state_of(hass, entity_id_of(hass, entry, "sensor", "analog-input,3"))
        assert float(state.state) == pytest.approx(
            sim_object(await sim.async_state(), "analog-input,3")["present_value"]
        )

    await _unload(hass, shop)
    assert network.references == 1
    clock = Clock(hass, SCAN_S)
    await clock.tick()
    flow_id = entity_id_of(hass, mall, "sensor", "analog-input,3")
    assert state_of(hass, flow_id).state != STATE_UNAVAILABLE
    assert coordinator_of(mall).last_update_success
    await _unload(hass, mall)


async def test_device_offline_and_back(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unavailable while away (logged once), back after, COV subscribed again."""
    sim = simulator_factory()
    entry = await setup_site(hass, device_subentry(sim, scan_interval_s=SCAN_S))
    coordinator = coordinator_of(entry)
    clock = Clock(hass, SCAN_S)
    outdoor_id = entity_id_of(hass, entry, "sensor", "analog-input,4")
    await wait_for(
        lambda: len(coordinator.device.subscriptions) == len(coordinator.device.config.objects),
        "subscribed",
    )
    subscribes_before = (await sim.async_state())["requests"]["bacnet"]["subscribe-cov"]

    caplog.set_level(logging.INFO, logger="custom_components.microdc.coordinator")
    await sim.async_inject_fault("device_offline", device=DEVICE_NAME)
    await clock.tick()
    await clock.tick()
    assert state_of(hass, outdoor_id).state == STATE_UNAVAILABLE
    assert state_of(hass, entity_id_of(hass, entry, "number", "analog-output,1")).state == (
        STATE_UNAVAILABLE
    )
    failures = [
        r
        for r in caplog.records
        if r.name == "custom_components.microdc.coordinator" and r.levelno >= logging.ERROR
    ]
    assert len(failures) == 1, [r.message for r in failures]

    # Back: the device restarted (forgot its subscriptions) and says I-Am; microdc
    # subscribes every object again. Wait for that round to end before firing timers.
    await sim.async_clear_faults()
    objects = len(coordinator.device.config.objects)
    async with asyncio.timeout(DEADLINE_S):
        while (await sim.async_state())["requests"]["bacnet"]["subscribe-cov"] < (  # noqa: ASYNC110
            subscribes_before + objects
        ) or coordinator.device.client._resubscribing:
            await asyncio.sleep(0.05)
    assert all(s.active for s in coordinator.device.subscriptions.values())
    await clock.tick()
    assert state_of(hass, outdoor_id).state != STATE_UNAVAILABLE
    recovered = [
        r
        for r in caplog.records
        if r.name == "custom_components.microdc.coordinator" and "recovered" in r.message
    ]
    assert len(recovered) == 1

    # The new subscriptions deliver: a change arrives without a poll.
    await cov_outdoor_change(hass, sim, outdoor_id)
    await _unload(hass, entry)


async def test_errors_are_translated(hass: HomeAssistant, simulator: SimulatorProcess) -> None:
    """The device's refusals become HomeAssistantErrors with their translation keys."""
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    coordinator = coordinator_of(entry)

    async def refused(object_id: str, value: float) -> HomeAssistantError:
        with pytest.raises(HomeAssistantError) as info:
            await write(coordinator, object_id, value)
        return info.value

    denied = await refused("analog-input,1", 20.0)  # an input in service is read-only
    # microdc refuses an input itself: only commandable objects are writable points.
    assert denied.translation_key == "not_writable"
    assert denied.translation_placeholders["object"] == "LOOP-SUPPLY-T"
    # microdc refuses what the object's own range or the subentry rule out before sending.
    assert (await refused("analog-output,1", 150.0)).translation_key == "out_of_range"
    assert (await refused("analog-output,99", 1.0)).translation_key == "not_writable"
    # The number entity's own range check comes first (Home Assistant's validation).
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            "number",
            "set_value",
            {ATTR_ENTITY_ID: entity_id_of(hass, entry, "number", "analog-output,1"), "value": 150},
            blocking=True,
        )
    assert held(coordinator) == set()

    await simulator.async_inject_fault("device_offline", device=DEVICE_NAME)
    try:
        timeout = await refused("analog-output,1", 10.0)
    finally:
        await simulator.async_clear_faults()
    assert timeout.translation_key == "bacnet_timeout"
    await _unload(hass, entry)


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (BacnetTimeoutError("silent"), "bacnet_timeout"),
        (BacnetRejectError("unrecognized-service"), "bacnet_reject"),
        (BacnetAbortError("segmentation-not-supported"), "bacnet_abort"),
        (BacnetDeviceError("property", "write-access-denied"), "bacnet_error"),
        (BacnetError("undecodable"), "bacnet_error"),
    ],
)
def test_error_keys_have_translations(error: BacnetError, key: str) -> None:
    """Reject and abort cannot be provoked on a write to the simulator: their mapping here."""
    assert error_reason(error) == key
    strings = json.loads((REPO_ROOT / "custom_components" / "microdc" / "strings.json").read_text())
    message = strings["exceptions"][key]["message"]
    placeholders = {"device": "hvac-controller", "object": "VLV-STOCKROOM", "error": str(error)}
    assert message.format(**placeholders)
    translated = translated_error(BacnetRequestError(error), "hvac-controller", "VLV-STOCKROOM")
    assert translated.translation_placeholders == placeholders


async def test_site_points_name_bacnet_objects(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """Heat destinations and heat accounting find BACnet objects by role, like Modbus points."""
    roles = {"analog-input,3": "loop_flow", "analog-output,2": "valve_position"}
    entry = await setup_site(
        hass, device_subentry(simulator, objects=demo_objects(roles), scan_interval_s=SCAN_S)
    )
    coordinator = coordinator_of(entry)
    points = {p.key: p for p in await async_site_points(hass, entry)}
    assert points["analog-input_3"].role == "loop_flow"
    assert points["analog-input_3"].unit == "m³/h"
    valves = {p.key: p.label for p in valve_candidates(list(points.values()))}
    # The valve with its role, and every other 0-100 % object without one, by object name
    # (the valves' position feedback too); not the dry cooler's (VLV-DRY-COOLER, "Heat
    # rejection valve ...", and its feedback VLV-DRY-COOLER-POS): that is reject's.
    assert valves == {
        "analog-input_8": f"{DEVICE_NAME}: VLV-STOCKROOM-POS",
        "analog-input_9": f"{DEVICE_NAME}: VLV-TENANT-A-POS",
        "analog-input_10": f"{DEVICE_NAME}: VLV-TENANT-B-POS",
        "analog-input_11": f"{DEVICE_NAME}: VLV-SHARED-LOOP-POS",
        "analog-output_1": f"{DEVICE_NAME}: VLV-STOCKROOM",
        "analog-output_2": f"{DEVICE_NAME}: VLV-TENANT-A",
        "analog-output_3": f"{DEVICE_NAME}: VLV-TENANT-B",
        "analog-output_4": f"{DEVICE_NAME}: VLV-SHARED-LOOP",
    }
    assert meter_devices(list(points.values())) == {coordinator.subentry.subentry_id: DEVICE_NAME}
    sim = await simulator.async_state()
    assert coordinator.value("analog-input_3") == pytest.approx(
        sim_object(sim, "analog-input,3")["present_value"]
    )
    assert coordinator.value("analog-output_5") == 100.0
    assert coordinator.value("no-such_1") is None
    await _unload(hass, entry)


async def test_a_pushed_change_rewrites_only_its_entity(
    hass: HomeAssistant, simulator: SimulatorProcess, freezer: FrozenDateTimeFactory
) -> None:
    """One COV notification writes one entity's state; the device's other listeners hear it."""
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S, cov=False))
    coordinator = coordinator_of(entry)
    outdoor_id = entity_id_of(hass, entry, "sensor", "analog-input,4")
    supply_id = entity_id_of(hass, entry, "sensor", "analog-input,1")
    heard: list[None] = []
    coordinator.async_add_listener(lambda: heard.append(None))  # the site's, as routing's
    supply_reported = state_of(hass, supply_id).last_reported
    freezer.tick(5)

    coordinator.device._on_cov(PointReading(ObjectId("analog-input", 4), -3.25, StatusFlags()))
    assert state_of(hass, outdoor_id).state == "-3.25"
    assert state_of(hass, outdoor_id).last_reported > supply_reported
    assert state_of(hass, supply_id).last_reported == supply_reported  # not rewritten
    assert len(heard) == 1
    await _unload(hass, entry)


async def test_status_flags_and_multi_state(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """fault: unavailable; out of service: value kept, flagged. Multi-state: state texts.

    The simulator's controller has no multi-state objects and cannot set status flags, so
    these readings are handed to the coordinator as a COV notification would hand them.
    """
    mode = BacnetObjectConfig(
        ObjectId("multi-state-value", 1),
        "PLANT-MODE",
        commandable=True,
        state_texts=("off", "heat recovery", "reject"),
    )
    season = BacnetObjectConfig(
        ObjectId("multi-state-input", 2), "SEASON", state_texts=("winter", "summer")
    )
    entry = await setup_site(
        hass,
        device_subentry(
            simulator, objects=[*demo_objects(), mode, season], scan_interval_s=SCAN_S, cov=False
        ),
    )
    coordinator = coordinator_of(entry)
    mode_id = entity_id_of(hass, entry, "select", "multi-state-value,1")
    season_id = entity_id_of(hass, entry, "sensor", "multi-state-input,2")
    supply_id = entity_id_of(hass, entry, "sensor", "analog-input,1")
    # The device has no such objects: the poll reads an error for them, the rest is fine.
    assert state_of(hass, mode_id).state == STATE_UNAVAILABLE
    assert state_of(hass, supply_id).state != STATE_UNAVAILABLE

    coordinator.device._on_cov(PointReading(mode.object_id, 2, StatusFlags()))
    coordinator.device._on_cov(PointReading(season.object_id, 1, StatusFlags()))
    select = state_of(hass, mode_id)
    assert select.state == "heat recovery"
    assert select.attributes["options"] == ["off", "heat recovery", "reject"]
    sensor = state_of(hass, season_id)
    assert (sensor.state, sensor.attributes["device_class"]) == ("winter", "enum")
    assert sensor.attributes["options"] == ["winter", "summer"]

    coordinator.device._on_cov(
        PointReading(ObjectId("analog-input", 1), 30.5, StatusFlags(fault=True))
    )
    assert state_of(hass, supply_id).state == STATE_UNAVAILABLE
    assert coordinator.value("analog-input_1") is None
    coordinator.device._on_cov(
        PointReading(ObjectId("analog-input", 1), 31.0, StatusFlags(out_of_service=True))
    )
    supply = state_of(hass, supply_id)
    assert (supply.state, supply.attributes["out_of_service"]) == ("31.0", True)

    # Choosing a state writes it; this device has no such object: a translated error.
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            "select",
            "select_option",
            {ATTR_ENTITY_ID: mode_id, "option": "reject"},
            blocking=True,
        )
    assert info.value.translation_key == "bacnet_unknown_object"
    assert info.value.translation_placeholders["object"] == "PLANT-MODE"
    await _unload(hass, entry)


async def test_diagnostics_list_objects_and_cov_without_addresses(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await setup_site(hass, device_subentry(simulator, scan_interval_s=SCAN_S))
    coordinator = coordinator_of(entry)
    await wait_for(
        lambda: len(coordinator.device.subscriptions) == len(coordinator.device.config.objects),
        "every object subscribed",
    )
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diagnostics)
    assert f"{simulator.host}:{simulator.bacnet_port}" not in text
    assert "127.0.0.1/8" not in text  # the site's own BACnet address
    device = diagnostics["devices"][coordinator.subentry.subentry_id]
    assert device["address"] == "**REDACTED**"
    assert device["rpm_supported"] is True
    assert diagnostics["write_priority"] == WRITE_PRIORITY
    objects = {o["object"]: o for o in device["objects"]}
    assert len(objects) == 21
    assert objects["analog-output,1"]["name"] == "VLV-STOCKROOM"
    assert objects["analog-output,1"]["commandable"] is True
    cov = objects["analog-input,1"]["cov"]
    assert cov["subscribed"] is True
    assert cov["active"] is True
    assert cov["notifications"] >= 1  # the device's first notification on subscribing
    await _unload(hass, entry)


async def test_commands_left_by_a_previous_run_are_adopted(
    hass: HomeAssistant, simulator: SimulatorProcess, hass_storage: dict[str, Any]
) -> None:
    """A command at microdc's priority found at start (after a crash) is given back on unload."""
    settings = BacnetSiteSettings.from_options(BACNET_OPTIONS)
    network = await BacnetNetwork.acquire(settings.network)
    try:
        client = network.device(f"{simulator.host}:{simulator.bacnet_port}", INSTANCE)
        await client.write_present_value(ObjectId("analog-output", 4), 33.0, WRITE_PRIORITY)
        await client.close()
    finally:
        await network.release()
    assert sim_command(await simulator.async_state(), "analog-output,4")["priority_array"][
        SLOT
    ] == (33.0)

    # The previous run recorded that it wrote it (a site adopts only its own commands).
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id="corner_shop",
        unique_id="corner_shop",
        title="Corner Shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=BACNET_OPTIONS,
        subentries_data=[device_subentry(simulator, scan_interval_s=SCAN_S)],
    )
    device_id = next(iter(entry.subentries))
    hass_storage[f"{DOMAIN}.commands.corner_shop"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.commands.corner_shop",
        "data": {"commands": {device_id: {"analog-output_4": {str(WRITE_PRIORITY): 33.0}}}},
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert held(coordinator_of(entry)) == {"analog-output,4"}
    await _unload(hass, entry)
    assert sim_command(await simulator.async_state(), "analog-output,4")["priority_array"] == (
        [None] * 16
    )


async def test_cov_renewed_before_its_lifetime_ends(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """A short lifetime (the flow allows 60 s and more): renewed at 3/4 of it, on real time."""
    objects = [o for o in demo_objects() if o.object_id == ObjectId("analog-input", 4)]
    entry = await setup_site(
        hass, device_subentry(simulator, objects=objects, scan_interval_s=SCAN_S, cov_lifetime_s=2)
    )
    coordinator = coordinator_of(entry)
    await wait_for(lambda: bool(coordinator.device.subscriptions), "subscribed")
    subscribed = (await simulator.async_state())["requests"]["bacnet"]["subscribe-cov"]
    async with asyncio.timeout(DEADLINE_S):
        while (await simulator.async_state())["requests"]["bacnet"]["subscribe-cov"] < (  # noqa: ASYNC110
            subscribed + 2
        ):
            await asyncio.sleep(0.2)
    # Still delivering after two renewals.
    outdoor_id = entity_id_of(hass, entry, "sensor", "analog-input,4")
    await cov_outdoor_change(hass, simulator, outdoor_id)
    await _unload(hass, entry)


async def test_socket_unavailable_raises_a_repair_issue(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """The site's port is held: the site loads, its BACnet devices wait, a repair issue says why."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id="busy_shop",
            title="Busy Shop",
            data={CONF_SITE_NAME: "Busy Shop"},
            options={"bacnet": {**BACNET_OPTIONS["bacnet"], "local_port": holder.getsockname()[1]}},
            subentries_data=[device_subentry(simulator, scan_interval_s=SCAN_S)],
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert bacnet_coordinators(entry) == []
    issue_id = f"bacnet_network_unavailable_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "bacnet_network_unavailable"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["site"] == "Busy Shop"

    # The port is free again: a reload sets the devices up and clears the issue.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(bacnet_coordinators(entry)) == 1
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    await _unload(hass, entry)
