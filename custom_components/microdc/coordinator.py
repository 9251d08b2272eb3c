"""One DataUpdateCoordinator per Modbus device, and the site's set of them."""

from __future__ import annotations

import asyncio
from datetime import timedelta
import functools
import logging
import math
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, SUBENTRY_MODBUS_DEVICE, SUSPECT_REPROBE_S
from .decode import PointValue
from .device_config import ModbusDeviceConfig
from .profile import Profile
from .profile_store import async_load_profiles
from .protocols.modbus import (
    ModbusConnectError,
    ModbusConnectionPool,
    ModbusDevice,
    ModbusError,
    ModbusExceptionCodeError,
    ModbusTimeoutError,
    ModbusUnitNotAnsweringError,
    PollResult,
)

if TYPE_CHECKING:
    from . import MicrodcConfigEntry

_LOGGER = logging.getLogger(__name__)

# One pool for every site: two sites reading through one gateway still share its socket.
MODBUS_POOL: HassKey[ModbusConnectionPool] = HassKey(f"{DOMAIN}_modbus_pool")


_PROFILE_MISSING = "profile_missing_"  # + subentry id: a device whose profile is gone


def _error_key(err: ModbusError) -> str:
    if isinstance(err, ModbusConnectError):
        return "cannot_connect"
    if isinstance(err, ModbusTimeoutError):
        return "timeout"
    if isinstance(err, ModbusUnitNotAnsweringError):
        return "unit_not_answering"
    if isinstance(err, ModbusExceptionCodeError):
        return "exception_code"
    return "communication_error"


class ModbusDeviceCoordinator(DataUpdateCoordinator[PollResult]):
    """Polls one Modbus device; entities read its last PollResult."""

    config_entry: MicrodcConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: MicrodcConfigEntry,
        subentry: ConfigSubentry,
        device: ModbusDevice,
        config: ModbusDeviceConfig,
    ) -> None:
        """Poll at the device's own scan interval."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=subentry.title,
            update_interval=timedelta(seconds=config.scan_interval_s),
        )
        self.subentry = subentry
        self.device = device
        self.config = config
        self._firmware: str | None = None

    @property
    def profile(self) -> Profile:
        """The device's profile."""
        return self.device.profile

    @property
    def device_info(self) -> DeviceInfo:
        """The Home Assistant device of this microdc device, under the site."""
        info = DeviceInfo(
            identifiers={(DOMAIN, self.subentry.subentry_id)},
            name=self.subentry.title,
            manufacturer=self.profile.manufacturer,
            model=self.profile.model,
            model_id=self.profile.profile_id,
            sw_version=self._firmware,
        )
        # The site's own device is registered before any device of the site is set up.
        entry_id = self.config_entry.entry_id
        site = dr.async_get(self.hass).async_get_device_by_identifier((DOMAIN, entry_id), entry_id)
        if site is not None:
            info["via_device_id"] = site.id
        return info

    def value(self, key: str) -> PointValue | None:
        """The last reading of a point (None: no reading)."""
        data: PollResult | None = self.data  # None until the first good poll
        return None if data is None else data.values.get(key)

    async def _async_update_data(self) -> PollResult:
        try:
            result = await self.device.poll()
        except ModbusError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=_error_key(err),
                translation_placeholders={"device": self.subentry.title, "error": str(err)},
            ) from err
        self._note_firmware(result)
        return result

    def _note_firmware(self, result: PollResult) -> None:
        """Keep the device registry's firmware version in step with the firmware point."""
        point = self.profile.firmware_point
        if point is None or (value := result.values.get(point)) is None:
            return
        firmware = str(value)
        if firmware == self._firmware:
            return
        self._firmware = firmware
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier(
            (DOMAIN, self.subentry.subentry_id), self.config_entry.entry_id
        )
        if device is not None:
            registry.async_update_device(device.id, sw_version=firmware)


async def async_setup_modbus_devices(
    hass: HomeAssistant, entry: MicrodcConfigEntry
) -> dict[str, ModbusDeviceCoordinator]:
    """Build a coordinator per Modbus device subentry and read each once.

    Each coordinator stops, and each connection reference is released, through the entry's
    on-unload callbacks (a coordinator registers its own shutdown).

    A device that cannot be read now starts unavailable and keeps being polled: one dead UPS
    card must not keep the rest of the site from loading.
    """
    subentries = [
        subentry
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_MODBUS_DEVICE
    ]
    async_delete_stale_profile_issues(hass)
    if not subentries:
        return {}
    profiles = (await async_load_profiles(hass)).profiles
    pool = hass.data.setdefault(MODBUS_POOL, ModbusConnectionPool())
    coordinators: dict[str, ModbusDeviceCoordinator] = {}
    for subentry in subentries:
        config = ModbusDeviceConfig.from_data(subentry.data)
        profile = profiles.get(config.profile_id)
        issue_id = f"{_PROFILE_MISSING}{subentry.subentry_id}"
        if profile is None:
            _LOGGER.error(
                "%s: profile %s is missing or invalid; the device is not set up",
                subentry.title,
                config.profile_id,
            )
            ir.async_create_issue(
                hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key="profile_missing",
                translation_placeholders={
                    "device": subentry.title,
                    "profile": config.profile_id,
                },
            )
            continue
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        connection = pool.acquire(config.endpoint, timeout=config.timeout_s)
        # Given back when the site unloads, and also when its setup fails after this point
        # (Home Assistant runs on-unload callbacks then too, but not async_unload_entry).
        entry.async_on_unload(functools.partial(pool.release, connection))
        device = ModbusDevice(
            connection,
            config.unit_id,
            profile,
            max_gap=config.max_gap,
            name=subentry.title,
            timeout=config.timeout_s,
            reprobe_polls=max(1, math.ceil(SUSPECT_REPROBE_S / config.scan_interval_s)),
        )
        coordinators[subentry.subentry_id] = ModbusDeviceCoordinator(
            hass, entry, subentry, device, config
        )
    await asyncio.gather(*(c.async_refresh() for c in coordinators.values()))
    return coordinators


@callback
def async_delete_stale_profile_issues(hass: HomeAssistant) -> None:
    """Delete the missing-profile issues of devices that no longer exist in any site."""
    devices = {
        subentry_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        for subentry_id in entry.subentries
    }
    for domain, issue_id in list(ir.async_get(hass).issues):
        if (
            domain == DOMAIN
            and issue_id.startswith(_PROFILE_MISSING)
            and issue_id.removeprefix(_PROFILE_MISSING) not in devices
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_delete_profile_issues(hass: HomeAssistant, entry: MicrodcConfigEntry) -> None:
    """Delete the missing-profile issues of a site's devices (the site is being removed)."""
    for subentry_id in entry.subentries:
        ir.async_delete_issue(hass, DOMAIN, f"{_PROFILE_MISSING}{subentry_id}")
