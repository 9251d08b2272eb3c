"""Switch entities: writable on/off points (pumps, enables) of every protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command import MicrodcCommandEntity
from .discovery import PointSchema, add_point_entities, routed_points
from .entity import PointEntityDescription, point_naming
from .lib.points import Point, ValueKind
from .models import MicrodcConfigEntry

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device


@dataclass(frozen=True, kw_only=True)
class MicrodcSwitchEntityDescription(SwitchEntityDescription, PointEntityDescription):
    """A switch of one writable on/off point."""


def _describe(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcSwitchEntityDescription]:
    yield MicrodcSwitchEntityDescription(**point_naming(point, points), point=point)


SCHEMAS = (PointSchema(kinds=frozenset({ValueKind.BOOL}), writable=True, describe=_describe),)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's switches under its subentry."""
    add_point_entities(
        entry.runtime_data.devices,
        SCHEMAS,
        MicrodcSwitch,
        async_add_entities,
        routed=routed_points(entry.runtime_data),
    )


class MicrodcSwitch(MicrodcCommandEntity, SwitchEntity):
    """A writable on/off point: turning it on or off writes it."""

    entity_description: MicrodcSwitchEntityDescription

    @property
    def is_on(self) -> bool | None:
        """What the device holds."""
        value = self.coordinator.value(self.point.key)
        return value if isinstance(value, bool) else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write on."""
        await self.async_command(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write off."""
        await self.async_command(False)
