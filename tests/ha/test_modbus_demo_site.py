"""The demo site's Modbus devices in Home Assistant, read from the site simulator over 127.0.0.1.

The simulator runs as its own process with time held still, so every entity can be compared
with GET /state exactly (within the profile's resolution). Tests that inject faults clear them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
import json
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigSubentry
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

import custom_components.microdc
from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from custom_components.microdc.lib.points import COUNTER_ROLES
from custom_components.microdc.lib.profile import BUILTIN_PROFILES_DIR, DataType, load_profiles
from custom_components.microdc.lib.protocols.modbus import ModbusConnectionPool
from custom_components.microdc.sensor import ups_state
from tests.simulator_process import SimulatorProcess

SCAN_S = 10
PROFILES = load_profiles(BUILTIN_PROFILES_DIR).profiles
_WH = {"Wh": 1.0, "kWh": 1000.0}


def _subentry(sim: SimulatorProcess, name: str, device: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "host": sim.host,
            "port": sim.modbus_port,
            "framing": "tcp",
            "unit_id": device["unit_id"],
            "profile": device["profile"],
            "polling": {"scan_interval": SCAN_S, "timeout": 0.5, "max_gap": 16},
        },
        "subentry_type": SUBENTRY_MODBUS_DEVICE,
        "title": name,
        "unique_id": f"{sim.host}:{sim.modbus_port}:{device['unit_id']}",
    }


class Site:
    """A loaded demo site and ways to look at it."""

    def __init__(self, hass: HomeAssistant, sim: SimulatorProcess, entry: MockConfigEntry) -> None:
        self.hass = hass
        self.sim = sim
        self.entry = entry
        self.ahead = timedelta()
        self.subentry_ids = {s.title: s.subentry_id for s in entry.subentries.values()}

    def state(self, device: str, key: str) -> State | None:
        """The state of a device's entity by its description key (None: no entity state)."""
        registry = er.async_get(self.hass)
        for platform in ("sensor", "binary_sensor", "number", "switch"):
            unique_id = f"{self.subentry_ids[device]}_{key}"
            if entity_id := registry.async_get_entity_id(platform, DOMAIN, unique_id):
                return self.hass.states.get(entity_id)
        raise AssertionError(f"no entity {device}.{key}")

    def value(self, device: str, key: str) -> str:
        state = self.state(device, key)
        assert state is not None, f"{device}.{key} has no state"
        return state.state

    async def tick(self) -> None:
        """One scan interval later (Home Assistant's timers only; the simulator holds still)."""
        self.ahead += timedelta(seconds=SCAN_S)
        async_fire_time_changed(self.hass, dt_util.utcnow() + self.ahead)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def until(self, condition: Callable[[], bool], deadline_s: float = 15) -> None:
        """Tick until the condition holds; real time passes too (reconnect back-off)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while not condition():
            assert loop.time() < end, "condition not met before the deadline"
            await asyncio.sleep(0.05)
            await self.tick()


async def _load_site(
    hass: HomeAssistant, sim: SimulatorProcess, options: dict[str, Any] | None = None
) -> Site:
    # Reconnects back off from 50 ms here (1 s by default) to keep outage tests short.
    hass.data[MODBUS_POOL] = ModbusConnectionPool(backoff_initial=0.05, backoff_max=0.5)
    devices = (await sim.async_state())["modbus"]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="demo",
        data={CONF_SITE_NAME: "Demo"},
        options=options or {},
        subentries_data=[_subentry(sim, name, device) for name, device in devices.items()],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return Site(hass, sim, entry)


@pytest.fixture
async def site(
    hass: HomeAssistant, simulator: SimulatorProcess, socket_enabled: None
) -> AsyncGenerator[Site]:
    """The demo site's four Modbus devices, read from the shared simulator."""
    loaded = await _load_site(hass, simulator)
    try:
        yield loaded
    finally:
        await simulator.async_clear_faults()
        await hass.config_entries.async_unload(loaded.entry.entry_id)


def _check_point(site: Site, device: str, profile_id: str, key: str, served: Any) -> int:
    """Compare one point's entities with what the simulator serves; return how many."""
    point = PROFILES[profile_id].points[key]
    value = served["value"]
    if point.data_type is DataType.BITFIELD:
        flags = set(value)
        assert site.value(device, key) == ups_state(frozenset(flags))
        for flag, entity in (
            ("on_battery", "on_battery"),
            ("fault", "ups_fault"),
        ):
            assert site.value(device, entity) == ("on" if flag in flags else "off")
        return 3
    if not point.enabled_by_default:
        assert site.state(device, key) is None  # disabled: no state at all
        return 0
    shown = site.value(device, key)
    if point.data_type is DataType.BOOL:
        assert shown == ("on" if value else "off"), key
    elif point.data_type is DataType.ENUM:
        assert shown == value, key
    elif point.role in COUNTER_ROLES:
        assert float(shown) == pytest.approx(value * _WH[point.unit or "Wh"] / 1000), key
    else:
        resolution = abs(point.scale) if point.data_type not in (DataType.F32, DataType.F64) else 0
        if point.device_class == "duration":
            # Shown in minutes (a UPS's 3969 s runtime reads as 66 min).
            entity = site.state(device, key)
            assert entity is not None
            assert entity.attributes["unit_of_measurement"] == "min"
            value, resolution = value / 60, resolution / 60
        assert math.isclose(float(shown), value, abs_tol=resolution / 2 + 1e-6), (key, shown)
    return 1


