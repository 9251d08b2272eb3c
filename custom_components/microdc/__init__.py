"""microdc: a retail micro data centre (rack, UPS, heat recovery) in Home Assistant."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.typing import ConfigType

from .bacnet_commands import commands_store
from .bacnet_coordinator import (
    BacnetSite,
    async_release_bacnet_devices,
    async_setup_bacnet_devices,
)
from .const import CONF_SITE_NAME, DOMAIN
from .coordinator import (
    ModbusDeviceCoordinator,
    async_delete_profile_issues,
    async_setup_modbus_devices,
)
from .heat_accounting import heat_store
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]


@dataclass(slots=True)
class SiteRuntimeData:
    """What a loaded site keeps while it runs."""

    site_name: str
    # Modbus devices by subentry id.
    modbus_devices: dict[str, ModbusDeviceCoordinator] = field(default_factory=dict)
    # BACnet devices by subentry id, and the site's reference to the shared socket.
    bacnet: BacnetSite = field(default_factory=BacnetSite)


type MicrodcConfigEntry = ConfigEntry[SiteRuntimeData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up microdc's actions; sites come from config entries only."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MicrodcConfigEntry) -> bool:
    """Set up a site: its device in the registry, its runtime data and its platforms."""
    site_name: str = entry.data[CONF_SITE_NAME]
    # The site is the parent of every microdc device (via_device), so it exists first.
    dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, entry.entry_id)},
        name=site_name,
        manufacturer="microdc",
        model="Micro data centre site",
        entry_type=dr.DeviceEntryType.SERVICE,
    )
    modbus_devices = await async_setup_modbus_devices(hass, entry)
    bacnet = await async_setup_bacnet_devices(hass, entry)
    entry.runtime_data = SiteRuntimeData(
        site_name=site_name, modbus_devices=modbus_devices, bacnet=bacnet
    )
    _reload_when_subentries_change(hass, entry)
    try:
        await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    except BaseException:
        # async_unload_entry does not run after a failed setup: give the shared BACnet
        # socket back here (Modbus connections go back through the on-unload callbacks).
        await async_release_bacnet_devices(bacnet)
        raise
    return True


def _reload_when_subentries_change(hass: HomeAssistant, entry: MicrodcConfigEntry) -> None:
    """Reload the site when a device or heat destination is added or removed.

    Home Assistant does not reload an entry when a subentry is added, and an update listener
    would clash with the reload that options and reconfigure flows already schedule; so watch
    for a change of the set of subentries only.
    """
    loaded = frozenset(entry.subentries)

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
    """Unload a site and everything it started."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        # Relinquish microdc's BACnet commands first: the building's control takes over.
        # The Modbus devices stop and release their connections afterwards, in the entry's
        # on-unload callbacks (which also run when setup fails).
        await async_release_bacnet_devices(entry.runtime_data.bacnet)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: MicrodcConfigEntry) -> None:
    """Remove what would outlive a removed site: repair issues, heat ledger, command record."""
    async_delete_profile_issues(hass, entry)
    await heat_store(hass, entry.entry_id).async_remove()
    await commands_store(hass, entry.entry_id).async_remove()
