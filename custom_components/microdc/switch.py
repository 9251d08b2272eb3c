"""Switch entities: writable on/off points (pumps, enables) of every protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .command import MicrodcCommandEntity
from .coordinator import DeviceCoordinator
from .discovery import PointSchema, discover
from .entity import point_naming
from .lib.points import Point, ValueKind
from .models import MicrodcConfigEntry

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device


@dataclass(frozen=True, kw_only=True)
class MicrodcSwitchEntityDescription(SwitchEntityDescription):
    """A switch of one writable on/off point."""

    point: Point


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
    for subentry_id, coordinator, descriptions in discover(SCHEMAS, entry.runtime_data.devices):
        async_add_entities(
            [MicrodcSwitch(coordinator, d) for d in descriptions], config_subentry_id=subentry_id
        )


class MicrodcSwitch(MicrodcCommandEntity, SwitchEntity):
    """A writable on/off point: turning it on or off writes it."""

    entity_description: MicrodcSwitchEntityDescription

    def __init__(
        self, coordinator: DeviceCoordinator, description: MicrodcSwitchEntityDescription
    ) -> None:
        """Attach the switch to its device and point."""
        super().__init__(coordinator, description, description.point)

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
