"""Number entities: writable numeric points (setpoints, valves) of every protocol.

A valve point (its commanded position) is the valve platform's: its number is still made, so
that a site that has one keeps it as it is (same entity id, enabled), but a new one is disabled
by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command import MicrodcCommandEntity
from .discovery import PointSchema, add_point_entities, routed_points
from .entity import PointEntityDescription, device_class_of, point_naming
from .lib.points import Point, ValueKind, is_positionable_valve
from .models import MicrodcConfigEntry

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device

# Without limits from the device or its profile: a range that stops no real setpoint.
_UNBOUNDED = 1e6


@dataclass(frozen=True, kw_only=True)
class MicrodcNumberEntityDescription(NumberEntityDescription, PointEntityDescription):
    """A number of one writable point."""


def _describe(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcNumberEntityDescription]:
    naming = point_naming(point, points)
    if is_positionable_valve(point):
        naming["entity_registry_enabled_default"] = False
    yield MicrodcNumberEntityDescription(
        **naming,
        point=point,
        device_class=device_class_of(point, NumberDeviceClass),
        native_unit_of_measurement=point.unit,
        native_min_value=point.minimum if point.minimum is not None else -_UNBOUNDED,
        native_max_value=point.maximum if point.maximum is not None else _UNBOUNDED,
        native_step=10.0**-point.precision if point.precision is not None else 0.1,
        mode=NumberMode.BOX,
    )


SCHEMAS = (PointSchema(kinds=frozenset({ValueKind.NUMBER}), writable=True, describe=_describe),)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's numbers under its subentry."""
    add_point_entities(
        entry.runtime_data.devices,
        SCHEMAS,
        MicrodcNumber,
        async_add_entities,
        routed=routed_points(entry.runtime_data),
    )


class MicrodcNumber(MicrodcCommandEntity, NumberEntity):
    """A writable number: setting it writes the point."""

    entity_description: MicrodcNumberEntityDescription

    @property
    def native_value(self) -> float | None:
        """What the device holds."""
        return self.held_number

    async def async_set_native_value(self, value: float) -> None:
        """Write the value."""
        await self.async_command(value)
