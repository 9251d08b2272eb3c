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


def point_name(profile: Profile, point: Point) -> dict[str, Any]:
    """How an entity of a point is named: its own translation, its role's, or its key.

    A point's translation_key (profile field) wins: it names the point and its enum states. A
    role shared by several points of a profile (five valve positions) would give each the
    same name, so those are named from their keys, as points without a role are.
    """
    if point.translation_key:
        return {"translation_key": point.translation_key}
    if point.role and sum(p.role == point.role for p in profile.points.values()) == 1:
        return {"translation_key": point.role}
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
