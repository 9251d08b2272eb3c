"""Select entities: commandable multi-state objects (modes) of BACnet devices."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import MicrodcConfigEntry
from .bacnet_entity import async_add_bacnet_entities

PARALLEL_UPDATES = 1  # one command at a time per platform: a controller is a small device


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each BACnet device's select entities under its subentry."""
    async_add_bacnet_entities(
        "select", entry.runtime_data.bacnet.devices.values(), async_add_entities
    )
