"""The points of a site's devices, as the heat destination flow and heat accounting see them.

A point is named across the site by a PointRef (lib/points.py), stored as ``<device subentry
id>/<point key>``, which survives a device's reconfiguration. Modbus devices' points come from
their profiles, BACnet devices' from the objects chosen in their subentry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .const import CONF_PROFILE, SUBENTRY_BACNET_DEVICE, SUBENTRY_MODBUS_DEVICE
from .lib.devices.bacnet import object_point
from .lib.devices.bacnet_config import BacnetDeviceConfig
from .lib.points import METER_ROLES, Point, PointRef, Role
from .lib.profile import Profile
from .profile_store import async_load_profiles

# A percentage as profiles (Home Assistant's unit) and BACnet (its engineering units) name it.
_PERCENT_UNITS = frozenset({"%", "percent"})


@dataclass(frozen=True, slots=True)
class SitePoint:
    """One point of one device of the site."""

    device_id: str  # the device's subentry id
    device_title: str
    key: str
    role: Role | None
    unit: str | None

    @property
    def ref(self) -> str:
        """The site-wide reference to this point."""
        return str(PointRef(self.device_id, self.key))

    @property
    def label(self) -> str:
        """How the point is offered in a form."""
        return f"{self.device_title}: {self.key}"


def _site_point(device_id: str, title: str, point: Point) -> SitePoint:
    return SitePoint(device_id, title, point.key, point.role, point.unit)


def profile_points(device_id: str, title: str, profile: Profile) -> list[SitePoint]:
    """The points of a device read with a profile."""
    return [_site_point(device_id, title, point.as_point()) for point in profile.points.values()]


def bacnet_points(device_id: str, title: str, data: Mapping[str, Any]) -> list[SitePoint]:
    """The chosen objects of a BACnet device; a point's key is its object's (type_instance)."""
    return [
        _site_point(device_id, title, object_point(obj))
        for obj in BacnetDeviceConfig.from_data(data).objects
    ]


async def async_site_points(hass: HomeAssistant, entry: ConfigEntry[object]) -> list[SitePoint]:
    """Every point of every device of the site (devices whose profile is missing: none)."""
    profiles = (await async_load_profiles(hass)).profiles
    points: list[SitePoint] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_MODBUS_DEVICE:
            profile = profiles.get(str(subentry.data.get(CONF_PROFILE)))
            if profile is not None:
                points.extend(profile_points(subentry.subentry_id, subentry.title, profile))
        elif subentry.subentry_type == SUBENTRY_BACNET_DEVICE:
            points.extend(bacnet_points(subentry.subentry_id, subentry.title, subentry.data))
    return points


def valve_candidates(points: list[SitePoint]) -> list[SitePoint]:
    """Points that can say how far a heat destination's valve is open (0..100 %)."""
    return [
        p
        for p in points
        if p.role is Role.VALVE_POSITION or (p.role is None and p.unit in _PERCENT_UNITS)
    ]


def meter_devices(points: list[SitePoint]) -> dict[str, str]:
    """Devices that can measure a branch of the loop: subentry id -> title."""
    return {p.device_id: p.device_title for p in points if p.role in METER_ROLES}
