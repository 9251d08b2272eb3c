"""The tenant-sharing and heat-safety blueprints, run as automations.

The action is a recording stand-in registered here, and the sensors are stand-in states with
the attributes the router gives them, so every call and notification can be asserted exactly;
tests/ha/test_heat_days.py runs the same blueprints against the real router and simulator.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

BLUEPRINTS = Path(__file__).parents[2] / "blueprints/automation/microdc"
SITE = "site_entry_id"
SOURCE = "Share heat between tenants"
TENANT_A_T = "sensor.tenant_a_temperature"
TENANT_B_T = "sensor.tenant_b_temperature"
TENANT_B_OPEN = "binary_sensor.tenant_b_open"
SAFETY = "binary_sensor.demo_heat_safety"
ROUTING = "sensor.demo_heat_routing"


async def _automation(
    hass: HomeAssistant, tmp_path: Path, blueprint: str, inputs: dict[str, Any]
) -> None:
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints/automation/microdc"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINTS / blueprint, target)
    assert await async_setup_component(
        hass,
        "automation",
        {"automation": {"use_blueprint": {"path": f"microdc/{blueprint}", "input": inputs}}},
    )
    await hass.async_block_till_done()
    assert hass.states.async_entity_ids("automation"), "the blueprint did not load"


@pytest.fixture(autouse=True)
async def _clean_up(hass: HomeAssistant, tmp_path: Path) -> Any:
    """Remove the automations after the test, so that no time-pattern timer lingers."""
    yield
    (tmp_path / "configuration.yaml").write_text("")
    if hass.services.has_service("automation", "reload"):
        await hass.services.async_call("automation", "reload", blocking=True)


@pytest.fixture(name="divert")
async def divert_fixture(hass: HomeAssistant) -> list[ServiceCall]:
    """Stand-in for the router glue's microdc.divert_heat: it records the calls."""
    async_mock_service(hass, "microdc", "release_heat")
    return async_mock_service(hass, "microdc", "divert_heat")


def _asks(destination: str | None = None, shares: dict[str, float] | None = None) -> dict:
    data: dict[str, Any] = {"config_entry_id": SITE, "source": SOURCE}
    if shares is None:
        data["destination"] = destination
    else:
        data["shares"] = shares
    return data


async def _tenants(
    hass: HomeAssistant, tmp_path: Path, policy: str, spare_alongside: float = 0
) -> None:
    hass.states.async_set(TENANT_A_T, "20.0")
    hass.states.async_set(TENANT_B_T, "19.0")
    hass.states.async_set(TENANT_B_OPEN, "on")
    await _automation(
        hass,
        tmp_path,
        "share_heat_between_tenants.yaml",
        {
            "site": SITE,
            "policy": policy,
            "spare_destination": "Shared loop",
            "destination_1": "Tenant A",
            "temperature_1": TENANT_A_T,
            "wanted_1": 21,
            "destination_2": "Tenant B",
            "temperature_2": TENANT_B_T,
            "wanted_2": 20.5,
            "open_2": [TENANT_B_OPEN],
            "spare_alongside": spare_alongside,
        },
    )


def _changes(calls: list[ServiceCall]) -> list[dict[str, Any]]:
    """The calls' data, a repeat of the same request (two triggers at once) counted once."""
    out: list[dict[str, Any]] = []
    for call in calls:
        if not out or out[-1] != dict(call.data):
            out.append(dict(call.data))
    return out


async def _set(hass: HomeAssistant, entity_id: str, state: str, **attributes: Any) -> None:
    hass.states.async_set(entity_id, state, attributes)
    await hass.async_block_till_done()


async def test_fair_share_weighted_by_demand(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory, divert: list
) -> None:
    """A 1 K and B 1.5 K below: shares 1 : 1.5; B closes: all to A; A warm: the spare;
    B's sensor unavailable while open: B gets nothing, A has it all again."""
    await _tenants(hass, tmp_path, "fair")
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await _set(hass, TENANT_B_OPEN, "off")
    await _set(hass, TENANT_A_T, "21.3")
    await _set(hass, TENANT_A_T, "20.2")
    await _set(hass, TENANT_B_OPEN, "on")
    await _set(hass, TENANT_B_T, "unavailable")
    await _set(hass, TENANT_B_T, "18.5")

    assert _changes(divert) == [
        _asks(shares={"Tenant A": 1.0, "Tenant B": 1.5}),
        _asks("Tenant A"),
        _asks("Shared loop"),
        _asks("Tenant A"),
        _asks(shares={"Tenant A": 0.8, "Tenant B": 1.5}),
        _asks("Tenant A"),
        _asks(shares={"Tenant A": 0.8, "Tenant B": 2.0}),
    ]


