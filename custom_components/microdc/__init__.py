"""microdc: a retail micro data centre (rack, UPS, heat recovery) in Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType

from .command_record import commands_store
from .const import DOMAIN
from .device_builder import async_delete_site_issues
from .discovery import spare_entities
from .heat_accounting import heat_store
from .models import MicrodcConfigEntry
from .routed_entities import async_hand_routed_entities_to_router
from .services import async_setup_services
from .site import Site

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.VALVE,
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up microdc's actions; sites come from config entries only."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MicrodcConfigEntry) -> bool:
    """Start the site (its devices and heat accounting), then its platforms."""
    site = Site(hass, entry)
    # The subentries the site starts with: one added while it starts (a second device flow
    # finishing meanwhile) is not among its devices, and must bring a reload.
    starting = frozenset(entry.subentries)
    try:
        await site.async_start()
        entry.runtime_data = site
        _reload_when_subentries_change(hass, entry, starting)
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
        site.async_spread_polls()
        async_hand_routed_entities_to_router(
            hass,
            entry,
            frozenset() if site.routing is None else site.routing.routed,
            spare_entities(site.devices),
        )
    except BaseException:
        # async_unload_entry does not run after a failed setup: stop what started here.
        await site.async_stop()
        raise
    return True


def _reload_when_subentries_change(
    hass: HomeAssistant, entry: MicrodcConfigEntry, loaded: frozenset[str]
) -> None:
    """Reload the site when a device or heat destination is added or removed.

    Home Assistant does not reload an entry when a subentry is added, and an update listener
    would clash with the reload that options and reconfigure flows already schedule; so watch
    for a change of the set of subentries only. A change during set-up is seen when the entry
    turns loaded (that signals UPDATED too).
    """

    @callback
    def _on_entry_changed(change: ConfigEntryChange, changed: ConfigEntry) -> None:
        # Only while loaded: the unload that the reload starts signals UPDATED too, and
        # reacting to it would reload the site a second time.
        if (
            change is ConfigEntryChange.UPDATED
            and changed.entry_id == entry.entry_id
            and changed.state is ConfigEntryState.LOADED
            and frozenset(changed.subentries) != loaded
        ):
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _on_entry_changed)
    )


async def async_unload_entry(hass: HomeAssistant, entry: MicrodcConfigEntry) -> bool:
    """Unload the platforms, then stop the site: its commands go back to the building."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: MicrodcConfigEntry) -> None:
    """Remove what would outlive a removed site: repair issues, heat ledger, command record."""
    async_delete_site_issues(hass, entry)
    await heat_store(hass, entry.entry_id).async_remove()
    await commands_store(hass, entry.entry_id).async_remove()
