"""Setting up and unloading a site."""

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from custom_components.microdc import SiteRuntimeData
from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN


async def test_site_set_up_through_the_flow_and_unloaded(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry
) -> None:
    """The flow's entry loads, registers the site device, and unloads cleanly."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_SITE_NAME: "Corner Shop"}
    )
    await hass.async_block_till_done()
    entry = result["result"]

    assert entry.state is ConfigEntryState.LOADED
    assert isinstance(entry.runtime_data, SiteRuntimeData)
    assert entry.runtime_data.site_name == "Corner Shop"
    site_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert site_device is not None
    assert site_device.name == "Corner Shop"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