async def test_priority_gives_all_to_the_first_that_wants_it(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory, divert: list
) -> None:
    """Both below their wanted temperature: all to A, then to B once A is warm."""
    await _tenants(hass, tmp_path, "priority")
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await _set(hass, TENANT_A_T, "21.5")
    assert _changes(divert) == [_asks("Tenant A"), _asks("Tenant B")]


async def test_the_spare_destination_keeps_a_part_beside_the_tenants(
    hass: HomeAssistant, tmp_path: Path, freezer: FrozenDateTimeFactory, divert: list
) -> None:
    """The default: the shared loop gets as much as the tenants together (what their heat
    exchangers cannot take), whether the tenants share or one has it all."""
    await _tenants(hass, tmp_path, "fair", spare_alongside=1)
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    await _set(hass, TENANT_B_OPEN, "off")
    assert _changes(divert) == [
        _asks(shares={"Tenant A": 1.0, "Tenant B": 1.5, "Shared loop": 2.5}),
        _asks(shares={"Tenant A": 1, "Shared loop": 1.0}),
    ]


@pytest.fixture(name="alerts")
async def alerts_fixture(hass: HomeAssistant, tmp_path: Path) -> list[ServiceCall]:
    """The safety alert with actions that record the event and the message."""
    calls = async_mock_service(hass, "test", "alert")
    hass.states.async_set(SAFETY, "off", {"trips": []})
    hass.states.async_set(ROUTING, "requested", {"overridden": []})

    def action(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "action": "test.alert",
                "data": {"kind": kind, "event": "{{ event }}", "message": "{{ message }}"},
            }
        ]

    await _automation(
        hass,
        tmp_path,
        "heat_safety_alert.yaml",
        {
            "safety_sensor": SAFETY,
            "routing_sensor": ROUTING,
            "trip_actions": action("trip"),
            "override_actions": action("override"),
            "clear_actions": action("clear"),
        },
    )
    return calls


async def test_safety_trip_and_clear(hass: HomeAssistant, alerts: list[ServiceCall]) -> None:
    """A trip alerts once with its reason; unavailable in between is silent; clearing alerts."""
    trip = [{"reason": "safety_exhaust", "value": 46.2, "since": "2026-01-15T10:00:00+00:00"}]
    await _set(hass, ROUTING, "safety_exhaust", overridden=[])
    await _set(hass, SAFETY, "on", trips=trip)
    await _set(hass, SAFETY, "unavailable")
    await _set(hass, SAFETY, "off", trips=[])  # back from unavailable: not a clear it saw
    await _set(hass, SAFETY, "on", trips=trip)
    await _set(hass, ROUTING, "requested", overridden=[])
    await _set(hass, SAFETY, "off", trips=[])

    assert [(c.data["kind"], c.data["event"], c.data["message"]) for c in alerts] == [
        ("trip", "tripped", "Heat safety tripped (safety_exhaust): the heat goes to reject."),
        ("trip", "tripped", "Heat safety tripped (safety_exhaust): the heat goes to reject."),
        ("clear", "cleared", "Heat safety cleared; routing is back to requested."),
    ]


async def test_override_by_a_higher_priority(
    hass: HomeAssistant, alerts: list[ServiceCall]
) -> None:
    """An operator's priority 8 overrides: alert; a restart's unavailable is silent; ends."""
    await _set(hass, ROUTING, "requested", overridden=["tenant_a"])
    await _set(hass, ROUTING, "requested", overridden=["tenant_a", "stockroom"])
    await _set(hass, ROUTING, "unavailable")
    await _set(hass, ROUTING, "requested", overridden=[])  # back: no override seen to end
    await _set(hass, ROUTING, "requested", overridden=["tenant_a"])
    await _set(hass, ROUTING, "requested", overridden=[])

    assert [(c.data["kind"], c.data["event"]) for c in alerts] == [
        ("override", "overridden"),
        ("override", "overridden"),
        ("clear", "override_cleared"),
    ]
