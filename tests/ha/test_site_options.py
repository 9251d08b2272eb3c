"""The site's options flow: one form whose sections are the heat, BACnet and UPS options."""

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import (
    CONF_LOW_BATTERY_CHARGE,
    CONF_LOW_BATTERY_RUNTIME,
    CONF_SITE_NAME,
    DOMAIN,
)
from custom_components.microdc.flows.options import current_bacnet
from custom_components.microdc.settings import (
    CONF_BACNET,
    CONF_HEAT,
    CONF_UPS,
    HEAT_DEFAULTS as DEFAULTS,
    UpsLimits,
)


async def test_ups_limits_saved_from_the_options_form(hass: HomeAssistant) -> None:
    """The UPS section keeps what was there before and stores the new limits."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="shop", data={CONF_SITE_NAME: "Shop"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert UpsLimits.from_options(entry.options) == UpsLimits(
        300.0, 20.0
    )  # the defaults of a new site

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert CONF_UPS in result["data_schema"].schema
    # The other sections as a new site shows them; only the UPS section changes.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_HEAT: DEFAULTS,
            CONF_BACNET: current_bacnet(entry.options),
            CONF_UPS: {CONF_LOW_BATTERY_RUNTIME: 600, CONF_LOW_BATTERY_CHARGE: 35},
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert UpsLimits.from_options(entry.options) == UpsLimits(600.0, 35.0)
