"""Helpers for the BACnet device tests: a site whose devices are the simulator's controller.

The demo site's controller (simulator/sites/demo.yaml, ``bacnet:``) is read here as data to
build the subentry a finished flow would store; the values always come from the simulator over
BACnet/IP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
import yaml

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_BACNET_DEVICE
from custom_components.microdc.coordinator import DeviceCoordinator
from custom_components.microdc.lib.devices.bacnet import BacnetDevice
from custom_components.microdc.lib.devices.bacnet_config import (
    BacnetDeviceConfig,
    BacnetObjectConfig,
    device_unique_id,
    object_key,
)
from custom_components.microdc.lib.protocols.bacnet import ObjectId
from tests.simulator_process import REPO_ROOT, SimulatorProcess

DEVICE_NAME = "hvac-controller"
INSTANCE = 47110
WRITE_PRIORITY = 12
# Loopback with a free port; a short timeout and no retry so an offline device is noticed
# within seconds.
BACNET_OPTIONS: dict[str, Any] = {
    "bacnet": {
        "local_address": "127.0.0.1/8",
        "local_port": 0,
        "local_device_instance": 4194300,
        "bbmd_address": "",
        "write_priority": WRITE_PRIORITY,
        "apdu_timeout": 1.0,
        "apdu_retries": 0,
    }
}
DEADLINE_S = 15.0


def demo_objects(roles: dict[str, str] | None = None) -> list[BacnetObjectConfig]:
    """Every object of the demo controller, as the flow would store it."""
    roles = roles or {}
    raw = yaml.safe_load((REPO_ROOT / "simulator" / "sites" / "demo.yaml").read_text())
    objects = []
    for item in raw["bacnet"]["objects"]:
        oid = ObjectId(item["type"], int(item["instance"]))
        commandable = item["type"].endswith("-output")
        analog_output = item["type"] == "analog-output"
        objects.append(
            BacnetObjectConfig(
                object_id=oid,
                name=item["name"],
                description=item.get("description"),
                units=item.get("units"),
                commandable=commandable,
                role=roles.get(str(oid)),
                min_value=0.0 if analog_output else None,
                max_value=100.0 if analog_output else None,
            )
        )
    return objects


def meter_objects(meter: str, roles: dict[str, str]) -> list[BacnetObjectConfig]:
    """The objects of one of the demo site's BACnet heat meters (``bacnet_meters``), with roles
    by object ("analog-input,2": "heat_meter_energy"), as the flow would store them."""
    raw = yaml.safe_load((REPO_ROOT / "simulator" / "sites" / "demo.yaml").read_text())
    device = next(d for d in raw["bacnet_meters"] if d["name"] == meter)
    return [
        BacnetObjectConfig(
            object_id=(oid := ObjectId(item["type"], int(item["instance"]))),
            name=item["name"],
            description=item.get("description"),
            units=item.get("units"),
            role=roles.get(str(oid)),
        )
        for item in device["objects"]
    ]


def meter_subentry(
    sim: SimulatorProcess,
    meter: str,
    roles: dict[str, str],
    *,
    subentry_id: str,
    scan_interval_s: float = 10,
) -> dict[str, Any]:
    """The subentry of one of the simulator's BACnet heat meters, polled (no COV): a meter's
    counter is read at the site's pace, as the Modbus meter's is."""
    port, instance = sim.bacnet_meters[meter]
    config = BacnetDeviceConfig(
        address=f"{sim.host}:{port}",
        device_instance=instance,
        objects=tuple(meter_objects(meter, roles)),
        scan_interval_s=scan_interval_s,
        cov=False,
    )
    return {
        "subentry_id": subentry_id,
        "data": config.as_data(),
        "subentry_type": SUBENTRY_BACNET_DEVICE,
        "title": meter,
        "unique_id": device_unique_id(instance),
    }


def device_subentry(
    sim: SimulatorProcess,
    *,
    objects: list[BacnetObjectConfig] | None = None,
    scan_interval_s: float = 30,
    cov: bool = True,
    cov_lifetime_s: int = 3600,
) -> dict[str, Any]:
    """The subentry of the simulator's controller."""
    config = BacnetDeviceConfig(
        address=f"{sim.host}:{sim.bacnet_port}",
        device_instance=INSTANCE,
        objects=tuple(objects if objects is not None else demo_objects()),
        scan_interval_s=scan_interval_s,
        cov=cov,
        cov_lifetime_s=cov_lifetime_s,
    )
    return {
        "data": config.as_data(),
        "subentry_type": SUBENTRY_BACNET_DEVICE,
        "title": DEVICE_NAME,
        "unique_id": device_unique_id(INSTANCE),
    }


