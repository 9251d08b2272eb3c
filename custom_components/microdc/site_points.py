"""The points of a site's devices, as the heat destination flow and heat accounting see them.

A point is named across the site by a PointRef (lib/points.py), stored as ``<device subentry
id>/<point key>``, which survives a device's reconfiguration. Modbus devices' points come from
their profiles, BACnet devices' from the objects chosen in their subentry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import re
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
_CELSIUS_UNITS = frozenset({"°C", "degrees-celsius"})
# No role says "this valve rejects heat" yet (valve_position serves every valve), so the reject
# path is told by its name: a point whose key, object name or description speaks of the dry
# cooler or of rejecting heat (the demo's VLV-DRY-COOLER, "Heat rejection valve to the dry
# cooler", dry_cooler_valve). reject always exists and is no destination's.
_REJECT_WORDS = re.compile(r"\b(dry ?cooler|reject(ion)?|heat rejection)\b")


@dataclass(frozen=True, slots=True)
class SitePoint:
    """One point of one device of the site."""

    device_id: str  # the device's subentry id
    device_title: str
    key: str
    role: Role | None
    unit: str | None
    name: str | None = None  # a BACnet object's name; profile points go by their key
    description: str | None = None

    @property
    def ref(self) -> str:
        """The site-wide reference to this point."""
        return str(PointRef(self.device_id, self.key))

    @property
    def label(self) -> str:
        """How the point is offered in a form."""
        return f"{self.device_title}: {self.name or self.key}"

    @property
    def is_reject_valve(self) -> bool:
        """Whether the point is the reject path's valve (the dry cooler), by its names."""
        text = " ".join(t for t in (self.key, self.name, self.description) if t)
        return _REJECT_WORDS.search(re.sub(r"[_-]+", " ", text.lower())) is not None


def _site_point(
    device_id: str, title: str, point: Point, description: str | None = None
) -> SitePoint:
    return SitePoint(device_id, title, point.key, point.role, point.unit, point.name, description)


def profile_points(device_id: str, title: str, profile: Profile) -> list[SitePoint]:
    """The points of a device read with a profile."""
    return [_site_point(device_id, title, point.as_point()) for point in profile.points.values()]


def bacnet_points(device_id: str, title: str, data: Mapping[str, Any]) -> list[SitePoint]:
    """The chosen objects of a BACnet device; a point's key is its object's (type_instance)."""
    return [
        _site_point(device_id, title, object_point(obj), obj.description)
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
    """Points that can say how far a heat destination's valve is open (0..100 %).

    Not the reject path's valve: the dry cooler is where heat goes when no destination takes it.
    """
    return [
        p
        for p in points
        if (p.role is Role.VALVE_POSITION or (p.role is None and p.unit in _PERCENT_UNITS))
        and not p.is_reject_valve
    ]


def space_candidates(points: list[SitePoint]) -> list[SitePoint]:
    """Points that can be a heat destination's space temperature (°C)."""
    return [
        p
        for p in points
        if p.role is Role.SPACE_TEMPERATURE or (p.role is None and p.unit in _CELSIUS_UNITS)
    ]


def feedback_candidates(points: list[SitePoint]) -> list[SitePoint]:
    """Points that can say where a valve really is (%): feedback, or any valve position.

    Not the reject path's: a point a destination names is no longer reject's, and the dry
    cooler's valve is where the router sends heat when nothing else may take it.
    """
    return [
        p
        for p in points
        if (
            p.role in (Role.VALVE_FEEDBACK, Role.VALVE_POSITION)
            or (p.role is None and p.unit in _PERCENT_UNITS)
        )
        and not p.is_reject_valve
    ]


def meter_devices(points: list[SitePoint]) -> dict[str, str]:
    """Devices that can measure heat (the loop or a branch of it): subentry id -> title."""
    return {p.device_id: p.device_title for p in points if p.role in METER_ROLES}


def branch_meter_choices(points: list[SitePoint], other_branches: set[str]) -> dict[str, str]:
    """Meter devices a destination may name as its branch meter: subentry id -> title.

    Not the loop's main meter, which heat accounting takes as the first meter device that is
    no other destination's branch meter.
    """
    meters = meter_devices(points)
    main = next((device_id for device_id in meters if device_id not in other_branches), None)
    return {device_id: title for device_id, title in meters.items() if device_id != main}
