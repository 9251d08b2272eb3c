"""The heat blueprints as automations on the real integration and the real simulator.

Each test loads the demo site (tests/ha/heat_day.py: Modbus meter, PDU and environment
sensor, the BACnet controller, four heat destinations with valve feedback and space limits) on
a fresh simulator, makes automations from the blueprints with the site's own entities (the
controller's occupancy inputs, space and outdoor temperatures) and moves simulated time in
one-minute polls. What is asserted is what the simulator's valves do (GET /state): the
priority array's winner and where the valve really is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
import itertools
from pathlib import Path
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

from tests.ha.heat_day import (
    DIVERT,
    POLL_S,
    SAFETY,
    SAFETY_ALERT,
    TENANTS,
    HeatDay,
    divert_inputs,
    site_entry,
    summer_helper,
    tenant_inputs,
)
from tests.simulator_process import SimulatorProcess

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOUR = 3600.0
WEATHER_SERVICE = "sensor.weather_service"


@pytest.fixture
async def heat_day(
    hass: HomeAssistant,
    simulator_factory: Callable[..., SimulatorProcess],
    tmp_path: Path,
) -> AsyncGenerator[Callable[..., Any]]:
    """start(day, **routing): the site loaded on a fresh simulator with that outdoor day;
    the automations and the site are removed at the end, while the simulator still answers."""
    days: list[HeatDay] = []
    hass.config.config_dir = str(tmp_path)
    await hass.config.async_set_time_zone("UTC")

    async def start(outdoor: str = "winter", **routing: Any) -> HeatDay:
        sim = simulator_factory()
        await sim.async_request("POST", "/outdoor", {"day": outdoor})
        day = HeatDay(hass, sim, site_entry(sim, **routing))
        days.append(day)
        await summer_helper(hass)
        await day.load()
        return day

    yield start
    for day in days:
        await day.remove_automations()
        await day.unload()
        day.restore_clock()


async def _commands(day: HeatDay) -> dict[str, float]:
    """Each valve's effective command (the priority array's winner), %."""
    return {v: round(s["command_pct"]) for v, s in (await day.valves()).items()}


class Timeline:
    """What the valves were commanded at each step, with the simulator's hour."""

    def __init__(self) -> None:
        self.steps: list[tuple[float, dict[str, float], dict[str, float]]] = []

    def __call__(self, state: dict[str, Any]) -> None:
        commands = {v: round(s["command_pct"]) for v, s in state["valves"].items()}
        self.steps.append((state["time"]["time_of_day_h"], commands, state["quantities"]))

    def __repr__(self) -> str:
        return repr([(round(h, 2), {v: c for v, c in cs.items() if c}) for h, cs, _ in self.steps])

    def between(self, start_h: float, end_h: float) -> list[dict[str, float]]:
        return [c for h, c, _ in self.steps if start_h <= h < end_h]


HEATED_A = {"stockroom": 0, "tenant_a": 50, "tenant_b": 0, "shared_loop": 50, "dry_cooler": 0}
SPARE = {"stockroom": 0, "tenant_a": 0, "tenant_b": 0, "shared_loop": 100, "dry_cooler": 0}


