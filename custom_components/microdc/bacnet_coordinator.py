"""One coordinator per BACnet/IP device: RPM polls, COV pushes, commands at microdc's priority.

The poll reads every chosen object's present value and status flags with as few
ReadPropertyMultiple requests as the device allows (the transport falls back to ReadProperty).
Objects whose device accepts SubscribeCOV push their changes into the coordinator at once; the
poll stays as the fallback and is what notices a device gone silent. The transport renews each
subscription before its lifetime ends and again when the device comes back (I-Am, or an answer
after a timeout); objects that failed to subscribe while the device was away are subscribed
after the next good poll.

Every command microdc writes is remembered, so unloading the site relinquishes them all (the
building's own control takes over again) before the client closes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .bacnet_address import InvalidAddressError, UnresolvedHostError, async_resolve
from .bacnet_commands import CommandRecord, commands_store, same_command
from .bacnet_config import BacnetDeviceConfig, object_key
from .bacnet_options import BacnetSiteSettings
from .const import DOMAIN, SUBENTRY_BACNET_DEVICE
from .protocols.bacnet import (
    BacnetAbortError,
    BacnetDeviceClient,
    BacnetError,
    BacnetNetwork,
    BacnetRejectError,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    BacnetValueOutOfRangeError,
    BacnetWriteAccessDeniedError,
    CovSubscription,
    ObjectId,
    PointReading,
    PresentValue,
)

if TYPE_CHECKING:
    from . import MicrodcConfigEntry

_LOGGER = logging.getLogger(__name__)

type Readings = dict[ObjectId, PointReading]

# Most specific first: the translation key of each transport error.
_ERROR_KEYS: tuple[tuple[type[BacnetError], str], ...] = (
    (BacnetTimeoutError, "bacnet_timeout"),
    (BacnetRejectError, "bacnet_reject"),
    (BacnetAbortError, "bacnet_abort"),
    (BacnetWriteAccessDeniedError, "bacnet_write_access_denied"),
    (BacnetValueOutOfRangeError, "bacnet_value_out_of_range"),
    (BacnetUnknownObjectError, "bacnet_unknown_object"),
    (BacnetError, "bacnet_error"),
)


def error_key(err: BacnetError) -> str:
    """The translation key for a transport error."""
    return next(key for kind, key in _ERROR_KEYS if isinstance(err, kind))


def translated_error(err: BacnetError, device: str, object_name: str) -> HomeAssistantError:
    """A transport error as the translated error an action shows."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=error_key(err),
        translation_placeholders={"device": device, "object": object_name, "error": str(err)},
    )