async def setup_site(
    hass: HomeAssistant, *subentries: dict[str, Any], name: str = "Corner Shop"
) -> MockConfigEntry:
    """A site with these device subentries, loaded."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=name.lower().replace(" ", "_"),
        title=name,
        data={CONF_SITE_NAME: name},
        options=BACNET_OPTIONS,
        subentries_data=list(subentries),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def bacnet_coordinators(entry: MockConfigEntry) -> list[DeviceCoordinator]:
    """The site's BACnet devices' coordinators, in subentry order."""
    return [c for c in entry.runtime_data.devices.values() if isinstance(c.device, BacnetDevice)]


def coordinator_of(entry: MockConfigEntry, index: int = 0) -> DeviceCoordinator:
    return bacnet_coordinators(entry)[index]


async def write(coordinator: DeviceCoordinator, object_id: str, value: Any) -> None:
    """Command an object as the entities do, at the site's priority."""
    key = object_key(ObjectId.parse(object_id))
    await coordinator.async_write(key, value, priority=WRITE_PRIORITY)


def held(coordinator: DeviceCoordinator) -> set[str]:
    """The objects (as "type,instance") microdc holds a command on."""
    return {
        str(obj.object_id)
        for obj in BacnetDeviceConfig.from_data(coordinator.subentry.data).objects
        if obj.key in coordinator.device.held
    }


def entity_id_of(
    hass: HomeAssistant, entry: MockConfigEntry, platform: str, object_id: str, index: int = 0
) -> str:
    coordinator = coordinator_of(entry, index)
    unique_id = f"{coordinator.subentry.subentry_id}_{object_key(ObjectId.parse(object_id))}"
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, (platform, object_id)
    return entity_id


def state_of(hass: HomeAssistant, entity_id: str) -> State:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


async def wait_for(
    condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S
) -> None:
    """Poll a condition until it holds; fail after the deadline (real peers answer in ms)."""
    async with asyncio.timeout(deadline_s):
        while not condition():  # noqa: ASYNC110 (state set by another process: poll it)
            await asyncio.sleep(0.02)
    assert condition(), what


def sim_object(state: dict[str, Any], object_id: str) -> dict[str, Any]:
    """One object of the simulator's BACnet device in GET /state."""
    return next(o for o in state["bacnet"]["objects"] if o["object"] == object_id)


def sim_command(state: dict[str, Any], object_id: str) -> dict[str, Any]:
    """A commandable object's priority array block in GET /state."""
    blocks = [valve["bacnet"] for valve in state["valves"].values()] + [state["pump"]["bacnet"]]
    return dict(next(block for block in blocks if block["object"] == object_id))


async def cov_outdoor_change(hass: HomeAssistant, sim: SimulatorProcess, entity_id: str) -> float:
    """Move OUTDOOR-T (simulated hours pass) until a COV notification changes the entity.

    The device notifies whenever the value has moved by its COV increment (0.5) from the value
    it last notified, also part-way through an advance; so the entity ends within the
    increment of the device's final value. No poll is involved: the caller's scan interval is
    long and its timers are not fired. Returns the value the entity shows.
    """
    for _ in range(24):
        shown = float(state_of(hass, entity_id).state)  # the device's last notified value
        await sim.async_advance(2 * 3600)
        value = float(sim_object(await sim.async_state(), "analog-input,4")["present_value"])
        if abs(value - shown) <= 0.5:
            continue  # it may have moved and come back: no notification is certain
        await wait_for(
            lambda shown=shown, value=value: (
                float(state_of(hass, entity_id).state) != shown
                and abs(float(state_of(hass, entity_id).state) - value) <= 0.5
            ),
            "a notified value on the entity",
        )
        return float(state_of(hass, entity_id).state)
    raise AssertionError("the outdoor temperature does not move")


class Clock:
    """Fires Home Assistant's timers one scan interval ahead (the coordinators' next poll).

    Not freezegun: bacpypes3 waits on real loop time. async_fire_time_changed runs every
    timer due within the jump, bacpypes3's and the transport's included, so a tick is taken
    only while no request is in flight, and COV lifetimes in these tests are long enough
    that a jump never reaches a renewal.
    """

    def __init__(self, hass: HomeAssistant, step_s: float) -> None:
        self.hass = hass
        self.step = timedelta(seconds=step_s + 1)

    async def tick(self) -> None:
        async_fire_time_changed(self.hass, dt_util.utcnow() + self.step)
        await self.hass.async_block_till_done(wait_background_tasks=True)
