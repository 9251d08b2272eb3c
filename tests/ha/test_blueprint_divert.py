"""The occupancy-and-weather blueprint, run as an automation over a simulated winter day.

Both actions (microdc.divert_heat / microdc.release_heat) are recording stand-ins here, so the
exact calls the blueprint makes, and when, can be asserted minute by minute with Home
Assistant's wall clock frozen (schedules, the forecast's pre-heating). The same blueprint
against the real router and simulator, where that clock cannot be moved, is
tests/ha/test_heat_days.py. The router's own rules
(a person's request ranks over an automation's, safety over everyone) are tested in
tests/lib/routing; here the blueprint must only ever ask under its own source and never release.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)
import yaml

ROOT = Path(__file__).parents[2]
BLUEPRINT = ROOT / "blueprints/automation/microdc/divert_heat_by_occupancy_and_weather.yaml"
SOURCE = "Divert heat by occupancy and weather"
SITE = "site_entry_id"
DAY = "2026-01-15"  # a Thursday
STOCKROOM_OCCUPANCY = "binary_sensor.stockroom_occupancy"
STOCKROOM_WINDOW = "binary_sensor.stockroom_window"
STOCKROOM_T = "sensor.stockroom_temperature"
TENANT_T = "sensor.tenant_a_temperature"
OUTDOOR = "sensor.outdoor_temperature"
HOURS = "schedule.tenant_a_hours"
SUMMER = "input_boolean.summer"
WEATHER = "weather.forecast"
FORECAST_SOURCE = "sensor.forecast_source"
FORECAST_TEMPLATE = f"{{{{ state_attr('{FORECAST_SOURCE}', 'forecast') }}}}"


def _outdoor_curve() -> Any:
    """The simulator's outdoor curve of the demo site (simulator/model.py, demo.yaml)."""
    site = yaml.safe_load((ROOT / "simulator/sites/demo.yaml").read_text())["outdoor"]

    def at(hour: float) -> float:
        angle = 2 * math.pi * (hour - site["warmest_hour"]) / 24
        return round(site["mean_c"] + site["amplitude_k"] * math.cos(angle), 1)

    return at


OUTDOOR_AT = _outdoor_curve()


def _at(clock: str) -> datetime:
    return dt_util.parse_datetime(f"{DAY}T{clock}:00+00:00")  # type: ignore[return-value]


def _forecast(temperature_at: Any) -> list[dict[str, Any]]:
    return [
        {"datetime": _at(f"{h:02d}:00").isoformat(), "temperature": temperature_at(h)}
        for h in range(24)
    ]


