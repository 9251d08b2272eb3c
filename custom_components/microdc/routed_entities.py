"""The entities of points a heat destination routes: the router's, not a stray click's.

A valve's number entity, or a pump's switch, that existed before a destination routed its
point stays enabled in the entity registry, offering direct control next to the router. When a
destination starts routing a point, the integration disables its command entities once
(RegistryEntryDisabler.INTEGRATION) and marks them so in the registry's options: an engineer
who enables one again on purpose keeps it enabled (its writes still pass the safety layer).
When no destination routes the point any more, an entity the integration disabled is enabled
again.
"""

from __future__ import annotations

from collections.abc import Collection
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .lib.points import PointRef

_LOGGER = logging.getLogger(__name__)
COMMAND_PLATFORMS = frozenset({Platform.NUMBER, Platform.SWITCH, Platform.SELECT})
ROUTED_OPTION = "routed_by_destination"  # in the entity registry's options under DOMAIN


def _point_of(entry: er.RegistryEntry) -> PointRef | None:
    subentry_id = entry.config_subentry_id
    prefix = f"{subentry_id}_"
    if subentry_id is None or not entry.unique_id.startswith(prefix):
        return None
    return PointRef(subentry_id, entry.unique_id.removeprefix(prefix))


@callback
def async_hand_routed_entities_to_router(
    hass: HomeAssistant, entry: ConfigEntry, routed: Collection[PointRef]
) -> None:
    """Disable, once, the command entities of routed points; give back those no longer routed."""
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.domain not in COMMAND_PLATFORMS or (point := _point_of(entity)) is None:
            continue
        options = dict(entity.options.get(DOMAIN, {}))
        marked = bool(options.get(ROUTED_OPTION))
        if point in routed and not marked:
            registry.async_update_entity_options(
                entity.entity_id, DOMAIN, {**options, ROUTED_OPTION: True}
            )
            if entity.disabled_by is None:
                _LOGGER.info(
                    "%s: %s is routed by a heat destination; its entity is disabled "
                    "(enable it to write to the point directly)",
                    entry.title,
                    entity.entity_id,
                )
                registry.async_update_entity(
                    entity.entity_id, disabled_by=er.RegistryEntryDisabler.INTEGRATION
                )
        elif point not in routed and marked:
            options.pop(ROUTED_OPTION)
            registry.async_update_entity_options(entity.entity_id, DOMAIN, options)
            if entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION:
                registry.async_update_entity(entity.entity_id, disabled_by=None)
