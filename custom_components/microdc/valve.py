"""Valve entities: the valves a site commands to a position (0..100 %), of every protocol.

A valve point is its commanded position (role valve_position, writable): the entity shows the
position the device holds, i.e. whatever priority wins, and opening, closing or setting a
position writes it like its number entity does (command.py: the site's priority, monitor-only
and the safety layer). There is no stop: the point is a setpoint the actuator follows, not a
motor to halt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from homeassistant.components.valve.const import ValveDeviceClass, ValveEntityFeature
from homeassistant.components.valve.entity import ValveEntity, ValveEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command import MicrodcCommandEntity
from .discovery import PointSchema, add_point_entities, routed_points
from .entity import PointEntityDescription, point_naming
from .lib.points import POSITIONABLE_VALVE_ROLES, Point, ValueKind
from .models import MicrodcConfigEntry

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device

_FULLY_OPEN = 100


@dataclass(frozen=True, kw_only=True)
class MicrodcValveEntityDescription(ValveEntityDescription, PointEntityDescription):
    """A valve of one writable valve position point."""


def _describe(point: Point, points: Mapping[str, Point]) -> Iterable[MicrodcValveEntityDescription]:
    yield MicrodcValveEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=ValveDeviceClass.WATER,  # the loop's hot water
        reports_position=True,
    )


# What lib/points.is_positionable_valve says, as a schema.
SCHEMAS = (
    PointSchema(
        kinds=frozenset({ValueKind.NUMBER}),
        writable=True,
        roles=POSITIONABLE_VALVE_ROLES,
        describe=_describe,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's valves under its subentry."""
    add_point_entities(
        entry.runtime_data.devices,
        SCHEMAS,
        MicrodcValve,
        async_add_entities,
        routed=routed_points(entry.runtime_data),
    )


class MicrodcValve(MicrodcCommandEntity, ValveEntity):
    """A positionable valve: open, close and set position write its point."""

    entity_description: MicrodcValveEntityDescription
    _attr_supported_features = (
        ValveEntityFeature.OPEN | ValveEntityFeature.CLOSE | ValveEntityFeature.SET_POSITION
    )

    @property
    def current_valve_position(self) -> int | None:
        """The position the device holds, in whole percent (0: closed)."""
        held = self.held_number
        return None if held is None else round(min(max(held, 0.0), float(_FULLY_OPEN)))

    async def async_set_valve_position(self, position: int) -> None:
        """Write the position (open and close are 100 and 0, by Home Assistant's valve)."""
        await self.async_command(float(position))