class BacnetDeviceCoordinator(DataUpdateCoordinator[Readings]):
    """Reads one BACnet device; entities read its latest PointReading per object."""

    config_entry: MicrodcConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MicrodcConfigEntry,
        subentry: ConfigSubentry,
        client: BacnetDeviceClient,
        config: BacnetDeviceConfig,
        *,
        write_priority: int,
        record: CommandRecord,
    ) -> None:
        """Poll at the device's scan interval; COV feeds changes in between."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=subentry.title,
            update_interval=timedelta(seconds=config.scan_interval_s),
        )
        self.subentry = subentry
        self.client = client
        self.config = config
        self.write_priority = write_priority
        self.record = record  # this site's commands, which survive a restart
        self.held: set[ObjectId] = set()  # objects microdc has commanded and not relinquished
        self.subscriptions: dict[ObjectId, CovSubscription] = {}
        self.cov_refused: dict[ObjectId, str] = {}  # the device's answer to SubscribeCOV
        self._subscribing = False
        self._commands_adopted = False
        self._subscribe_task: asyncio.Task[None] | None = None

    @property
    def device_info(self) -> DeviceInfo:
        """The Home Assistant device of this BACnet device, under the site."""
        device = DeviceInfo(
            identifiers={(DOMAIN, self.subentry.subentry_id)},
            name=self.subentry.title,
            manufacturer="BACnet",
            model=f"BACnet/IP device {self.config.device_instance}",
        )
        # The site's own device is registered before any device of the site is set up.
        entry_id = self.config_entry.entry_id
        site = dr.async_get(self.hass).async_get_device_by_identifier((DOMAIN, entry_id), entry_id)
        if site is not None:
            device["via_device_id"] = site.id
        return device

    def reading(self, object_id: ObjectId) -> PointReading | None:
        """The latest reading of an object (None: none yet)."""
        data: Readings | None = self.data
        return None if data is None else data.get(object_id)

    def value(self, key: str) -> PresentValue:
        """A point's present value by its key (site_points), as Modbus coordinators offer.

        None while there is no trustworthy reading: not read, read with an error, or the
        device flags the object in fault.
        """
        obj = self.config.object_by_key(key)
        reading = None if obj is None else self.reading(obj.object_id)
        if reading is None or reading.error is not None:
            return None
        if reading.status_flags is not None and reading.status_flags.fault:
            return None
        return reading.present_value

    async def _async_update_data(self) -> Readings:
        try:
            readings = await self.client.read_present_values(self.config.object_ids)
        except BacnetError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="bacnet_poll_failed",
                translation_placeholders={"device": self.subentry.title, "error": str(err)},
            ) from err
        if not self._commands_adopted:
            await self._async_adopt_commands()
        if self.config.cov and not self._subscribing and self._unsubscribed():
            self._subscribe_task = self.config_entry.async_create_background_task(
                self.hass, self._async_subscribe_missing(), f"{self.name} COV subscriptions"
            )
        return readings

    async def _async_adopt_commands(self) -> None:
        """Count as this site's own the commands its record lists and the device still holds.

        After a restart (Home Assistant does not unload a site when it stops) the valves this
        site commanded still hold its commands: adopting them means an unload or
        ``microdc.relinquish`` gives them back. A command at the same priority that this site
        did not write (another site on the same controller, another client) is left alone.
        """
        recorded = self.record.commands(self.config.device_instance)
        commandable = [obj.object_id for obj in self.config.objects if obj.commandable]
        try:
            arrays = await self.client.read_properties(
                [(object_id, ("priority-array",)) for object_id in commandable]
            )
        except BacnetError as err:
            _LOGGER.debug("%s: priority arrays not read: %s", self.name, err)
            return
        self._commands_adopted = True
        foreign: list[ObjectId] = []
        for object_id in commandable:
            slots = arrays.get((object_id, "priority-array"))
            slot = (
                slots[self.write_priority - 1]
                if isinstance(slots, tuple) and len(slots) >= self.write_priority
                else None
            )
            if object_id in recorded and same_command(slot, recorded[object_id]):
                self.held.add(object_id)
            elif slot is not None:
                foreign.append(object_id)
        for object_id in recorded.keys() - self.held:
            # Relinquished or overwritten by someone else while this site was not running.
            await self.record.async_forget(self.config.device_instance, object_id)
        if self.held:
            _LOGGER.info(
                "%s: microdc holds commands at priority %d on %s",
                self.name,
                self.write_priority,
                ", ".join(sorted(self._object_name(oid) for oid in self.held)),
            )
        if foreign:
            _LOGGER.info(
                "%s: priority %d of %s holds a command this site did not write; left alone",
                self.name,
                self.write_priority,
                ", ".join(sorted(self._object_name(oid) for oid in foreign)),
            )

    def _unsubscribed(self) -> list[ObjectId]:
        return [
            oid
            for oid in self.config.object_ids
            if oid not in self.subscriptions and oid not in self.cov_refused
        ]

    async def _async_subscribe_missing(self) -> None:
        self._subscribing = True
        try:
            for object_id in self._unsubscribed():
                try:
                    self.subscriptions[object_id] = await self.client.subscribe_cov(
                        object_id, self._on_cov, lifetime_s=self.config.cov_lifetime_s
                    )
                except BacnetTimeoutError:
                    return  # away again: the next good poll tries the rest
                except BacnetError as err:
                    # The device does not do COV for this object: the poll serves it.
                    self.cov_refused[object_id] = str(err)
        finally:
            self._subscribing = False

    @callback
    def _on_cov(self, reading: PointReading) -> None:
        """A notification: the entity shows it now, the poll schedule stays as it is."""
        self.data = {**(self.data or {}), reading.object_id: reading}
        if self.last_update_success:
            self.async_update_listeners()
        else:
            # The device is talking again: let a poll confirm it (and log the recovery).
            self.hass.async_create_task(self.async_request_refresh())

    async def _async_reread(self, object_id: ObjectId) -> None:
        """Show the effect of a command without waiting for the poll or a notification."""
        try:
            readings = await self.client.read_present_values([object_id])
        except BacnetError as err:
            _LOGGER.debug("%s: reading %s after a write failed: %s", self.name, object_id, err)
            return
        self.data = {**(self.data or {}), **readings}
        self.async_update_listeners()

    def _object_name(self, object_id: ObjectId) -> str:
        obj = self.config.object(object_id)
        return obj.name if obj is not None else str(object_id)

    async def async_write(self, object_id: ObjectId, value: float | bool | int) -> None:
        """Command an object at microdc's priority; a refusal is a translated error."""
        try:
            await self.client.write_present_value(object_id, value, self.write_priority)
        except BacnetError as err:
            raise translated_error(err, self.subentry.title, self._object_name(object_id)) from err
        self.held.add(object_id)
        await self.record.async_written(self.config.device_instance, object_id, value)
        await self._async_reread(object_id)

    async def async_relinquish(self, object_id: ObjectId) -> None:
        """Write null at microdc's priority: the next priority (or the default) takes over."""
        try:
            await self.client.relinquish(object_id, self.write_priority)
        except BacnetError as err:
            raise translated_error(err, self.subentry.title, self._object_name(object_id)) from err
        self.held.discard(object_id)
        await self.record.async_forget(self.config.device_instance, object_id)
        await self._async_reread(object_id)

    async def async_release(self) -> None:
        """On unload: relinquish every command held, stop polling, close the client."""
        await self.async_shutdown()
        # A subscription round still running would subscribe again after the client closed.
        if self._subscribe_task is not None and not self._subscribe_task.done():
            self._subscribe_task.cancel()
            await asyncio.gather(self._subscribe_task, return_exceptions=True)
        for object_id in sorted(self.held):
            try:
                await self.client.relinquish(object_id, self.write_priority)
            except BacnetError as err:
                _LOGGER.warning(
                    "%s: could not relinquish %s at priority %d: %s",
                    self.name,
                    self._object_name(object_id),
                    self.write_priority,
                    err,
                )
            else:
                self.held.discard(object_id)
                await self.record.async_forget(self.config.device_instance, object_id)
        await self.client.close()
        self.subscriptions.clear()

    def diagnostics(self) -> dict[str, Any]:
        """The device's objects and COV state (the caller redacts the address)."""
        info = self.client.info
        return {
            "title": self.subentry.title,
            "address": self.config.address,
            "device_instance": self.config.device_instance,
            "available": self.client.available,
            "rpm_supported": self.client.rpm_supported,
            "max_apdu": None if info is None else info.max_apdu,
            "segmentation": None if info is None else info.segmentation,
            "write_priority": self.write_priority,
            "held_commands": sorted(str(oid) for oid in self.held),
            "last_update_success": self.last_update_success,
            "objects": [
                {
                    "object": str(obj.object_id),
                    "key": object_key(obj.object_id),
                    "name": obj.name,
                    "units": obj.units,
                    "commandable": obj.commandable,
                    "role": obj.role,
                    "present_value": None
                    if (reading := self.reading(obj.object_id)) is None
                    else reading.present_value,
                    "cov": _cov_state(
                        self.subscriptions.get(obj.object_id), self.cov_refused.get(obj.object_id)
                    ),
                }
                for obj in self.config.objects
            ],
        }


