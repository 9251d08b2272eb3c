"""Setting up and unloading a site."""

from types import MappingProxyType
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components import microdc
from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN
from custom_components.microdc.site import Site


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
    assert isinstance(entry.runtime_data, Site)
    assert entry.runtime_data.name == "Corner Shop"
    site_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert site_device is not None
    assert site_device.name == "Corner Shop"

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_site_reloads_when_a_subentry_is_added_or_removed(hass: HomeAssistant) -> None:
    """A new or removed device/heat destination takes effect without a manual reload."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="corner_shop", data={CONF_SITE_NAME: "Corner Shop"}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    first_runtime = entry.runtime_data

    subentry = ConfigSubentry(
        data=MappingProxyType({}), subentry_type="probe", title="Probe", unique_id=None
    )
    with patch(
        "custom_components.microdc.async_setup_entry", wraps=microdc.async_setup_entry
    ) as setups:
        hass.config_entries.async_add_subentry(entry, subentry)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert setups.call_count == 1  # one reload, not one per signal
    second_runtime = entry.runtime_data
    assert second_runtime is not first_runtime

    # A title change alone is not a reason to reload.
    hass.config_entries.async_update_entry(entry, title="Corner Shop (north)")
    await hass.async_block_till_done()
    assert entry.runtime_data is second_runtime

    hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not second_runtime


async def test_a_subentry_added_while_the_site_starts_reloads_it(hass: HomeAssistant) -> None:
    """Two device flows finishing close together: the second device's subentry arrives while
    the site is still starting from the first one's reload. It must not be left out until
    something else reloads the site."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="corner_shop", data={CONF_SITE_NAME: "Corner Shop"}
    )
    entry.add_to_hass(hass)
    subentry = ConfigSubentry(
        data=MappingProxyType({}), subentry_type="probe", title="Probe", unique_id=None
    )
    start = Site.async_start
    started: list[frozenset[str]] = []

    async def start_while_a_flow_finishes(site: Site) -> None:
        started.append(frozenset(entry.subentries))
        await start(site)
        if len(started) == 1:  # after the site read its subentries, before it is loaded
            hass.config_entries.async_add_subentry(entry, subentry)

    with patch.object(Site, "async_start", start_while_a_flow_finishes):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # Started again, now with the new subentry.
    assert started == [frozenset(), frozenset({subentry.subentry_id})]