async def test_winter_morning_valves_follow_occupancy(
    hass: HomeAssistant, heat_day: Callable[..., Any]
) -> None:
    """07:00-11:00 of the winter day: before opening the spare heat goes to the shared loop;
    once tenant A opens (its occupancy input) it gets heat with the shared loop beside it;
    while staff are in the stockroom (its occupancy sensor, for longer than the dwell) the
    stockroom has it; each valve really moves (feedback)."""
    day: HeatDay = await heat_day("winter")
    assert await _commands(day) == {**SPARE, "shared_loop": 0, "dry_cooler": 100}  # default
    await day.automations_from((DIVERT, divert_inputs(day)))
    timeline = Timeline()
    await day.advance(4 * HOUR, each=timeline)

    # The router's dwell (10 minutes) holds the start's routing (the default, reject) first.
    assert all(c == SPARE for c in timeline.between(7.2, 8.0)), timeline
    assert timeline.between(8.0, 8.5)
    assert all(c == HEATED_A for c in timeline.between(8.0, 8.5)), timeline
    # The stockroom: staff visits from the simulator's seeded day.
    visited = [h for h, _, q in timeline.steps if q["occupancy.stockroom"]]
    assert visited, "no stockroom visit this morning"
    stockroom = [h for h, c, _ in timeline.steps if c["stockroom"] == 50 and c["tenant_a"] == 0]
    assert stockroom, "the stockroom never got heat"
    assert min(stockroom) >= min(visited)
    # Tenant B (third choice) never while tenant A wants heat; reject never.
    assert all(c["tenant_b"] == 0 and c["dry_cooler"] == 0 for c in timeline.between(7.2, 24))
    # The valves really go there: a command held for a step (the stroke is 60 s) is where
    # the valve is.
    for (_, before, _), (_, after, q) in itertools.pairwise(timeline.steps):
        if before == after:
            assert all(abs(q[f"valve_position_pct.{v}"] - after[v]) < 1 for v in after)
    assert day.state(day.site_entity("binary_sensor", "heat_safety")).state == "off"