def _cov_state(subscription: CovSubscription | None, refused: str | None) -> dict[str, Any]:
    if subscription is None:
        return {"subscribed": False, "refused": refused}
    return {
        "subscribed": True,
        "active": subscription.active,
        "lifetime_s": subscription.lifetime_s,
        "notifications": subscription.notifications,
        "last_error": None if subscription.last_error is None else str(subscription.last_error),
    }


class BacnetSite:
    """A site's BACnet devices and its reference to the shared network."""

    def __init__(self, network: BacnetNetwork | None = None) -> None:
        self.network = network
        self.devices: dict[str, BacnetDeviceCoordinator] = {}


async def async_setup_bacnet_devices(hass: HomeAssistant, entry: MicrodcConfigEntry) -> BacnetSite:
    """Acquire the shared network and build a coordinator per BACnet device subentry.

    A device that cannot be read now starts unavailable and keeps being polled. Settings
    that cannot open the socket leave the site's BACnet devices out (logged), not the site.
    """
    subentries = [
        subentry
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_BACNET_DEVICE
    ]
    if not subentries:
        return BacnetSite()
    issue_id = f"bacnet_network_unavailable_{entry.entry_id}"
    try:
        settings = BacnetSiteSettings.from_options(entry.options)
        network = await BacnetNetwork.acquire(settings.network)
    except BacnetError as err:
        # A settings problem the message explains; a traceback would add nothing.
        _LOGGER.error("%s: BACnet devices not set up: %s", entry.title, err)  # noqa: TRY400
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="bacnet_network_unavailable",
            translation_placeholders={"site": entry.title, "error": str(err)},
        )
        return BacnetSite()
    ir.async_delete_issue(hass, DOMAIN, issue_id)
    site = BacnetSite(network)
    record = CommandRecord(commands_store(hass, entry.entry_id))
    await record.async_load()
    for subentry in subentries:
        config = BacnetDeviceConfig.from_data(subentry.data)
        try:
            # A host name is resolved at every start: the controller's address may change.
            client = network.device(await async_resolve(config.address), config.device_instance)
        except (BacnetError, InvalidAddressError, UnresolvedHostError) as err:
            _LOGGER.error("%s: not set up: %s", subentry.title, err)  # noqa: TRY400
            continue
        site.devices[subentry.subentry_id] = BacnetDeviceCoordinator(
            hass,
            entry,
            subentry,
            client,
            config,
            write_priority=settings.write_priority,
            record=record,
        )
    for coordinator in site.devices.values():
        await coordinator.async_refresh()
    return site


async def async_release_bacnet_devices(site: BacnetSite) -> None:
    """Relinquish every held command, close each client, then give the network back."""
    for coordinator in site.devices.values():
        await coordinator.async_release()
    site.devices.clear()
    if site.network is not None:
        network, site.network = site.network, None
        await network.release()
