"""DeviceCoordinator: one DataUpdateCoordinator class for every Device, whatever its protocol.

It polls the device at the subentry's scan interval and, for devices that push (BACnet COV),
takes their changes between polls. Entities read a point's latest Reading from it; commands go
through it to the device, and a refusal becomes a translated error for the person or automation
that asked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
import logging
import re
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HassJob, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN
from .lib.devices.base import Device, DeviceError, PollReport
from .lib.points import Point, Reading, Value

_LOGGER = logging.getLogger(__name__)
# Fewer devices than this on one scan interval are polled as Home Assistant schedules them.
SPREAD_FROM_DEVICES = 8
# host:port (and Modbus's " (tcp)" framing) in a transport's message: Home Assistant logs the
# coordinator's error at error level, where no network location may appear.
_ENDPOINT = re.compile(r"[\w.\-\[\]]+:\d+(?: \([\w_]+\))?")


def without_endpoints(text: str) -> str:
    """A transport's message with its host:port left out (the debug log keeps it)."""
    return _ENDPOINT.sub("the device", text)


def translated_error(err: DeviceError, device: str, point: str) -> HomeAssistantError:
    """A device's refusal as the translated error an action or a click shows."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=err.reason,
        translation_placeholders={"device": device, "object": point, "error": str(err)},
    )


class DeviceCoordinator(DataUpdateCoordinator[PollReport]):
    """Reads one device; entities read its latest Reading per point."""

    config_entry: ConfigEntry[Any]

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        subentry: ConfigSubentry,
        device: Device,
        *,
        scan_interval_s: float,
    ) -> None:
        """Poll at the device's own scan interval; pushed changes arrive in between."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=subentry.title,
            update_interval=timedelta(seconds=scan_interval_s),
        )
        self.subentry = subentry
        self.device = device
        self.scan_interval_s = scan_interval_s
        self._firmware: str | None = None
        # The readings the listeners were last told of, and whether the device answered then.
        self._told: tuple[bool, Mapping[str, Reading]] | None = None
        device.set_push_handler(self._on_push)

    @property
    def points(self) -> dict[str, Point]:
        """The device's points by key."""
        return dict(self.device.points)

    @property
    def device_info(self) -> DeviceInfo:
        """The Home Assistant device of this microdc device, under the site's device."""
        identity = self.device.identity
        info = DeviceInfo(
            identifiers={(DOMAIN, self.subentry.subentry_id)},
            name=self.subentry.title,
            manufacturer=identity.manufacturer,
            model=identity.model,
            # Always given: a missing key keeps what the registry has (0.1.0 set the profile id).
            model_id=identity.model_id,
        )
        if (software := self._firmware or identity.sw_version) is not None:
            info["sw_version"] = software
        entry_id = self.config_entry.entry_id
        site = dr.async_get(self.hass).async_get_device_by_identifier((DOMAIN, entry_id), entry_id)
        if site is not None:
            info["via_device_id"] = site.id
        return info

    def reading(self, key: str) -> Reading | None:
        """A point's latest reading (None: none yet)."""
        data: PollReport | None = self.data  # None until the first good poll
        return None if data is None else data.readings.get(key)

    def value(self, key: str) -> Value | None:
        """A point's latest value (None: no trustworthy one)."""
        reading = self.reading(key)
        return None if reading is None else reading.value

    async def _async_update_data(self) -> PollReport:
        try:
            report = await self.device.poll()
        except DeviceError as err:
            _LOGGER.debug("%s: poll failed: %s", self.subentry.title, err)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.reason,
                translation_placeholders={
                    "device": self.subentry.title,
                    "error": without_endpoints(str(err)),
                },
            ) from err
        self._note_firmware(report)
        return report

    @callback
    def _on_push(self, readings: Mapping[str, Reading]) -> None:
        """A change between polls: the entities show it now, the poll schedule stays."""
        if self.data is None or not self.last_update_success:
            # The device is talking again: let a poll confirm it (and log the recovery).
            self.hass.async_create_task(self.async_request_refresh())
            return
        self._merge(readings)

    def _merge(self, readings: Mapping[str, Reading]) -> None:
        data: PollReport | None = self.data
        merged = {**(data.readings if data is not None else {}), **readings}
        self.data = PollReport(merged) if data is None else replace(data, readings=merged)
        if self._told is not None:
            self._told = (self._told[0], merged)
        self._update_listeners_of(readings.keys())

    @callback
    def async_update_listeners(self) -> None:
        """After a poll: the listeners of the points whose Reading changed, and the device's.

        A device hands an unchanged point the same Reading again, so a plant room's poll,
        where most values hold still, calls a fifth of its entities instead of all; when the
        device stops or starts answering, everything is told.
        """
        data: PollReport | None = self.data
        told, self._told = (
            self._told,
            (
                self.last_update_success,
                {} if data is None else data.readings,
            ),
        )
        if data is None or told is None or told[0] != self.last_update_success:
            super().async_update_listeners()
            return
        before = told[1]
        changed = [key for key, reading in data.readings.items() if before.get(key) is not reading]
        changed.extend(key for key in before if key not in data.readings)
        self._update_listeners_of(changed)

    @callback
    def _update_listeners_of(self, keys: Iterable[str]) -> None:
        """Some points changed: update the listeners of the whole device and of those points.

        A point entity's context is the set of point keys it reads (MicrodcPointEntity); one
        COV notification so rewrites one entity's state, not the device's hundreds.
        """
        changed = frozenset(keys)
        # Home Assistant's own async_contexts() reads the listeners the same way.
        for update_callback, context in list(self._listeners.values()):
            if isinstance(context, frozenset) and changed.isdisjoint(context):
                continue
            try:
                update_callback()
            except Exception:
                _LOGGER.exception("Updating a listener of %s failed", self.name)

    @callback
    def poll_now_in_background(self, _now: datetime | None = None) -> None:
        """Poll now; the schedule runs on from this poll (the site cancels the timer first
        when it stops)."""
        self.config_entry.async_create_background_task(
            self.hass, self.async_refresh(), f"{self.name} poll", eager_start=True
        )

    async def async_write(self, key: str, value: Value, *, priority: int) -> None:
        """Command a point; the entities show what the device holds afterwards."""
        try:
            reading = await self.device.write(key, value, priority=priority)
        except DeviceError as err:
            raise translated_error(err, self.subentry.title, self._point_name(key)) from err
        if self.data is not None:
            self._merge({key: reading})

    async def async_release(self, key: str, *, priority: int) -> None:
        """Give a command back to the building (a no-op where the protocol has none)."""
        try:
            reading = await self.device.release(key, priority=priority)
        except DeviceError as err:
            raise translated_error(err, self.subentry.title, self._point_name(key)) from err
        if reading is not None and self.data is not None:
            self._merge({key: reading})

    def _point_name(self, key: str) -> str:
        point = self.device.points.get(key)
        return key if point is None or point.name is None else point.name

    async def async_stop(self) -> None:
        """Stop polling, give every command back, then close the device."""
        await self.async_shutdown()
        self.device.set_push_handler(None)
        await self.device.release_all()
        await self.device.close()

    def _note_firmware(self, report: PollReport) -> None:
        """Keep the device registry's firmware version in step with the firmware point."""
        firmware = self.device.firmware(report)
        if firmware is None or firmware == self._firmware:
            return
        self._firmware = firmware
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            (DOMAIN, self.subentry.subentry_id), self.config_entry.entry_id
        )
        if device is not None:
            registry.async_update_device(device.id, sw_version=firmware)

    def diagnostics(self) -> dict[str, Any]:
        """The device's own diagnostics with the coordinator's state and the last values."""
        data: PollReport | None = self.data
        return {
            "title": self.subentry.title,
            **self.device.diagnostics(),
            "held_commands_keys": sorted(self.device.held),
            "last_update_success": self.last_update_success,
            "last_exception": repr(self.last_exception) if self.last_exception else None,
            "values": None
            if data is None
            else {
                key: sorted(value) if isinstance(value, frozenset) else value
                for key, value in sorted(data.values.items())
            },
        }


@callback
def async_spread_polls(
    hass: HomeAssistant, coordinators: Iterable[DeviceCoordinator]
) -> list[Callable[[], None]]:
    """Spread the polls of many devices over their scan interval; returns the timers' cancels.

    Home Assistant starts every coordinator's schedule from the whole second it was set up in
    (each at a random fraction of that second), so a plant room's sixty devices would all be
    read, decoded and written in one burst per interval, and a COV notification arriving then
    waits behind the burst. Each device of a group polls once at its own offset instead; its
    schedule then runs on from that poll.
    """
    groups: defaultdict[float, list[DeviceCoordinator]] = defaultdict(list)
    for coordinator in coordinators:
        groups[coordinator.scan_interval_s].append(coordinator)
    cancels: list[Callable[[], None]] = []
    for interval_s, group in groups.items():
        if len(group) < SPREAD_FROM_DEVICES:
            continue
        for index, coordinator in enumerate(group[1:], start=1):
            job = HassJob(coordinator.poll_now_in_background, cancel_on_shutdown=True)
            cancels.append(async_call_later(hass, index * interval_s / len(group), job))
    return cancels
