"""The base of every microdc device entity: device info, unique id, availability."""

from __future__ import annotations

from enum import StrEnum
import logging
from typing import Any

from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import ModbusDeviceCoordinator
from .profile import Point, Profile


def name_from_key(key: str) -> str:
    """A readable name for a point the profile gives no role (hence no translation)."""
    return key.replace("_", " ").capitalize()


_LOGGER = logging.getLogger(__name__)


def device_class_of[C: StrEnum](point: Point, classes: type[C]) -> C | None:
    """The point's device class among a platform's classes (None, logged, if it is not one)."""
    if point.device_class is None:
        return None
    try:
        return classes(point.device_class)
    except ValueError:
        _LOGGER.warning("%s: %s is not a %s", point.key, point.device_class, classes.__name__)
        return None


# Points of built-in profiles that have no role but a translation of their own (an enum's
# states need one): (profile id, point key) -> translation key in strings.json.
BUILTIN_POINT_TRANSLATIONS = {("demo_ups", "output_source"): "ups_output_source"}


def point_name(profile: Profile, point: Point) -> dict[str, Any]:
    """How an entity of a point is named: its role's translation, or its key.

    A role shared by several points of a profile (five valve positions) would give each the
    same name, so those are named from their keys, as points without a role are, unless a
    built-in profile's point has a translation of its own.
    """
    if point.role and sum(p.role == point.role for p in profile.points.values()) == 1:
        return {"translation_key": point.role}
    if translation_key := BUILTIN_POINT_TRANSLATIONS.get((profile.profile_id, point.key)):
        return {"translation_key": translation_key}
    return {"name": name_from_key(point.key)}


class MicrodcModbusEntity(CoordinatorEntity[ModbusDeviceCoordinator]):
    """An entity of one Modbus device, fed by the device's coordinator.

    The unique id is the subentry id plus the description's key, so a device moved to a new
    host, port or unit id (reconfigure) keeps its entities and their history.
    """

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: ModbusDeviceCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to its device."""
        super().__init__(coordinator)
        self.entity_description = description
        self._attr_unique_id = f"{coordinator.subentry.subentry_id}_{description.key}"
        self._attr_device_info = coordinator.device_info
