"""BACnet priorities 1-4 belong to life safety: the settings form refuses them on the field."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN
from custom_components.microdc.flows.options import current_bacnet, current_ups
from custom_components.microdc.settings import (
    CONF_BACNET,
    CONF_HEAT,
    CONF_UPS,
    CONF_WRITE_PRIORITY,
    HEAT_DEFAULTS,
    BacnetSiteSettings,
)


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
async def test_reserved_priorities_refused_with_an_error_on_the_field(
    hass: HomeAssistant, priority: int
) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="shop", data={CONF_SITE_NAME: "Shop"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    bacnet = {**current_bacnet(entry.options), CONF_WRITE_PRIORITY: priority}
    user_input = {CONF_HEAT: HEAT_DEFAULTS, CONF_BACNET: bacnet, CONF_UPS: current_ups({})}
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_WRITE_PRIORITY: "reserved_priority"}
    assert BacnetSiteSettings.write_priority_of(entry.options) == 12  # nothing was saved

    # The same form with priority 5 (critical equipment, the lowest microdc may use) saves.
    user_input[CONF_BACNET] = {**bacnet, CONF_WRITE_PRIORITY: 5}
    result = await hass.config_entries.options.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert BacnetSiteSettings.write_priority_of(entry.options) == 5
