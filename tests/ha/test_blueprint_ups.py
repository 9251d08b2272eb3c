"""The UPS blueprint, run as an automation: each event runs its own actions, once, in time."""

from datetime import timedelta
from pathlib import Path
import shutil

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

BLUEPRINT = Path(__file__).parents[2] / "blueprints/automation/microdc/ups_power_events.yaml"
ON_BATTERY = "binary_sensor.ups_on_battery"
LOW_BATTERY = "binary_sensor.ups_low_battery"


@pytest.fixture(name="calls")
async def calls_fixture(hass: HomeAssistant, tmp_path: Path) -> list[ServiceCall]:
    """An automation from the blueprint whose actions call test.event with the event's name."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints/automation/microdc"
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    calls = async_mock_service(hass, "test", "event")
    for entity_id in (ON_BATTERY, LOW_BATTERY):
        hass.states.async_set(entity_id, "off")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "microdc/ups_power_events.yaml",
                    "input": {
                        "on_battery_sensor": ON_BATTERY,
                        "low_battery_sensor": LOW_BATTERY,
                        "grace_period": {"seconds": 30},
                        "on_battery_actions": [
                            {"action": "test.event", "data": {"event": "on_battery"}}
                        ],
                        "low_battery_actions": [
                            {"action": "test.event", "data": {"event": "low_battery"}}
                        ],
                        "power_back_actions": [
                            {"action": "test.event", "data": {"event": "power_back"}}
                        ],
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    return calls


def _services(calls: list[ServiceCall]) -> list[str]:
    return [call.data["event"] for call in calls]


async def test_outage_runs_each_event_once(
    hass: HomeAssistant, calls: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    """On battery after the grace period, then low battery, then power back."""
    hass.states.async_set(ON_BATTERY, "on")
    await hass.async_block_till_done()
    assert _services(calls) == []  # still within the grace period

    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _services(calls) == ["on_battery"]

    hass.states.async_set(LOW_BATTERY, "on")
    await hass.async_block_till_done()
    assert _services(calls) == ["on_battery", "low_battery"]

    freezer.tick(timedelta(minutes=5))
    hass.states.async_set(LOW_BATTERY, "off")
    hass.states.async_set(ON_BATTERY, "off")
    await hass.async_block_till_done()
    assert _services(calls) == ["on_battery", "low_battery", "power_back"]


async def test_flicker_shorter_than_the_grace_period_is_ignored(
    hass: HomeAssistant, calls: list[ServiceCall], freezer: FrozenDateTimeFactory
) -> None:
    """A few seconds on battery neither announces an outage nor its end."""
    hass.states.async_set(ON_BATTERY, "on")
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=5))
    hass.states.async_set(ON_BATTERY, "off")
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert _services(calls) == []
