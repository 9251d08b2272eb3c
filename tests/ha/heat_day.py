"""A simulated day of the demo site's heat, with the heat blueprints as real automations.

The demo site as its flows store it for routing: the rack PDU, the environment sensor (rack
exhaust) and the heat meter (loop supply) over Modbus, the hydronic controller over BACnet/IP
(valves, their position feedback, the spaces' temperatures, the occupancy inputs, outdoor air)
and four heat destinations (stockroom, tenant A, tenant B, shared loop), each with its valve,
the valve's feedback and its space temperature with a limit. Used by tests/ha/test_heat_days.py
and benchmarks/heat_policy.py.

Time: the simulator holds still (--speed 0). ``advance`` moves simulated time in steps; after
each step Home Assistant's timers fire at the same instant (polls, the blueprints' 5-minute
re-evaluation, the router's dwell and ends: its clock is the heat ledgers', patched here).
Home Assistant's wall clock (``now()`` in templates) is not moved: the blueprints are given
occupancy sensors (the simulator's, over BACnet), not schedules, so nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.microdc import heat_accounting
from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.destination_config import (
    CONF_BRANCH_METER,
    CONF_FEEDBACK,
    CONF_KIND,
    CONF_SPACE,
    CONF_SPACE_LIMIT,
    CONF_VALVES,
)
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.lib.devices.bacnet_config import object_key
from custom_components.microdc.lib.protocols.bacnet import ObjectId
from custom_components.microdc.lib.protocols.modbus import ModbusConnectionPool
from custom_components.microdc.routing import EVENT_HEAT_ROUTED
from tests.ha.bacnet_site import BACNET_OPTIONS, demo_objects, device_subentry
from tests.simulator_process import REPO_ROOT, SimulatorProcess

BLUEPRINTS = REPO_ROOT / "blueprints/automation/microdc"
DIVERT = "divert_heat_by_occupancy_and_weather.yaml"
TENANTS = "share_heat_between_tenants.yaml"
SAFETY_ALERT = "heat_safety_alert.yaml"
ENTRY_ID = "heatday"
CONTROLLER = "hvac"
POLL_S = 120  # coarse: a day is 720 polls
SPACE_LIMIT_C = 26.0
# Destination id -> (title, kind, valve, its position feedback, its space temperature).
DESTINATIONS: dict[str, tuple[str, str, int, int, int | None]] = {
    "stockroom": ("Stockroom", "stockroom", 1, 8, 5),
    "tenant_a": ("Tenant A", "tenant", 2, 9, 6),
    "tenant_b": ("Tenant B", "tenant", 3, 10, 7),
    "shared_loop": ("Shared loop", "shared_loop", 4, 11, None),
}
VALVE_NAMES = (*DESTINATIONS, "dry_cooler")
# The controller's inputs by what they are (analog/binary input instances).
OUTDOOR_T = ObjectId("analog-input", 4)
SPACE_T = {"stockroom": 5, "tenant_a": 6, "tenant_b": 7}
OCCUPANCY = {"stockroom": 1, "tenant_a": 2, "tenant_b": 3}
# The spaces' wanted temperatures: their own heating's setpoint while open (demo.yaml).
WANTED = {"stockroom": 18.0, "tenant_a": 21.0, "tenant_b": 20.5}
COMFORT, SAFETY = 12, 5


def _point(oid: ObjectId) -> str:
    return f"{CONTROLLER}/{object_key(oid)}"


def _modbus(
    sim: SimulatorProcess, name: str, unit: int, profile: str, poll_s: float
) -> dict[str, Any]:
    return {
        "subentry_id": name,
        "subentry_type": SUBENTRY_MODBUS_DEVICE,
        "title": name.replace("_", " ").title(),
        "unique_id": f"{sim.host}:{sim.modbus_port}:{unit}",
        "data": {
            "host": sim.host,
            "port": sim.modbus_port,
            "framing": "tcp",
            "unit_id": unit,
            "profile": profile,
            "polling": {"scan_interval": poll_s, "timeout": 1.0},
        },
    }


def _destination(dest: str) -> dict[str, Any]:
    title, kind, valve, feedback, space = DESTINATIONS[dest]
    command = _point(ObjectId("analog-output", valve))
    data: dict[str, Any] = {
        CONF_KIND: kind,
        CONF_VALVES: [command],
        CONF_BRANCH_METER: None,
        CONF_FEEDBACK: {command: _point(ObjectId("analog-input", feedback))},
    }
    if space is not None:
        data[CONF_SPACE] = _point(ObjectId("analog-input", space))
        data[CONF_SPACE_LIMIT] = SPACE_LIMIT_C
    return {
        "subentry_id": dest,
        "subentry_type": SUBENTRY_HEAT_DESTINATION,
        "title": title,
        "unique_id": None,
        "data": data,
    }


def site_entry(sim: SimulatorProcess, poll_s: float = POLL_S, **routing: Any) -> MockConfigEntry:
    """The demo site with its four heat destinations, every device polled every poll_s;
    routing options as given (default routing: reject)."""
    valves = [ObjectId("analog-output", i) for i in range(1, 6)]
    roles = {str(oid): "valve_position" for oid in valves}
    roles |= {str(ObjectId("analog-input", i)): "space_temperature" for i in SPACE_T.values()}
    roles |= {str(ObjectId("binary-input", i)): "occupancy" for i in OCCUPANCY.values()}
    roles[str(OUTDOOR_T)] = "outdoor_temperature"
    controller = {
        **device_subentry(sim, objects=demo_objects(roles), scan_interval_s=poll_s, cov=False),
        "subentry_id": CONTROLLER,
    }
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title="Corner Shop",
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        # Polls are coarse: a valve's feedback may be read two polls after its command.
        options={
            **BACNET_OPTIONS,
            "routing": {"default_routing": "reject", "confirm_timeout": 3 * poll_s, **routing},
        },
        subentries_data=[
            _modbus(sim, "rack_pdu", 1, "demo_rack_pdu", poll_s),
            _modbus(sim, "environment", 3, "demo_environment", poll_s),
            _modbus(sim, "heat_meter", 4, "demo_heat_meter", poll_s),
            controller,
            *(_destination(d) for d in DESTINATIONS),
        ],
    )


class HeatDay:
    """A loaded site on a simulator, one clock for both, and the blueprints' automations."""

    def __init__(self, hass: HomeAssistant, sim: SimulatorProcess, entry: MockConfigEntry):
        """Patch the ledgers' (and so the router's) clock to follow the simulated one."""
        self.hass, self.sim, self.entry = hass, sim, entry
        self.start = dt_util.utcnow()
        self.ahead = timedelta()
        self.routed: list[Event[Any]] = []
        self.automations: list[dict[str, Any]] = []
        hass.bus.async_listen(EVENT_HEAT_ROUTED, self.routed.append)
        self._saved_clock = heat_accounting.utc_timestamp
        heat_accounting.utc_timestamp = self.timestamp

    def timestamp(self) -> float:
        return (self.start + self.ahead).timestamp()

    def restore_clock(self) -> None:
        heat_accounting.utc_timestamp = self._saved_clock

    # --- the site ---------------------------------------------------------------------

    async def load(self) -> None:
        hass = self.hass
        hass.data[MODBUS_POOL] = ModbusConnectionPool(backoff_initial=0.05, backoff_max=0.5)
        if hass.config_entries.async_get_entry(self.entry.entry_id) is None:
            self.entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(self.entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert self.entry.state is ConfigEntryState.LOADED

    async def unload(self) -> None:
        if self.entry.state is ConfigEntryState.LOADED:
            assert await self.hass.config_entries.async_unload(self.entry.entry_id)
            await self.hass.async_block_till_done(wait_background_tasks=True)

    def entity(self, platform: str, unique_id: str) -> str:
        entity_id = er.async_get(self.hass).async_get_entity_id(platform, DOMAIN, unique_id)
        assert entity_id is not None, unique_id
        return entity_id

    def site_entity(self, platform: str, key: str) -> str:
        return self.entity(platform, f"{ENTRY_ID}_{key}")

    def point_entity(self, platform: str, oid: ObjectId) -> str:
        return self.entity(platform, f"{CONTROLLER}_{object_key(oid)}")

    def space_temperature(self, space: str) -> str:
        return self.point_entity("sensor", ObjectId("analog-input", SPACE_T[space]))

    def occupancy(self, space: str) -> str:
        return self.point_entity("binary_sensor", ObjectId("binary-input", OCCUPANCY[space]))

    @property
    def outdoor(self) -> str:
        return self.point_entity("sensor", OUTDOOR_T)

    def state(self, entity_id: str) -> Any:
        state = self.hass.states.get(entity_id)
        assert state is not None, entity_id
        return state

    # --- the blueprints ---------------------------------------------------------------

    async def automations_from(self, *configs: tuple[str, dict[str, Any]]) -> None:
        """Automations from these blueprints with these inputs (replacing any before)."""
        hass = self.hass
        target = Path(hass.config.config_dir) / "blueprints/automation/microdc"
        target.mkdir(parents=True, exist_ok=True)
        for blueprint, _ in configs:
            shutil.copy(BLUEPRINTS / blueprint, target)
        self.automations = [
            {"use_blueprint": {"path": f"microdc/{blueprint}", "input": inputs}}
            for blueprint, inputs in configs
        ]
        if not hass.services.has_service("automation", "reload"):
            assert await async_setup_component(hass, "automation", {"automation": []})
        await self._reload_automations()

    async def _reload_automations(self) -> None:
        # automation.reload reads configuration.yaml: the automations live there.
        lines = ["automation:"]
        for automation in self.automations:
            blueprint = automation["use_blueprint"]
            lines += ["  - use_blueprint:", f"      path: {blueprint['path']}", "      input:"]
            lines += [f"        {key}: {_yaml(value)}" for key, value in blueprint["input"].items()]
        config = Path(self.hass.config.config_dir) / "configuration.yaml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        await self.hass.services.async_call("automation", "reload", blocking=True)
        await self.hass.async_block_till_done(wait_background_tasks=True)
        assert len(self.hass.states.async_entity_ids("automation")) == len(self.automations)

    async def remove_automations(self) -> None:
        self.automations = []
        if self.hass.services.has_service("automation", "reload"):
            await self._reload_automations()

    # --- time -------------------------------------------------------------------------

    async def advance(
        self,
        seconds: float,
        step: float = POLL_S,
        each: Callable[[dict[str, Any]], Awaitable[None] | None] | None = None,
    ) -> None:
        """Simulated time passes in steps; after each, Home Assistant's timers fire and what
        falls due runs; ``each`` gets the simulator's GET /state after every step."""
        remaining = seconds
        while remaining > 1e-6:
            dt = min(step, remaining)
            await self.sim.async_advance(dt)
            self.ahead += timedelta(seconds=dt)
            async_fire_time_changed(self.hass, self.start + self.ahead)
            await self.hass.async_block_till_done(wait_background_tasks=True)
            remaining -= dt
            if each is not None:
                result = each(await self.sim.async_state())
                if result is not None:
                    await result

    async def down(self, seconds: float) -> None:
        """Home Assistant is down: simulated time passes, nothing runs."""
        await self.sim.async_advance(seconds)
        self.ahead += timedelta(seconds=seconds)

    async def valves(self) -> dict[str, dict[str, Any]]:
        """Each valve on the simulator: position_pct, command_pct and its BACnet block."""
        return dict((await self.sim.async_state())["valves"])

    async def open_valves(self, at_least: float = 50.0) -> set[str]:
        """The valves whose command (the priority array's winner) is at least this open."""
        return {v for v, s in (await self.valves()).items() if s["command_pct"] >= at_least}


def _yaml(value: Any) -> str:
    """One input value in YAML's flow style (JSON is YAML)."""
    import json  # noqa: PLC0415

    return json.dumps(value)


def divert_inputs(day: HeatDay, **overrides: Any) -> dict[str, Any]:
    """The occupancy-and-weather blueprint's inputs for the demo site: the stockroom first
    (staff visits), then tenant A and tenant B by their occupancy, spare heat to the shared
    loop, summer (at 15 °C, the mall's heating limit) to reject."""
    inputs: dict[str, Any] = {
        "site": ENTRY_ID,
        "outdoor_sensor": day.outdoor,
        "summer_helper": "input_boolean.summer",
        "heating_threshold": 15,
        "hysteresis": 2,
        "summer_destination": "reject",
        "spare_destination": "Shared loop",
    }
    for n, space in enumerate(("stockroom", "tenant_a", "tenant_b"), start=1):
        inputs |= {
            f"destination_{n}": DESTINATIONS[space][0],
            f"occupancy_{n}": [day.occupancy(space)],
            f"temperature_{n}": day.space_temperature(space),
            f"wanted_{n}": WANTED[space],
        }
    return inputs | overrides


def tenant_inputs(day: HeatDay, **overrides: Any) -> dict[str, Any]:
    """The tenant-sharing blueprint's inputs: tenants A and B by their occupancy, fair share,
    spare heat to the shared loop."""
    inputs: dict[str, Any] = {
        "site": ENTRY_ID,
        "policy": "fair",
        "spare_destination": "Shared loop",
    }
    for n, space in enumerate(("tenant_a", "tenant_b"), start=1):
        inputs |= {
            f"destination_{n}": DESTINATIONS[space][0],
            f"temperature_{n}": day.space_temperature(space),
            f"wanted_{n}": WANTED[space],
            f"open_{n}": [day.occupancy(space)],
        }
    return inputs | overrides


async def summer_helper(hass: HomeAssistant) -> None:
    """The toggle helper the occupancy-and-weather blueprint keeps the season in."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"summer": {"name": "Summer"}}}
    )