class Recorder:
    """Stand-ins for the router glue's actions: they only record what they are asked."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.divert = async_mock_service(hass, "microdc", "divert_heat")
        self.release = async_mock_service(hass, "microdc", "release_heat")
        self.times: list[datetime] = []
        hass.bus.async_listen("call_service", self._stamp)

    def _stamp(self, event: Any) -> None:
        if event.data["domain"] == "microdc":
            self.times.append(dt_util.utcnow())

    def transitions(self) -> list[tuple[str, dict[str, Any]]]:
        """Each change of what the blueprint asks for, with its time (HH:MM)."""
        out: list[tuple[str, dict[str, Any]]] = []
        for when, call in zip(self.times, self.divert, strict=True):
            if not out or out[-1][1] != dict(call.data):
                out.append((when.strftime("%H:%M"), dict(call.data)))
        return out


def _asks(destination: str | None = None, shares: dict[str, int] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"config_entry_id": SITE, "source": SOURCE}
    if shares is not None:
        data["shares"] = shares
    else:
        data["destination"] = destination
    return data


BASE_INPUT: dict[str, Any] = {
    "site": SITE,
    "destination_1": "Stockroom",
    "occupancy_1": [STOCKROOM_OCCUPANCY],
    "temperature_1": STOCKROOM_T,
    "wanted_1": 18,
    "windows_1": [STOCKROOM_WINDOW],
    "destination_2": "Tenant A",
    "occupancy_2": [HOURS],
    "temperature_2": TENANT_T,
    "wanted_2": 21,
    "outdoor_sensor": OUTDOOR,
    "weather_entity": WEATHER,
    "heating_threshold": 15,
    "hysteresis": 2,
    "summer_helper": SUMMER,
    "summer_destination": "reject",
    "spare_destination": "Shared loop",
    "preheat": {"hours": 1},
    # One destination at a time, so that each transition reads plainly; the default (the
    # spare destination beside the spaces) has its own test.
    "spare_alongside": 0,
}


@pytest.fixture(autouse=True)
async def _clean_up(hass: HomeAssistant, tmp_path: Path) -> Any:
    """Remove the automations and the schedule after the test, so that no timer lingers."""
    yield
    (tmp_path / "configuration.yaml").write_text("")
    for domain in ("automation", "schedule"):
        if hass.services.has_service(domain, "reload"):
            await hass.services.async_call(domain, "reload", blocking=True)


async def _set_up(
    hass: HomeAssistant,
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
    start: str,
    overrides: dict[str, Any] | None = None,
    *,
    weather_available: bool = True,
    initial: dict[str, str] | None = None,
) -> Recorder:
    """Stand-in entities at ``start``, then an automation from the blueprint."""
    await hass.config.async_set_time_zone("UTC")
    freezer.move_to(_at(start))
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints/automation/microdc"
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    recorder = Recorder(hass)
    hour = _at(start).hour + _at(start).minute / 60
    hass.states.async_set(OUTDOOR, str(OUTDOOR_AT(hour)), {"unit_of_measurement": "°C"})
    hass.states.async_set(STOCKROOM_T, "16.0", {"unit_of_measurement": "°C"})
    hass.states.async_set(TENANT_T, "18.0", {"unit_of_measurement": "°C"})
    hass.states.async_set(STOCKROOM_OCCUPANCY, "off")
    hass.states.async_set(STOCKROOM_WINDOW, "off")
    hass.states.async_set(FORECAST_SOURCE, "ok", {"forecast": _forecast(OUTDOOR_AT)})
    hass.states.async_set("sensor.weather_available", "on" if weather_available else "off")
    for entity_id, state in (initial or {}).items():
        hass.states.async_set(entity_id, state)
    every_day = [{"from": "08:00:00", "to": "20:00:00"}]
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    assert await async_setup_component(
        hass,
        "schedule",
        {
            "schedule": {
                "tenant_a_hours": {"name": "Tenant A hours"} | dict.fromkeys(days, every_day)
            }
        },
    )
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"summer": {"name": "Summer"}}}
    )
    # A weather entity with an hourly forecast, standing in for a weather integration.
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "weather": [
                        {
                            "name": "Forecast",
                            "condition": "cloudy",
                            "temperature": "{{ states('sensor.outdoor_weather') | float(0) }}",
                            "temperature_unit": "°C",
                            "humidity": "80",
                            "forecast_hourly": FORECAST_TEMPLATE,
                            "availability": "{{ is_state('sensor.weather_available', 'on') }}",
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "microdc/divert_heat_by_occupancy_and_weather.yaml",
                    "input": BASE_INPUT | (overrides or {}),
                }
            }
        },
    )
    await hass.async_block_till_done()
    # Deliver what is due at the start itself (the first time-pattern evaluation).
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=1))
    await hass.async_block_till_done()
    return recorder


async def _run_until(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    clock: str,
    events: dict[str, list[tuple[str, str]]] | None = None,
    outdoor: Any = OUTDOOR_AT,
) -> None:
    """Advance minute by minute to ``clock``, following the outdoor curve and the events."""
    end = _at(clock)
    while dt_util.utcnow() < end:
        freezer.tick(timedelta(minutes=1))
        now = dt_util.utcnow()
        hass.states.async_set(
            OUTDOOR, str(outdoor(now.hour + now.minute / 60)), {"unit_of_measurement": "°C"}
        )
        for entity_id, state in (events or {}).get(now.strftime("%H:%M"), []):
            hass.states.async_set(entity_id, state, {"unit_of_measurement": "°C"})
        # Time-pattern timers are due a fraction of a second after the minute (Home
        # Assistant keeps the real clock's microseconds): fire a second later.
        async_fire_time_changed(hass, now + timedelta(seconds=1))
        await hass.async_block_till_done()


# The day's occupancy and temperatures: visits to the stockroom, tenant A warming up.
WINTER_DAY = {
    "10:00": [(STOCKROOM_OCCUPANCY, "on")],
    "10:20": [(STOCKROOM_OCCUPANCY, "off")],
    "11:00": [(TENANT_T, "21.2")],
    "14:00": [(TENANT_T, "20.0")],
    # A visit with the window open: no heat until the window closes, then it resumes.
    "16:00": [(STOCKROOM_WINDOW, "on"), (STOCKROOM_OCCUPANCY, "on")],
    "16:10": [(STOCKROOM_WINDOW, "off")],
    "16:30": [(STOCKROOM_OCCUPANCY, "off")],
    # A visit while the stockroom's sensor is unavailable: no heat until it reads again.
    "18:00": [(STOCKROOM_T, "unavailable"), (STOCKROOM_OCCUPANCY, "on")],
    "18:10": [(STOCKROOM_T, "16.0")],
    "18:20": [(STOCKROOM_OCCUPANCY, "off")],
}


async def test_winter_day(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """Pre-heat before opening, the stockroom first while staff are in it, spare heat to the
    shared loop; a closed window and a sensor back from unavailable resume the heating."""
    recorder = await _set_up(hass, tmp_path, freezer, "05:00")
    await _run_until(hass, freezer, "22:00", WINTER_DAY)

    assert recorder.transitions() == [
        ("05:00", _asks("Shared loop")),  # closed, nobody in: spare heat
        ("07:00", _asks("Tenant A")),  # an hour before opening, forecast cold: pre-heat
        ("10:00", _asks("Stockroom")),  # staff in the stockroom (first choice)
        ("10:20", _asks("Tenant A")),
        ("11:00", _asks("Shared loop")),  # tenant A at its wanted temperature
        ("14:00", _asks("Tenant A")),
        ("16:10", _asks("Stockroom")),  # window closed: heating resumes at once
        ("16:30", _asks("Tenant A")),
        ("18:10", _asks("Stockroom")),  # its temperature reads again
        ("18:20", _asks("Tenant A")),
        ("20:00", _asks("Shared loop")),  # tenant A closes
    ]
    assert recorder.release == []
    assert hass.states.get(SUMMER).state == "off"


async def test_only_its_own_source_and_never_a_release(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """A person's choice on the select is a request of a higher-ranked source: the blueprint
    never asks under another source and never releases, so re-evaluation cannot undo it."""
    recorder = await _set_up(hass, tmp_path, freezer, "09:00")
    # The person's choice, on the router's select (a stand-in state here).
    hass.states.async_set("select.demo_heat_destination", "tenant_b")
    await _run_until(hass, freezer, "12:00", WINTER_DAY)
    hass.states.async_set("select.demo_heat_destination", "automatic")
    await _run_until(hass, freezer, "13:00")

    assert recorder.divert, "the blueprint re-evaluated"
    assert {call.data["source"] for call in recorder.divert} == {SOURCE}
    assert recorder.release == []


async def test_a_restart_mid_day_re_evaluates_at_once(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """Home Assistant starting at 13:00 with the stockroom occupied: asked for at start-up,
    not at the next 5-minute re-evaluation."""
    # Automations are set up while Home Assistant starts; their triggers are armed before it
    # has started, and the start trigger fires when it has.
    hass.set_state(CoreState.starting)
    freezer.move_to(_at("13:02"))
    recorder = await _set_up(hass, tmp_path, freezer, "13:02", initial={STOCKROOM_OCCUPANCY: "on"})
    assert recorder.divert == []

    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    hass.set_state(CoreState.running)
    await hass.async_block_till_done()
    assert [dict(call.data) for call in recorder.divert] == [_asks("Stockroom")]


async def test_unavailable_weather_keeps_the_last_season(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """With no outdoor sensor, the weather is the only temperature: warm, then unavailable
    (the stated fallback: the season stays summer), then cold again."""
    hass.states.async_set("sensor.outdoor_weather", "20.0")
    recorder = await _set_up(hass, tmp_path, freezer, "09:00", {"outdoor_sensor": []})
    await _run_until(hass, freezer, "09:05")
    before = len(recorder.divert)
    hass.states.async_set("sensor.weather_available", "off")
    await hass.async_block_till_done()
    await _run_until(hass, freezer, "09:20")
    while_unavailable = [c.data["destination"] for c in recorder.divert[before:]]
    hass.states.async_set("sensor.weather_available", "on")
    hass.states.async_set("sensor.outdoor_weather", "5.0")
    await hass.async_block_till_done()

    assert recorder.transitions() == [
        ("09:00", _asks("reject")),  # 20 °C: summer, remembered in the helper
        ("09:20", _asks("Tenant A")),  # back at 5 °C: heating season, tenant A open and cold
    ]
    # While unavailable it kept asking for reject (summer kept): at once, then every 5 minutes.
    assert while_unavailable == ["reject"] * 4
    assert hass.states.get(SUMMER).state == "off"


async def test_unavailable_weather_with_a_heating_fallback(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """The fallback "heating season": with no temperature at all, spaces are heated, and
    pre-heating (no forecast) follows the season."""
    recorder = await _set_up(
        hass,
        tmp_path,
        freezer,
        "06:55",
        {"outdoor_sensor": [], "weather_fallback": "heating"},
        weather_available=False,
    )
    await _run_until(hass, freezer, "07:00")
    assert recorder.transitions() == [
        ("06:55", _asks("Shared loop")),
        ("07:00", _asks("Tenant A")),
    ]


async def test_summer_sends_heat_to_the_summer_destination_with_hysteresis(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """At 16 °C summer: the shared loop though tenant A is open and cold; 14 °C is inside the
    hysteresis, still summer; below 13 °C heating season again."""
    recorder = await _set_up(
        hass, tmp_path, freezer, "09:00", {"summer_destination": "Shared loop"}
    )
    steps = {"09:30": 16.0, "10:00": 14.0, "10:30": 12.9}

    def outdoor(hour: float) -> float:
        passed = [t for clock, t in steps.items() if hour >= _hour(clock)]
        return passed[-1] if passed else 10.0

    await _run_until(hass, freezer, "11:00", outdoor=outdoor)
    assert recorder.transitions() == [
        ("09:00", _asks("Tenant A")),  # heating season
        ("09:30", _asks("Shared loop")),
        ("10:30", _asks("Tenant A")),
    ]
    assert hass.states.get(SUMMER).state == "off"


def _hour(clock: str) -> float:
    hours, minutes = clock.split(":")
    return int(hours) + int(minutes) / 60


async def test_a_warm_forecast_skips_pre_heating(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """A mild spring morning: 12 °C at 07:00 (heating season) but 16 °C forecast at opening:
    no pre-heating; tenant A is heated once it opens and is occupied and cold."""
    recorder = await _set_up(hass, tmp_path, freezer, "06:50")
    hass.states.async_set(
        FORECAST_SOURCE, "ok", {"forecast": _forecast(lambda h: 12.0 if h < 8 else 16.0)}
    )
    await _run_until(hass, freezer, "08:05", outdoor=lambda hour: 12.0)
    assert recorder.transitions() == [
        ("06:50", _asks("Shared loop")),
        ("08:00", _asks("Tenant A")),
    ]


async def test_several_spaces_share_in_order(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """With "share", every space that needs heat gets some, the first choice the most."""
    recorder = await _set_up(hass, tmp_path, freezer, "10:00", {"spread": "share"})
    hass.states.async_set(STOCKROOM_OCCUPANCY, "on")
    await hass.async_block_till_done()
    assert recorder.transitions() == [
        ("10:00", _asks("Tenant A")),
        ("10:00", _asks(shares={"Stockroom": 2, "Tenant A": 1})),
    ]


@pytest.mark.parametrize("value", ["unavailable", "unknown"])
async def test_an_unavailable_space_temperature_gets_no_heat(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory, value: str
) -> None:
    """Tenant A open and its temperature unreadable: the spare destination, not tenant A."""
    recorder = await _set_up(hass, tmp_path, freezer, "09:00")
    hass.states.async_set(TENANT_T, value)
    await hass.async_block_till_done()
    assert recorder.transitions() == [
        ("09:00", _asks("Tenant A")),
        ("09:00", _asks("Shared loop")),
    ]


async def test_the_spare_destination_takes_a_share_beside_the_spaces(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """By default the shared loop keeps a share beside a heated space (what the space's heat
    exchanger cannot take); never reject, which would take the space's heat away."""
    recorder = await _set_up(hass, tmp_path, freezer, "10:00", {"spare_alongside": 1})
    hass.states.async_set(STOCKROOM_OCCUPANCY, "on")
    await hass.async_block_till_done()
    assert recorder.transitions() == [
        ("10:00", _asks(shares={"Tenant A": 1, "Shared loop": 1})),
        ("10:00", _asks(shares={"Stockroom": 1, "Shared loop": 1})),
    ]


async def test_reject_as_spare_takes_no_share_beside_the_spaces(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory
) -> None:
    """With reject as the spare destination a space that needs heat gets all of it."""
    recorder = await _set_up(
        hass, tmp_path, freezer, "10:00", {"spare_alongside": 1, "spare_destination": "reject"}
    )
    assert recorder.transitions() == [("10:00", _asks("Tenant A"))]
