"""Builds the Device of each device subentry: the only place that knows which protocol is which.

Modbus devices share one connection per gateway endpoint across every site (a reference-counted
pool); BACnet devices share the process's one BACnet/IP socket. Everything after construction
goes through the Device interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import math
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util.hass_dict import HassKey

from .command_record import CommandRecord
from .const import DOMAIN, SUBENTRY_BACNET_DEVICE, SUBENTRY_MODBUS_DEVICE, SUSPECT_REPROBE_S
from .device_config import ModbusDeviceConfig
from .lib.devices.bacnet import BacnetDevice
from .lib.devices.bacnet_config import BacnetDeviceConfig
from .lib.devices.base import Device
from .lib.devices.modbus import ModbusDevice
from .lib.profile import Profile
from .lib.protocols.bacnet import BacnetError, BacnetNetwork
from .lib.protocols.bacnet_address import (
    InvalidAddressError,
    UnresolvedHostError,
    async_resolve,
    split_host_port,
)
from .lib.protocols.modbus import ModbusConnection, ModbusConnectionPool
from .settings import BacnetSiteSettings

_LOGGER = logging.getLogger(__name__)

# One pool for every site: two sites reading through one gateway still share its socket.
MODBUS_POOL: HassKey[ModbusConnectionPool] = HassKey(f"{DOMAIN}_modbus_pool")
DEVICE_SUBENTRY_TYPES = (SUBENTRY_MODBUS_DEVICE, SUBENTRY_BACNET_DEVICE)
PROFILE_MISSING = "profile_missing_"  # + subentry id: a device whose profile is gone
HOST_UNRESOLVED = "bacnet_host_unresolved_"  # + subentry id: a host name not found at start
BACNET_UNAVAILABLE = "bacnet_network_unavailable_"  # + entry id
# The issues of one device each, deleted with the device.
DEVICE_ISSUES = (PROFILE_MISSING, HOST_UNRESOLVED)


@dataclass(frozen=True, slots=True)
class BuiltDevice:
    """A device ready to be polled, and its scan interval."""

    device: Device
    scan_interval_s: float


@dataclass(slots=True)
class DeviceBuilder:
    """Builds a site's devices and gives back what they hold when the site stops."""

    hass: HomeAssistant
    entry: ConfigEntry[Any]
    profiles: dict[str, Profile]
    commands: CommandRecord
    bacnet: BacnetSiteSettings | None = None
    network: BacnetNetwork | None = None
    _connections: list[ModbusConnection] = field(default_factory=list)
    _bacnet_failed: bool = False

    async def async_build(self, subentry: ConfigSubentry) -> BuiltDevice | None:
        """The subentry's device, or None (logged, with a repair issue) if it cannot be made."""
        if subentry.subentry_type == SUBENTRY_MODBUS_DEVICE:
            return self._modbus(subentry)
        if subentry.subentry_type == SUBENTRY_BACNET_DEVICE:
            return await self._bacnet(subentry)
        return None

    def _modbus(self, subentry: ConfigSubentry) -> BuiltDevice | None:
        config = ModbusDeviceConfig.from_data(subentry.data)
        profile = self.profiles.get(config.profile_id)
        issue_id = f"{PROFILE_MISSING}{subentry.subentry_id}"
        if profile is None:
            _LOGGER.error(
                "%s: profile %s is missing or invalid; the device is not set up",
                subentry.title,
                config.profile_id,
            )
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="profile_missing",
                translation_placeholders={"device": subentry.title, "profile": config.profile_id},
            )
            return None
        ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        pool = self.hass.data.setdefault(MODBUS_POOL, ModbusConnectionPool())
        connection = pool.acquire(config.endpoint, timeout=config.timeout_s)
        self._connections.append(connection)
        device = ModbusDevice(
            connection,
            config.unit_id,
            profile,
            max_gap=config.max_gap,
            name=subentry.title,
            timeout=config.timeout_s,
            reprobe_polls=max(1, math.ceil(SUSPECT_REPROBE_S / config.scan_interval_s)),
        )
        return BuiltDevice(device, config.scan_interval_s)

    async def _bacnet(self, subentry: ConfigSubentry) -> BuiltDevice | None:
        network = await self._network()
        if network is None or self.bacnet is None:
            return None
        config = BacnetDeviceConfig.from_data(subentry.data)
        issue_id = f"{HOST_UNRESOLVED}{subentry.subentry_id}"
        try:
            # A host name is resolved at every start: the controller's address may change.
            client = network.device(await async_resolve(config.address), config.device_instance)
        except UnresolvedHostError as err:
            _LOGGER.error("%s: not set up: %s", subentry.title, err)  # noqa: TRY400
            # Left out with only a log line, a device would just be missing from the site.
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="bacnet_host_unresolved",
                translation_placeholders={
                    "device": subentry.title,
                    "host": split_host_port(config.address)[0],
                },
            )
            return None
        except (BacnetError, InvalidAddressError) as err:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)  # its address is no name now
            _LOGGER.error("%s: not set up: %s", subentry.title, err)  # noqa: TRY400
            return None
        ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        device = BacnetDevice(
            client,
            config,
            name=subentry.title,
            journal=self.commands.journal(subentry.subentry_id),
            watch_priority=self.bacnet.write_priority,
        )
        return BuiltDevice(device, config.scan_interval_s)

    async def _network(self) -> BacnetNetwork | None:
        """The shared BACnet/IP socket, acquired once per site; None if the settings fail."""
        if self.network is not None or self._bacnet_failed:
            return self.network
        issue_id = f"{BACNET_UNAVAILABLE}{self.entry.entry_id}"
        try:
            self.bacnet = BacnetSiteSettings.from_options(self.entry.options)
            self.network = await BacnetNetwork.acquire(self.bacnet.network)
        except BacnetError as err:
            self._bacnet_failed = True
            # A settings problem the message explains; a traceback would add nothing.
            _LOGGER.error("%s: BACnet devices not set up: %s", self.entry.title, err)  # noqa: TRY400
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="bacnet_network_unavailable",
                translation_placeholders={"site": self.entry.title, "error": str(err)},
            )
            return None
        ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        return self.network

    async def async_release(self) -> None:
        """Give back the shared connections and socket (after every device has closed)."""
        pool = self.hass.data.get(MODBUS_POOL)
        connections, self._connections = self._connections, []
        for connection in connections:
            if pool is not None:
                await pool.release(connection)
        if self.network is not None:
            network, self.network = self.network, None
            await network.release()


@callback
def async_delete_stale_device_issues(hass: HomeAssistant) -> None:
    """Delete the issues of devices (a missing profile, a host name not found) that no
    longer exist in any site."""
    devices = {
        subentry_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry_id in entry.subentries
    }
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain != DOMAIN:
            continue
        for prefix in DEVICE_ISSUES:
            if issue_id.startswith(prefix) and issue_id.removeprefix(prefix) not in devices:
                ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_delete_site_issues(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Delete the repair issues of a site that is being removed, and of its devices."""
    for subentry_id in entry.subentries:
        for prefix in DEVICE_ISSUES:
            ir.async_delete_issue(hass, DOMAIN, f"{prefix}{subentry_id}")
    ir.async_delete_issue(hass, DOMAIN, f"{BACNET_UNAVAILABLE}{entry.entry_id}")
