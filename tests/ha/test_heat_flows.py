"""The site's heat options and the heat destination subentry flow."""

from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.destination_config import (
    CONF_BRANCH_METER,
    CONF_KIND,
    CONF_VALVES,
    NO_METER,
)
from custom_components.microdc.lib.heat import Fluid, HeatingKind
from custom_components.microdc.settings import (
    CONF_EFFICIENCY,
    CONF_EMISSION_FACTOR,
    CONF_FLUID,
    CONF_HEAT,
    CONF_HEATING_KIND,
    CONF_MAX_READING_GAP,
    CONF_TARIFF,
    HeatOptions,
)

VALVES_ID = "valves01"
METER_ID = "meter01"


def _site(*subentries: ConfigSubentryData) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Corner Shop",
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=list(subentries),
    )


def _modbus(subentry_id: str, profile: str, unit_id: int) -> ConfigSubentryData:
    return ConfigSubentryData(
        subentry_id=subentry_id,
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title=f"{profile} {unit_id}",
        unique_id=f"127.0.0.1:1502:{unit_id}",
        data={"host": "127.0.0.1", "port": 1502, "unit_id": unit_id, "profile": profile},
    )


HEAT = {
    CONF_FLUID: Fluid.PROPYLENE_GLYCOL_30.value,
    CONF_MAX_READING_GAP: 600,
    CONF_HEATING_KIND: HeatingKind.HEAT_PUMP.value,
    CONF_EFFICIENCY: 3.2,
    CONF_TARIFF: 0.28,
    CONF_EMISSION_FACTOR: 0.35,
}


async def test_options_heat_section(hass: HomeAssistant) -> None:
    """The heat options are one section; a heat pump's COP below 1 is an error on its field."""
    entry = _site()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert CONF_HEAT in result["data_schema"].schema
    assert result["description_placeholders"]["currency"] == hass.config.currency
    # Other sections of the site's options keep the values the form suggests.
    others = {
        str(key): {
            str(field): field.description["suggested_value"]
            for field in value.schema.schema
            if field.description and "suggested_value" in field.description
        }
        for key, value in result["data_schema"].schema.items()
        if str(key) != CONF_HEAT
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**others, CONF_HEAT: {**HEAT, CONF_EFFICIENCY: 0.9}}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_EFFICIENCY: "invalid_efficiency_heat_pump"}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**others, CONF_HEAT: HEAT}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options[CONF_HEAT] == HEAT
    options = HeatOptions.from_entry(entry)
    assert options.fluid is Fluid.PROPYLENE_GLYCOL_30
    assert options.max_gap_s == 600
    assert options.displaced.avoided_cost(32.0) == 32.0 / 3.2 * 0.28


async def test_defaults_without_options() -> None:
    """A site never configured counts water and a gas boiler."""
    options = HeatOptions.from_options({})
    assert options.fluid is Fluid.WATER
    assert options.displaced.kind is HeatingKind.GAS_BOILER


async def _destination_flow(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    return dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_HEAT_DESTINATION), context={"source": "user"}
        )
    )


async def test_destination_needs_a_valve_point(hass: HomeAssistant) -> None:
    """A site whose devices have no valve point cannot have a heat destination yet."""
    entry = _site(_modbus(METER_ID, "demo_heat_meter", 4))
    entry.add_to_hass(hass)
    result = await _destination_flow(hass, entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_valve_points"


async def test_add_and_reconfigure_destination(hass: HomeAssistant, socket_enabled: None) -> None:
    """Valves come from the site's devices' points; a valve opens one destination only.

    Reconfiguring reloads the site, whose devices then find nothing listening on their port
    (hence the sockets): they start unavailable, which is all this test needs of them.
    """
    entry = _site(
        _modbus(VALVES_ID, "demo_valve_feedback", 5), _modbus(METER_ID, "demo_heat_meter", 4)
    )
    entry.add_to_hass(hass)

    result = await _destination_flow(hass, entry)
    assert result["type"] is FlowResultType.FORM
    offered = result["data_schema"].schema[CONF_VALVES].config["options"]
    # The valve feedback's points but the dry cooler's (the reject path); nothing of the heat
    # meter (no valve there).
    assert {o["value"] for o in offered} == {
        f"{VALVES_ID}/{key}_valve" for key in ("stockroom", "tenant_a", "tenant_b", "shared_loop")
    }
    # The site's only heat meter measures the rack's loop: it is not offered as a branch's.
    meters = {o["value"] for o in result["data_schema"].schema[CONF_BRANCH_METER].config["options"]}
    assert meters == {NO_METER}

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Reject",
            CONF_KIND: "stockroom",
            CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
        },
    )
    assert result["errors"] == {CONF_NAME: "invalid_destination_name"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Stockroom",
            CONF_KIND: "stockroom",
            CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
            CONF_BRANCH_METER: NO_METER,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_KIND: "stockroom",
        CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
        CONF_BRANCH_METER: None,
    }

    result = await _destination_flow(hass, entry)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_NAME: "Tenant A", CONF_KIND: "tenant", CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"]},
    )
    assert result["errors"] == {CONF_VALVES: "valve_taken"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_NAME: "stockroom", CONF_KIND: "tenant", CONF_VALVES: [f"{VALVES_ID}/tenant_a_valve"]},
    )
    assert result["errors"] == {CONF_NAME: "destination_name_taken"}

    stockroom = next(
        s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_HEAT_DESTINATION
    )
    result = await entry.start_subentry_reconfigure_flow(hass, stockroom.subentry_id)
    assert result["type"] is FlowResultType.FORM
    # Neither the loop's meter nor the dry cooler's valve can be chosen, even sent by hand.
    for wrong in (
        {CONF_BRANCH_METER: METER_ID},
        {CONF_VALVES: [f"{VALVES_ID}/dry_cooler_valve"]},
    ):
        with pytest.raises(InvalidData):
            await hass.config_entries.subentries.async_configure(
                result["flow_id"],
                {
                    CONF_NAME: "Back store",
                    CONF_KIND: "stockroom",
                    CONF_VALVES: [f"{VALVES_ID}/stockroom_valve"],
                    **wrong,
                },
            )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {
            CONF_NAME: "Back store",
            CONF_KIND: "stockroom",
            CONF_VALVES: [f"{VALVES_ID}/stockroom_valve", f"{VALVES_ID}/tenant_b_valve"],
            CONF_BRANCH_METER: NO_METER,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    changed = entry.subentries[stockroom.subentry_id]
    assert changed.title == "Back store"
    assert changed.data[CONF_BRANCH_METER] is None
    assert len(changed.data[CONF_VALVES]) == 2
    await hass.async_block_till_done()
