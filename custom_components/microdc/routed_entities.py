"""The entities of points a heat destination routes: the router's, not a stray click's.

A valve's valve or number entity, or a pump's switch, that existed before a destination routed
its point stays enabled in the entity registry, offering direct control next to the router.
When a destination starts routing a point, the integration disables its command entities once
(RegistryEntryDisabler.INTEGRATION) and marks them so in the registry's options: an engineer
who enables one again on purpose keeps it enabled (its writes still pass the safety layer).
When no destination routes the point any more, an entity the integration disabled is enabled
again, unless it is a spare that is disabled by default anyway (a valve's number: its valve
entity replaces it) and the router did not disable it itself.
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
COMMAND_PLATFORMS = frozenset({Platform.NUMBER, Platform.SWITCH, Platform.SELECT, Platform.VALVE})
ROUTED_OPTION = "routed_by_destination"  # in the entity registry's options under DOMAIN
# Also there when the router itself disabled an enabled entity: it is enabled again on release.
DISABLED_BY_ROUTER_OPTION = "disabled_by_router"


def _point_of(entry: er.RegistryEntry) -> PointRef | None:
    subentry_id = entry.config_subentry_id
    prefix = f"{subentry_id}_"
    if subentry_id is None or not entry.unique_id.startswith(prefix):
        return None
    return PointRef(subentry_id, entry.unique_id.removeprefix(prefix))


@callback
def async_hand_routed_entities_to_router(
    hass: HomeAssistant,
    entry: ConfigEntry,
    routed: Collection[PointRef],
    spares: Collection[tuple[str, PointRef]] = (),
) -> None:
    """Disable, once, the command entities of routed points; give back those no longer routed.

    spares: (domain, point) of the entities that are disabled by default whether routed or not.
    """
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        if entity.domain not in COMMAND_PLATFORMS or (point := _point_of(entity)) is None:
            continue
        options = dict(entity.options.get(DOMAIN, {}))
        marked = bool(options.get(ROUTED_OPTION))
        if point in routed and not marked:
            enabled = entity.disabled_by is None
            options[ROUTED_OPTION] = True
            if enabled:
                options[DISABLED_BY_ROUTER_OPTION] = True
            registry.async_update_entity_options(entity.entity_id, DOMAIN, options)
            if enabled:
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
            by_router = bool(options.pop(DISABLED_BY_ROUTER_OPTION, False))
            registry.async_update_entity_options(entity.entity_id, DOMAIN, options)
            if entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION and (
                by_router or (entity.domain, point) not in spares
            ):
                registry.async_update_entity(entity.entity_id, disabled_by=None)
