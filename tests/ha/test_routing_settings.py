"""The heat router's settings: the site options' routing section and the destination's fields.

Sites and destinations stored before routing existed load with the defaults; the forms refuse
what the router would refuse, each on its own field.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.destination_config import (
    CONF_BRANCH_METER,
    CONF_CLOSED,
    CONF_FEEDBACK,
    CONF_KIND,
    CONF_OPEN,
    CONF_SPACE,
    CONF_SPACE_LIMIT,
    CONF_VALVES,
    NO_METER,
    HeatDestinationConfig,
)
from custom_components.microdc.lib.routing import DefaultRouting, RoutingSettings
from custom_components.microdc.settings import (
    CONF_DEFAULT_ROUTING,
    CONF_MONITOR_ONLY,
    CONF_ROUTING,
    CONF_SAFETY_PRIORITY,
    routing_settings,
    routing_values,
)

VALVES_ID = "valves01"
OLD_DESTINATION = {
    CONF_KIND: "stockroom",
    CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
    CONF_BRANCH_METER: None,
}


def _site(
    *subentries: ConfigSubentryData, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Corner Shop",
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=options or {},
        subentries_data=list(subentries),
    )


def _valves() -> ConfigSubentryData:
    # Nothing listens on this port: the device starts unavailable, which is all these need.
    return ConfigSubentryData(
        subentry_id=VALVES_ID,
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title="Valves",
        unique_id="127.0.0.1:1:5",
        data={"host": "127.0.0.1", "port": 1, "unit_id": 5, "profile": "demo_valve_feedback"},
    )


def _stockroom() -> ConfigSubentryData:
    return ConfigSubentryData(
        subentry_id="stockroom",
        subentry_type=SUBENTRY_HEAT_DESTINATION,
        title="Stockroom",
        unique_id=None,
        data=OLD_DESTINATION,
    )


def test_an_old_site_and_destination_read_with_the_defaults() -> None:
    """No routing section, no routing keys: the router's defaults, relinquish, unchanged data."""
    settings = routing_settings(routing_values({}), 12)
    assert settings == RoutingSettings(default=DefaultRouting.RELINQUISH)
    config = HeatDestinationConfig.from_data(OLD_DESTINATION)
    assert (config.space, config.space_limit, dict(config.feedback)) == (None, None, {})
    assert (config.open_pct, config.closed_pct) == (100.0, 0.0)
    assert config.as_data() == OLD_DESTINATION


async def test_options_refuse_a_life_safety_priority(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Safety priority 1-4 is refused on its field; 7, relinquish and monitor-only are kept."""
    entry = _site(_valves(), _stockroom())
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert CONF_ROUTING in result["data_schema"].schema
    suggested = {
        str(key): {
            str(field): field.description["suggested_value"]
            for field in value.schema.schema
            if field.description and "suggested_value" in field.description
        }
        for key, value in result["data_schema"].schema.items()
    }
    assert suggested[CONF_ROUTING][CONF_SAFETY_PRIORITY] == 5
    assert suggested[CONF_ROUTING][CONF_DEFAULT_ROUTING] == "relinquish"
    for priority, error in ((3, "routing_life_safety"), (6, "routing_minimum_on_off")):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                **suggested,
                CONF_ROUTING: {**suggested[CONF_ROUTING], CONF_SAFETY_PRIORITY: priority},
            },
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {CONF_SAFETY_PRIORITY: error}
    routing = {
        **suggested[CONF_ROUTING],
        CONF_SAFETY_PRIORITY: 7,
        CONF_DEFAULT_ROUTING: "reject",
        CONF_MONITOR_ONLY: True,
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**suggested, CONF_ROUTING: routing}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    settings = routing_settings(routing_values(entry.options), 12)
    assert settings.safety_priority == 7
    assert settings.default is DefaultRouting.REJECT
    assert settings.monitor_only


async def test_destination_routing_fields(hass: HomeAssistant) -> None:
    """Space temperature, its limit, a feedback per valve and the positions are stored;
    a limit without a space and equal open and closed positions are refused on their fields."""
    entry = _site(_valves())
    entry.add_to_hass(hass)
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_HEAT_DESTINATION), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.FORM
    base = {
        CONF_NAME: "Stockroom",
        CONF_KIND: "stockroom",
        CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
        CONF_BRANCH_METER: NO_METER,
    }
    for routing, errors in (
        ({CONF_SPACE_LIMIT: 24.0}, {CONF_SPACE: "space_limit_without_space"}),
        ({CONF_OPEN: 40.0, CONF_CLOSED: 40.0}, {CONF_CLOSED: "routing_open_is_closed"}),
        ({"feedback_2": f"{VALVES_ID}/tenant_a_valve"}, {"feedback_2": "feedback_without_valve"}),
    ):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {**base, CONF_ROUTING: routing}
        )
        assert result["errors"] == errors, routing
    # A second valve that is its own feedback: said on its own feedback field.
    two_valves = [f"{VALVES_ID}/stockroom_valve", f"{VALVES_ID}/tenant_a_valve"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            **base,
            CONF_VALVES: two_valves,
            CONF_ROUTING: {"feedback_2": f"{VALVES_ID}/tenant_a_valve"},
        },
    )
    assert result["errors"] == {"feedback_2": "feedback_is_a_valve"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            **base,
            CONF_ROUTING: {
                "feedback_1": f"{VALVES_ID}/shared_loop_valve",
                CONF_OPEN: 0.0,
                CONF_CLOSED: 100.0,
            },
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_FEEDBACK] == {
        f"{VALVES_ID}/stockroom_valve": f"{VALVES_ID}/shared_loop_valve"
    }
    assert (result["data"][CONF_OPEN], result["data"][CONF_CLOSED]) == (0.0, 100.0)