async def test_a_person_s_choice_holds_until_released(
    hass: HomeAssistant, heat_day: Callable[..., Any]
) -> None:
    """A person picks tenant B on the select at 08:30: two hours of re-evaluation (every 5
    minutes, occupancy and temperature changes) leave it; automatic gives the blueprint back."""
    day: HeatDay = await heat_day("winter", dwell=0)
    await day.automations_from((DIVERT, divert_inputs(day)))
    await day.advance(1.5 * HOUR)
    assert (await _commands(day))["tenant_a"] == 50
    select = day.site_entity("select", "heat_destination")
    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "tenant_b"}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    timeline = Timeline()
    await day.advance(2 * HOUR, each=timeline)
    held = {**SPARE, "shared_loop": 0, "tenant_b": 100}
    assert all(c == held for c in timeline.between(0, 24))
    assert day.state(select).state == "tenant_b"
    routing = day.state(day.site_entity("sensor", "heat_routing"))
    assert routing.attributes["source_kind"] == "user"

    await hass.services.async_call(
        "select", "select_option", {"entity_id": select, "option": "automatic"}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    await day.advance(300)
    commands = await _commands(day)
    assert commands["tenant_b"] == 0
    assert commands["shared_loop"] == 50
    assert day.state(day.site_entity("sensor", "heat_routing")).attributes["source_kind"] == (
        "automation"
    )


async def test_a_restart_mid_day_resumes(hass: HomeAssistant, heat_day: Callable[..., Any]) -> None:
    """Home Assistant stops at 08:30 (tenant A heated) and is down for an hour, in which
    tenant A and the stockroom warm past their wanted temperatures: microdc relinquished on
    the way down (the dry cooler's default takes the heat); on start-up the blueprint
    re-evaluates at once and tenant B, not the stored tenant A, gets the heat."""
    day: HeatDay = await heat_day("winter")
    await day.automations_from((DIVERT, divert_inputs(day)))
    await day.advance(1.5 * HOUR)
    assert (await _commands(day))["tenant_a"] == 50
    await day.remove_automations()
    await day.unload()
    assert await _commands(day) == {**SPARE, "shared_loop": 0, "dry_cooler": 100}
    await day.down(HOUR)
    for space, warm in (("tenant_a", 22.0), ("stockroom", 19.0)):  # both past their wanted
        await day.sim.async_request("POST", "/spaces", {"space": space, "temperature_c": warm})

    hass.set_state(CoreState.starting)
    await day.load()
    await day.automations_from((DIVERT, divert_inputs(day)))
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    hass.set_state(CoreState.running)
    await hass.async_block_till_done(wait_background_tasks=True)
    await day.advance(120)  # one poll: the controller's inputs and the valves' feedback
    commands = await _commands(day)
    assert commands["tenant_b"] == 50, commands
    assert commands["tenant_a"] == 0
    assert commands["shared_loop"] == 50


def _weather(outdoor: str) -> dict[str, Any]:
    """A weather service stand-in: its temperature is the site's outdoor sensor; it is
    available while sensor.weather_service is online."""
    return {
        "template": [
            {
                "weather": [
                    {
                        "name": "Forecast",
                        "condition": "cloudy",
                        "temperature": f"{{{{ states('{outdoor}') | float(0) }}}}",
                        "temperature_unit": "°C",
                        "humidity": "60",
                        "availability": "{{ is_state('sensor.weather_service', 'online') }}",
                    }
                ]
            }
        ]
    }


@pytest.mark.parametrize(
    ("fallback", "while_unavailable"),
    # Heating season: a space below its wanted temperature gets heat, the shared loop beside it.
    [
        ("keep", {"dry_cooler": 100, "shared_loop": 0}),
        ("heating", {"dry_cooler": 0, "shared_loop": 50}),
    ],
)
async def test_an_unavailable_weather_source_takes_the_fallback(
    hass: HomeAssistant,
    heat_day: Callable[..., Any],
    fallback: str,
    while_unavailable: dict[str, float],
) -> None:
    """The weather entity is the only outdoor temperature: a warm morning (summer, reject);
    the weather goes unavailable while it turns cold: the season stays summer ("keep") or
    becomes the heating season ("heating"); back, cold: heating season."""
    day: HeatDay = await heat_day("spring")
    await day.sim.async_request("POST", "/outdoor", {"day": "spring", "offset_k": 10})
    hass.states.async_set(WEATHER_SERVICE, "online")
    assert await async_setup_component(hass, "template", _weather(day.outdoor))
    await hass.async_block_till_done()
    inputs = divert_inputs(
        day, outdoor_sensor=[], weather_entity="weather.forecast", weather_fallback=fallback
    )
    await day.automations_from((DIVERT, inputs))
    await day.advance(1.5 * HOUR)
    assert (await _commands(day))["dry_cooler"] == 100  # 20 °C at 08:30: summer
    assert day.state("input_boolean.summer").state == "on"

    hass.states.async_set(WEATHER_SERVICE, "offline")
    await day.sim.async_request("POST", "/outdoor", {"day": "winter"})
    await day.advance(HOUR)
    commands = await _commands(day)
    assert {v: commands[v] for v in while_unavailable} == while_unavailable
    assert day.state("input_boolean.summer").state == "on"  # only a real temperature writes it

    hass.states.async_set(WEATHER_SERVICE, "online")
    await day.advance(HOUR)
    commands = await _commands(day)
    assert commands["dry_cooler"] == 0
    assert commands["shared_loop"] in (50, 100)
    assert day.state("input_boolean.summer").state == "off"


@pytest.mark.parametrize(
    ("destination", "valve"), [("reject", "dry_cooler"), ("Shared loop", "shared_loop")]
)
async def test_summer_sends_heat_to_its_destination(
    hass: HomeAssistant, heat_day: Callable[..., Any], destination: str, valve: str
) -> None:
    """A warm spring day (16..26 °C): summer; tenant A open and cold gets nothing, all of the
    heat goes to the summer destination."""
    day: HeatDay = await heat_day("spring")
    await day.sim.async_request("POST", "/outdoor", {"day": "spring", "offset_k": 10})
    await day.automations_from((DIVERT, divert_inputs(day, summer_destination=destination)))
    await day.advance(2 * HOUR)
    state = (await day.sim.async_state())["quantities"]
    assert state["occupancy.tenant_a"] == 1
    assert state["space_temperature_c.tenant_a"] < 21
    commands = await _commands(day)
    assert commands[valve] == 100
    assert sum(commands.values()) == 100
    assert day.state("input_boolean.summer").state == "on"


async def test_a_safety_trip_wins_and_the_alert_tells(
    hass: HomeAssistant, heat_day: Callable[..., Any]
) -> None:
    """The blueprint keeps asking for the stockroom (no occupancy given, wanted 30 °C); the
    stockroom reaches its limit (26 °C): safety holds its valve closed at priority 5 and its
    share goes to reject; the safety alert's actions run with the trip, and again when it
    clears (the stockroom cooled, the hold passed) and the blueprint's routing is back."""
    day: HeatDay = await heat_day("winter")
    notes = async_mock_service(hass, "notify", "facility")

    def notify(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "action": "notify.facility",
                "data": {
                    "title": kind,
                    "message": "{{ message }}",
                    "data": {"event": "{{ event }}"},
                },
            }
        ]

    alert = {
        "safety_sensor": day.site_entity("binary_sensor", "heat_safety"),
        "routing_sensor": day.site_entity("sensor", "heat_routing"),
        "trip_actions": notify("trip"),
        "override_actions": notify("override"),
        "clear_actions": notify("clear"),
    }
    divert = divert_inputs(day, occupancy_1=[], wanted_1=30)
    await day.automations_from((DIVERT, divert), (SAFETY_ALERT, alert))
    await day.advance(1200)
    assert (await _commands(day)) == {**SPARE, "stockroom": 50, "shared_loop": 50}
    assert notes == []

    await day.sim.async_request("POST", "/spaces", {"space": "stockroom", "temperature_c": 26.5})
    await day.advance(POLL_S)
    valves = await day.valves()
    assert valves["stockroom"]["command_pct"] == 0
    assert valves["stockroom"]["bacnet"]["priority_array"][SAFETY - 1] == 0
    assert valves["dry_cooler"]["command_pct"] == 50  # the stockroom's share
    assert valves["shared_loop"]["command_pct"] == 50
    assert day.state(alert["safety_sensor"]).state == "on"
    # Only the trip: microdc's own safety write is no override.
    assert [(n.data["title"], n.data["data"]["event"]) for n in notes] == [("trip", "tripped")]
    assert notes[0].data["message"] == (
        "Heat safety tripped (safety_space (stockroom)): the heat goes to reject."
    )

    # Still asked for (every 5 minutes), still held closed.
    await day.advance(1200)
    assert (await _commands(day))["stockroom"] == 0
    await day.sim.async_request("POST", "/spaces", {"space": "stockroom", "temperature_c": 20.0})
    await day.advance(1200)  # the hold (5 min), then the dwell from the trip (10 min)
    assert (await _commands(day)) == {**SPARE, "stockroom": 50, "shared_loop": 50}
    assert [(n.data["title"], n.data["data"]["event"]) for n in notes] == [
        ("trip", "tripped"),
        ("clear", "cleared"),
    ]


