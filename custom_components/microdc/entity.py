"""Entity bases: an entity of one device's point, and an entity of the site itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
import logging
from typing import Any

from homeassistant.const import EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import DeviceCoordinator
from .lib.points import Point, Reading

_LOGGER = logging.getLogger(__name__)
_NOT_WRITTEN = object()  # no state written from the coordinator yet


def name_from_key(key: str) -> str:
    """A readable name for a point with no name, role or translation of its own."""
    return key.replace("_", " ").capitalize()


def device_class_of[C: StrEnum](point: Point, classes: type[C]) -> C | None:
    """The point's device class among a platform's classes (None, logged, if it is not one)."""
    if point.device_class is None:
        return None
    try:
        return classes(point.device_class)
    except ValueError:
        _LOGGER.warning("%s: %s is not a %s", point.key, point.device_class, classes.__name__)
        return None


def point_naming(point: Point, points: Mapping[str, Point]) -> dict[str, Any]:
    """How an entity of a point is named, and the description fields every platform shares.

    In order: the name the device or the engineer gave (a BACnet object's), the point's own
    translation, its role's translation (unless several points of the device share the role:
    five valve positions would get one name), or a name made from its key.
    """
    if point.name is not None:
        named: dict[str, Any] = {"name": point.name}
    elif point.translation_key is not None:
        named = {"translation_key": point.translation_key}
    elif point.role and sum(p.role == point.role for p in points.values()) == 1:
        named = {"translation_key": point.role.value}
    else:
        named = {"name": name_from_key(point.key)}
    return {
        "key": point.key,
        "entity_category": EntityCategory(point.entity_category) if point.entity_category else None,
        "entity_registry_enabled_default": point.enabled_by_default,
        **named,
    }


@dataclass(frozen=True, kw_only=True)
class PointEntityDescription(EntityDescription):
    """What every platform's description of a point's entity carries: the point.

    ``also_reads``: the keys of other points of the device that its state is made of too.
    """

    point: Point
    also_reads: frozenset[str] = frozenset()


class MicrodcPointEntity(CoordinatorEntity[DeviceCoordinator]):
    """An entity of one device, fed by the device's coordinator.

    The unique id is the device's subentry id plus the description's key (the point key, or
    the point key and a flag), so a device moved to a new address (reconfigure) keeps its
    entities and their history.
    """

    _attr_has_entity_name = True

    def __init__(self, coordinator: DeviceCoordinator, description: PointEntityDescription) -> None:
        """Attach the entity to its device and point."""
        # The points it reads are its coordinator context: a pushed change (COV, a write)
        # updates only the entities of the points that changed; a poll updates all.
        reads = frozenset({description.point.key}) | description.also_reads
        super().__init__(coordinator, reads)
        self.entity_description = description
        self.point = description.point
        self._attr_unique_id = f"{coordinator.subentry.subentry_id}_{description.key}"
        self._attr_device_info = coordinator.device_info
        self._reads = tuple(sorted(reads))
        self._written_inputs: object = _NOT_WRITTEN

    def state_inputs(self) -> object | None:
        """What the state is made of: whether the device answers, and the readings it shows
        (compared by value). None: every update writes the state.

        A plant room polls thousands of points of which few change between polls; writing an
        unchanged state costs Home Assistant's event loop as much as writing a new one.
        """
        reading = self.coordinator.reading
        return (self.coordinator.last_update_success, tuple(reading(k) for k in self._reads))

    async def async_added_to_hass(self) -> None:
        """Home Assistant writes the first state right after this, from today's readings."""
        await super().async_added_to_hass()
        inputs = self.state_inputs()
        self._written_inputs = _NOT_WRITTEN if inputs is None else inputs

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write the state only when what it is made of changed since the last write."""
        inputs = self.state_inputs()
        if inputs is not None and inputs == self._written_inputs:
            return
        self._written_inputs = _NOT_WRITTEN if inputs is None else inputs
        super()._handle_coordinator_update()

    @property
    def reading(self) -> Reading | None:
        """The point's latest reading."""
        return self.coordinator.reading(self.point.key)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The point's role, and the status flags other than fault where the device gives them.

        An engineer who puts an input out of service to test a sequence wants to see the
        value the controller is acting on, and that it is out of service.
        """
        attributes: dict[str, Any] = {}
        if self.point.role is not None:
            attributes["role"] = self.point.role.value
        reading = self.reading
        flags = None if reading is None else reading.flags
        if flags is not None:
            attributes["out_of_service"] = flags.out_of_service
            attributes["overridden"] = flags.overridden
            attributes["in_alarm"] = flags.in_alarm
        return attributes or None


class MicrodcSiteEntity(Entity):
    """An entity of the site itself (heat figures, later routing), on the site's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry_id: str, description: EntityDescription) -> None:
        """Attach the entity to the site's device; unique by the site's entry and the key."""
        self.entity_description = description
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, entry_id)})
