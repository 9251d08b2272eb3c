"""Select entities: writable multi-state points (modes) of every protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command import MicrodcCommandEntity
from .discovery import PointSchema, add_point_entities, routed_points
from .entity import PointEntityDescription, point_naming
from .lib.points import Point, ValueKind
from .models import MicrodcConfigEntry
from .routing_entity import HeatDestinationSelect

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device


@dataclass(frozen=True, kw_only=True)
class MicrodcSelectEntityDescription(SelectEntityDescription, PointEntityDescription):
    """A select of one writable multi-state point."""


def _describe(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcSelectEntityDescription]:
    yield MicrodcSelectEntityDescription(
        **point_naming(point, points), point=point, options=list(point.options)
    )


SCHEMAS = (PointSchema(kinds=frozenset({ValueKind.STATE}), writable=True, describe=_describe),)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's selects under its subentry, and the site's heat destination select."""
    site = entry.runtime_data
    add_point_entities(
        site.devices, SCHEMAS, MicrodcSelect, async_add_entities, routed=routed_points(site)
    )
    if site.routing is not None:
        async_add_entities([HeatDestinationSelect(site.routing)])


class MicrodcSelect(MicrodcCommandEntity, SelectEntity):
    """A writable multi-state point: choosing a state writes it."""

    entity_description: MicrodcSelectEntityDescription

    @property
    def current_option(self) -> str | None:
        """What the device holds."""
        value = self.coordinator.value(self.point.key)
        return value if isinstance(value, str) else None

    async def async_select_option(self, option: str) -> None:
        """Write the state."""
        await self.async_command(option)
