"""Writes go only where a profile or a BACnet object allows them, within range and priority;
microdc's actions take only microdc's own entities."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.microdc.const import DOMAIN
from tests.ha.demo_harness import BACNET_ID, DemoSite


@pytest.fixture(autouse=True)
async def _first_poll(demo: DemoSite) -> None:
    """Every test starts after the site's first poll (the demo fixture is in conftest.py)."""
    await demo.advance()


def _entity(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


async def _written(site: DemoSite) -> dict[str, Any]:
    points = (await site.sim.async_state())["modbus"]["environment"]["points"]
    return {key: points[key].get("written") for key in ("exhaust_alarm_limit", "alarm_buzzer")}


@pytest.mark.parametrize("value", [19.9, 60.1, -1e9, float("inf"), float("nan")])
async def test_a_number_outside_its_range_is_refused_and_not_sent(
    hass: HomeAssistant, demo: DemoSite, value: float
) -> None:
    limit = _entity(hass, "number", "environment_exhaust_alarm_limit")
    with pytest.raises((ServiceValidationError, HomeAssistantError)):
        await hass.services.async_call(
            "number", "set_value", {"entity_id": limit, "value": value}, blocking=True
        )
    assert await _written(demo) == {"exhaust_alarm_limit": False, "alarm_buzzer": False}


async def test_the_coordinator_refuses_what_the_profile_does_not_allow(demo: DemoSite) -> None:
    coordinator = demo.entry.runtime_data.devices["environment"]
    refusals = {
        "inlet_temperature": (21.0, "not_writable"),  # a sensor: not writable
        "no_such_point": (1.0, "not_writable"),
        "exhaust_alarm_limit": (61.0, "out_of_range"),
    }
    for key, (value, reason) in refusals.items():
        with pytest.raises(HomeAssistantError) as refused:
            await coordinator.async_write(key, value, priority=12)
        assert refused.value.translation_key == reason, key
    for bad in ("hot", True, None, [1]):
        with pytest.raises(HomeAssistantError) as refused:
            await coordinator.async_write("exhaust_alarm_limit", bad, priority=12)  # type: ignore[arg-type]
        assert refused.value.translation_key == "bad_value"
    assert await _written(demo) == {"exhaust_alarm_limit": False, "alarm_buzzer": False}
    # Within range it is written, and read back.
    await coordinator.async_write("exhaust_alarm_limit", 50.0, priority=12)
    assert (await _written(demo))["exhaust_alarm_limit"] is True


async def test_bacnet_refuses_inputs_and_reserved_priorities(demo: DemoSite) -> None:
    coordinator = demo.entry.runtime_data.devices[BACNET_ID]
    for priority in (0, 1, 2, 3, 4, 17):
        with pytest.raises(HomeAssistantError) as refused:
            await coordinator.async_write("analog-output_1", 10.0, priority=priority)
        assert refused.value.translation_key == "priority_not_allowed", priority
    with pytest.raises(HomeAssistantError) as refused:
        await coordinator.async_write("analog-input_1", 10.0, priority=12)
    assert refused.value.translation_key == "not_writable"
    with pytest.raises(HomeAssistantError) as refused:
        await coordinator.async_write("analog-output_1", 101.0, priority=12)
    assert refused.value.translation_key == "out_of_range"
    valve = (await demo.sim.async_state())["valves"]["stockroom"]["bacnet"]
    assert valve["priority_array"] == [None] * 16  # nothing reached the controller


async def test_relinquish_takes_only_microdc_command_entities(
    hass: HomeAssistant, demo: DemoSite
) -> None:
    hass.states.async_set("number.someone_elses", "5")
    modbus_number = _entity(hass, "number", "environment_exhaust_alarm_limit")
    sensor = _entity(hass, "sensor", "rack_pdu_active_power")
    for entity_id in ("number.someone_elses", modbus_number, sensor, "number.missing"):
        with pytest.raises(ServiceValidationError) as refused:
            await hass.services.async_call(
                DOMAIN, "relinquish", {"entity_id": entity_id}, blocking=True
            )
        assert refused.value.translation_key == "not_a_bacnet_command", entity_id
    valve = _entity(hass, "number", f"{BACNET_ID}_analog-output_1")
    await hass.services.async_call(DOMAIN, "relinquish", {"entity_id": valve}, blocking=True)