async def test_every_entity_matches_the_simulator(site: Site) -> None:
    state = await site.sim.async_state()
    checked = 0
    for device, served in state["modbus"].items():
        for key, point_state in served["points"].items():
            checked += _check_point(site, device, served["profile"], key, point_state)
    assert checked >= 20
    # No flag, charge and runtime well above the site's limits.
    assert site.value("ups", "low_battery") == "off"


def _entity_id(site: Site, platform: str, device: str, key: str) -> str:
    unique_id = f"{site.subentry_ids[device]}_{key}"
    entity_id = er.async_get(site.hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, (platform, device, key)
    return entity_id


async def test_modbus_number_and_switch_write_to_the_device(own_site: Site) -> None:
    """Writable points of a profile become a number and a switch that write the registers."""
    site = own_site
    limit = _entity_id(site, "number", "environment", "exhaust_alarm_limit")
    buzzer = _entity_id(site, "switch", "environment", "alarm_buzzer")
    assert float(site.value("environment", "exhaust_alarm_limit")) == pytest.approx(45.0)
    assert site.value("environment", "alarm_buzzer") == "on"

    await site.hass.services.async_call(
        "number", "set_value", {ATTR_ENTITY_ID: limit, "value": 38.5}, blocking=True
    )
    await site.hass.services.async_call(
        "switch", "turn_off", {ATTR_ENTITY_ID: buzzer}, blocking=True
    )
    served = (await site.sim.async_state())["modbus"]["environment"]["points"]
    assert served["exhaust_alarm_limit"] == {
        "raw": 385,
        "value": pytest.approx(38.5),
        "written": True,
    }
    assert served["alarm_buzzer"]["value"] is False
    # The entities show what the device holds now, without waiting for the next poll.
    assert float(site.value("environment", "exhaust_alarm_limit")) == pytest.approx(38.5)
    assert site.value("environment", "alarm_buzzer") == "off"
    # Still so after a poll: the device keeps the written values.
    await site.tick()
    assert float(site.value("environment", "exhaust_alarm_limit")) == pytest.approx(38.5)


def _writes(state: dict[str, Any]) -> int:
    """Write requests the simulator's gateway received (functions 5, 6, 15, 16)."""
    by_function = state["requests"]["modbus"]["by_function"]
    return sum(by_function.get(code, 0) for code in ("5", "6", "15", "16"))


async def test_modbus_writes_outside_the_profile_are_refused(own_site: Site) -> None:
    """Out of the profile's range, or to a point it does not declare writable: nothing is sent."""
    site = own_site
    coordinator = site.entry.runtime_data.devices[site.subentry_ids["environment"]]
    writes = _writes(await site.sim.async_state())
    with pytest.raises(HomeAssistantError) as out_of_range:
        await coordinator.async_write("exhaust_alarm_limit", 95.0, priority=12)
    assert out_of_range.value.translation_key == "out_of_range"
    with pytest.raises(HomeAssistantError) as read_only:
        await coordinator.async_write("inlet_temperature", 20.0, priority=12)
    assert read_only.value.translation_key == "not_writable"
    assert _writes(await site.sim.async_state()) == writes
    served = (await site.sim.async_state())["modbus"]["environment"]["points"]
    assert served["exhaust_alarm_limit"]["written"] is False


@pytest.fixture
async def own_site(
    hass: HomeAssistant, simulator_factory: Callable[..., SimulatorProcess], socket_enabled: None
) -> AsyncGenerator[Site]:
    """The demo site on a simulator of its own, for tests that leave lasting marks on it
    (a drained battery, a counter moved to its wrap, simulated time advanced)."""
    loaded = await _load_site(hass, simulator_factory())
    try:
        yield loaded
    finally:
        await hass.config_entries.async_unload(loaded.entry.entry_id)


async def test_mains_outage_shows_on_battery_and_low_battery(own_site: Site) -> None:
    site = own_site
    await site.sim.async_inject_fault("mains_outage")
    await site.sim.async_advance(3600)  # an hour on battery drains it
    await site.tick()
    state = await site.sim.async_state()
    served = state["modbus"]["ups"]["points"]
    assert "on_battery" in served["status"]["value"]
    assert site.value("ups", "status") == "on_battery"
    assert site.value("ups", "on_battery") == "on"
    runtime = served["runtime_remaining"]["value"]
    charge = served["battery_charge"]["value"]
    low = "low_battery" in served["status"]["value"] or runtime < 300 or charge < 20
    assert site.value("ups", "low_battery") == ("on" if low else "off")


@pytest.mark.parametrize(
    ("options", "low"),
    [
        ({}, "off"),
        ({"ups": {"low_battery_runtime": 4000}}, "on"),  # the demo UPS reports about 3900 s
        ({"ups": {"low_battery_charge": 101}}, "on"),  # and a full battery
    ],
)
async def test_low_battery_from_the_sites_limits(
    hass: HomeAssistant,
    simulator: SimulatorProcess,
    socket_enabled: None,
    options: dict[str, Any],
    low: str,
) -> None:
    """Some UPS never raise their flag: runtime or charge under the site's limit is low too."""
    site = await _load_site(hass, simulator, options)
    served = (await simulator.async_state())["modbus"]["ups"]["points"]
    assert "low_battery" not in served["status"]["value"]
    assert served["runtime_remaining"]["value"] < 4000
    assert site.value("ups", "low_battery") == low
    await hass.config_entries.async_unload(site.entry.entry_id)


async def test_offline_and_slow_devices_go_unavailable_alone(site: Site) -> None:
    for fault, params in (("device_offline", {}), ("slow_replies", {"delay_s": 2})):
        await site.sim.async_inject_fault(fault, device="ups", **params)
        await site.tick()
        assert site.value("ups", "load") == STATE_UNAVAILABLE
        assert site.value("ups", "status") == STATE_UNAVAILABLE
        assert site.value("rack_pdu", "active_power") != STATE_UNAVAILABLE  # same socket
        await site.sim.async_clear_faults()
        await site.until(lambda: site.value("ups", "load") != STATE_UNAVAILABLE)


async def test_nan_sentinel_makes_one_entity_unavailable(site: Site) -> None:
    await site.sim.async_inject_fault("sensor_nan", device="environment", point="humidity")
    await site.tick()
    assert site.value("environment", "humidity") == STATE_UNAVAILABLE
    assert site.value("environment", "inlet_temperature") != STATE_UNAVAILABLE
    await site.sim.async_clear_faults()
    await site.tick()
    assert site.value("environment", "humidity") != STATE_UNAVAILABLE


async def test_bad_register_is_split_out_skipped_and_tried_again(site: Site) -> None:
    point = PROFILES["demo_ups"].points["load"]
    await site.sim.async_inject_fault(
        "exception_replies", device="ups", address=point.address, table=point.table.value
    )
    await site.tick()
    assert site.value("ups", "load") == STATE_UNAVAILABLE
    assert site.value("ups", "input_voltage") != STATE_UNAVAILABLE
    assert site.value("ups", "status") != STATE_UNAVAILABLE
    coordinator = site.entry.runtime_data.devices[site.subentry_ids["ups"]]
    assert coordinator.device.skipped == {"load"}
    assert all("load" not in [p.key for p in block.points] for block in coordinator.device.plan)

    # The device answers again: the point is read alone every 10 minutes and comes back.
    await site.sim.async_clear_faults()
    polls = 0

    async def one_poll() -> str:
        nonlocal polls
        polls += 1
        await site.tick()
        return site.value("ups", "load")

    while await one_poll() == STATE_UNAVAILABLE:
        assert polls < 600 / SCAN_S, "load did not come back within the re-probe interval"
    assert polls == 600 / SCAN_S  # not sooner: a refused point costs one request per interval
    assert coordinator.device.skipped == frozenset()


async def test_energy_continues_across_the_counter_wrap(own_site: Site) -> None:
    site = own_site
    before = float(site.value("rack_pdu", "energy"))
    # The counter jumps to just below its wrap: no credible energy in one scan interval, so
    # the total holds; from there on it counts again, through the wrap.
    await site.sim.async_inject_fault(
        "counter_near_wrap", device="rack_pdu", point="energy", margin=3
    )
    await site.tick()
    assert float(site.value("rack_pdu", "energy")) == pytest.approx(before)
    # One scan interval at 2.2 kW or more is over 6 Wh: the register wraps on the way. (The
    # simulator's time moves with Home Assistant's here: a step far larger than the rack's
    # rated power allows in the time since the last poll counts as a replaced meter.)
    await site.sim.async_advance(SCAN_S)
    await site.tick()
    served = (await site.sim.async_state())["modbus"]["rack_pdu"]["points"]["energy"]["raw"]
    assert served < 100  # the register wrapped
    after = float(site.value("rack_pdu", "energy"))
    assert after == pytest.approx(before + (served + 3) / 1000)
    assert after > before


async def test_diagnostics_are_redacted(hass: HomeAssistant, site: Site) -> None:
    await site.tick()
    diagnostics = await async_get_config_entry_diagnostics(hass, site.entry)
    text = json.dumps(diagnostics)
    assert site.sim.host not in text
    # Ports too: with the host elsewhere (a support thread, a log) they locate a service.
    assert f": {site.sim.modbus_port}" not in text
    ups = diagnostics["devices"][site.subentry_ids["ups"]]
    assert ups["profile"]["profile_id"] == "demo_ups"
    assert ups["last_poll"]["requests"] == len(ups["plan"]) == 1
    served = (await site.sim.async_state())["modbus"]["ups"]["points"]["status"]["value"]
    assert ups["values"]["status"] == sorted(served)
    assert all(s["unique_id"] == "**REDACTED**" for s in diagnostics["subentries"])
    # The site's name often is the shop's, a device's title its network name: redacted too.
    assert diagnostics["entry"]["title"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["site_name"] == "**REDACTED**"
    assert "Demo" not in text  # the site's name, nowhere
    assert ups["title"] == "**REDACTED**"


async def test_simulator_restart_mid_run(
    hass: HomeAssistant, simulator_factory: Callable[..., SimulatorProcess], socket_enabled: None
) -> None:
    first = simulator_factory()
    site = await _load_site(hass, first)
    assert site.value("rack_pdu", "active_power") != STATE_UNAVAILABLE
    runtime = site.entry.runtime_data
    port = first.modbus_port
    await asyncio.to_thread(first.stop)
    await site.tick()
    assert site.value("rack_pdu", "active_power") == STATE_UNAVAILABLE
    assert site.value("environment", "door_open") == STATE_UNAVAILABLE

    second = simulator_factory(extra_args=("--modbus-port", str(port)))
    assert second.modbus_port == port
    await site.until(lambda: site.value("rack_pdu", "active_power") != STATE_UNAVAILABLE)
    assert site.value("environment", "door_open") == "off"
    assert site.entry.runtime_data is runtime  # back without a reload
    await hass.config_entries.async_unload(site.entry.entry_id)


async def test_flow_adds_a_demo_device(
    hass: HomeAssistant, simulator: SimulatorProcess, socket_enabled: None
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="demo", data={CONF_SITE_NAME: "Demo"})
    entry.add_to_hass(hass)
    answers = {
        "host": simulator.host,
        "port": simulator.modbus_port,
        "framing": "tcp",
        "profile": "demo_heat_meter",
        "polling": {"scan_interval": 10, "timeout": 1, "max_gap": 16},
    }
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MODBUS_DEVICE), context={"source": SOURCE_USER}
    )
    # No unit 9 behind the gateway: it says so with exception 11.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "unit_id": 9}
    )
    assert result["errors"] == {"unit_id": "unit_not_answering"}
    # Unit 2 is the UPS, not a heat meter: its registers do not fit the profile.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "unit_id": 2}
    )
    assert result["errors"] == {"profile": "profile_mismatch"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**answers, "unit_id": 4}
    )
    # Read: the profile's device kind is proposed as the name.
    assert result["step_id"] == "name"
    proposed = _suggested(result, "name")
    assert proposed == PROFILES["demo_heat_meter"].device_kind == "Heat meter"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": proposed}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Heat meter"
    subentry: ConfigSubentry = next(iter(entry.subentries.values()))
    assert subentry.data["unit_id"] == 4
    assert isinstance(subentry.data, MappingProxyType)


def _suggested(result: Any, field: str) -> Any:
    return next(k for k in result["data_schema"].schema if k == field).description[
        "suggested_value"
    ]


async def test_enum_points_without_a_role_have_translated_states(site: Site) -> None:
    """Built-in profiles' enum points without a role still show translated names and states."""
    strings = json.loads(
        (Path(custom_components.microdc.__file__).parent / "strings.json").read_text("utf-8")
    )["entity"]["sensor"]
    registry = er.async_get(site.hass)
    checked = 0
    for device, subentry_id in site.subentry_ids.items():
        profile = site.entry.runtime_data.devices[subentry_id].device.profile
        for point in profile.points.values():
            if point.data_type is not DataType.ENUM or point.role is not None:
                continue
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_{point.key}")
            assert entity_id is not None
            entry = registry.async_get(entity_id)
            assert entry is not None
            assert entry.translation_key in strings, (device, point.key)
            assert set(point.labels.values()) <= set(strings[entry.translation_key]["state"])
            checked += 1
    assert checked >= 1  # the UPS's output source
