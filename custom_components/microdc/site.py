"""Site: the runtime of one micro data centre installation (a config entry's runtime_data).

It owns the site's devices (one DeviceCoordinator each, whatever the protocol), its heat
accounting and its heat router, starts them in order and stops them in reverse: the router
relinquishes what it commanded and heat accounting saves its ledger before the devices go;
each device gives its commands back before it closes; the shared connections go last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .command_record import CommandRecord, commands_store
from .const import CONF_SITE_NAME, DOMAIN, SUBENTRY_HEAT_DESTINATION, SUBENTRY_MODBUS_DEVICE
from .coordinator import DeviceCoordinator, async_spread_polls
from .device_builder import (
    DEVICE_SUBENTRY_TYPES,
    DeviceBuilder,
    async_delete_stale_device_issues,
)
from .heat_accounting import SiteHeatAccounting
from .lib.routing import SettingsError
from .profile_store import async_load_profiles
from .routing import SiteRouting
from .settings import (
    CONF_MONITOR_ONLY,
    BacnetSiteSettings,
    UpsLimits,
    routing_settings,
    routing_values,
)

_LOGGER = logging.getLogger(__name__)


class Site:
    """One site's devices and heat accounting while its config entry is loaded."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Site]) -> None:
        """Nothing starts until async_start()."""
        self.hass = hass
        self.entry = entry
        self.name: str = entry.data[CONF_SITE_NAME]
        self.ups_limits = UpsLimits.from_options(entry.options)
        self.write_priority = BacnetSiteSettings.write_priority_of(entry.options)
        # A monitor-only site writes nothing: not the router, not a person's click.
        self.monitor_only = bool(routing_values(entry.options)[CONF_MONITOR_ONLY])
        self.devices: dict[str, DeviceCoordinator] = {}  # by device subentry id
        self.heat: SiteHeatAccounting | None = None
        self.routing: SiteRouting | None = None  # only a site with heat destinations routes
        self._builder: DeviceBuilder | None = None
        self._spread_cancels: list[Callable[[], None]] = []

    async def async_start(self) -> None:
        """Register the site's device, build and read every device once, start heat accounting.

        A device that cannot be read now starts unavailable and keeps being polled: one dead UPS
        card must not keep the rest of the site from loading.
        """
        hass, entry = self.hass, self.entry
        # The site is the parent of every microdc device (via_device), so it exists first.
        dr.async_get(hass).async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, entry.entry_id)},
            name=self.name,
            manufacturer="microdc",
            model="Micro data centre site",
            entry_type=dr.DeviceEntryType.SERVICE,
        )
        async_delete_stale_device_issues(hass)
        subentries = [
            s for s in entry.subentries.values() if s.subentry_type in DEVICE_SUBENTRY_TYPES
        ]
        needs_profiles = any(s.subentry_type == SUBENTRY_MODBUS_DEVICE for s in subentries)
        profiles = dict((await async_load_profiles(hass)).profiles) if needs_profiles else {}
        commands = CommandRecord(commands_store(hass, entry.entry_id))
        await commands.async_load()
        self._builder = builder = DeviceBuilder(hass, entry, profiles, commands)
        for subentry in subentries:
            built = await builder.async_build(subentry)
            if built is not None:
                self.devices[subentry.subentry_id] = DeviceCoordinator(
                    hass, entry, subentry, built.device, scan_interval_s=built.scan_interval_s
                )
        await asyncio.gather(*(c.async_refresh() for c in self.devices.values()))
        self.heat = SiteHeatAccounting(hass, entry, self.devices)
        await self.heat.async_start()
        self.routing = self._build_routing()
        if self.routing is not None:
            await self.routing.async_start()

    @callback
    def async_spread_polls(self) -> None:
        """Once the entities listen (their schedules run): spread the devices' polls."""
        self._spread_cancels = async_spread_polls(self.hass, self.devices.values())

    def _build_routing(self) -> SiteRouting | None:
        """The heat router, where there is a heat destination to route to."""
        entry = self.entry
        if not any(s.subentry_type == SUBENTRY_HEAT_DESTINATION for s in entry.subentries.values()):
            return None
        try:
            settings = routing_settings(routing_values(entry.options), self.write_priority)
        except SettingsError as err:
            _LOGGER.error(  # noqa: TRY400 - the reason is in the message
                "%s: heat routing is off: %s", self.name, err
            )
            return None
        return SiteRouting(self.hass, entry, self.devices, settings)

    async def async_stop(self) -> None:
        """Give routing's commands back, save the ledger, close the devices, release connections."""
        for cancel in self._spread_cancels:
            cancel()
        self._spread_cancels.clear()
        if self.routing is not None:
            await self.routing.async_stop()
            self.routing = None
        if self.heat is not None:
            await self.heat.async_stop()
        for coordinator in self.devices.values():
            await coordinator.async_stop()
        self.devices.clear()
        if self._builder is not None:
            await self._builder.async_release()