async def test_tenants_share_by_demand(hass: HomeAssistant, heat_day: Callable[..., Any]) -> None:
    """The tenant-sharing blueprint, fair share: closed, the shared loop; open at 08:00,
    tenant A (3 K below) and tenant B (about 1 K below) share half in proportion, the shared
    loop has the other half; tenant A warm: tenant B and the shared loop; the heat shows in
    tenant B's kWh sensor for billing."""
    day: HeatDay = await heat_day("winter")
    await day.automations_from((TENANTS, tenant_inputs(day)))
    await day.advance(0.75 * HOUR)
    assert await _commands(day) == SPARE
    await day.sim.async_request("POST", "/spaces", {"space": "tenant_b", "temperature_c": 19.5})
    await day.advance(0.5 * HOUR)  # 08:15
    commands = await _commands(day)
    below = {
        t: wanted - float(day.state(day.space_temperature(t)).state)
        for t, wanted in (("tenant_a", 21.0), ("tenant_b", 20.5))
    }
    assert commands["shared_loop"] == 50  # beside the tenants, as much as both together
    assert commands["tenant_a"] + commands["tenant_b"] == 50
    share_a = below["tenant_a"] / (below["tenant_a"] + below["tenant_b"])
    assert abs(commands["tenant_a"] / 50 - share_a) < 0.1, (commands, below)
    assert commands["tenant_a"] > commands["tenant_b"] > 0

    billed = day.entity("sensor", f"{day.entry.entry_id}_destination_heat_tenant_b")
    before = float(day.state(billed).state)
    await day.sim.async_request("POST", "/spaces", {"space": "tenant_a", "temperature_c": 21.5})
    await day.advance(0.5 * HOUR)
    commands = await _commands(day)
    assert commands["tenant_a"] == 0
    assert commands["tenant_b"] == commands["shared_loop"] == 50
    assert float(day.state(billed).state) > before
