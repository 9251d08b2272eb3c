"""microdc's actions: ``microdc.relinquish`` gives a BACnet command back to the building;
``microdc.divert_heat`` and ``microdc.release_heat`` ask a site's heat router (docs/routing.md).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.entity_component import DATA_INSTANCES
from homeassistant.helpers.service import async_extract_entity_ids
import probatio

from .const import DOMAIN, SERVICE_RELINQUISH
from .lib.routing import REJECT, RequestError, Source, SourceKind
from .routing import SiteRouting, utc_now
from .routing_entity import refuse_monitor_only

SERVICE_DIVERT_HEAT = "divert_heat"
SERVICE_RELEASE_HEAT = "release_heat"
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_DESTINATION = "destination"
ATTR_SHARES = "shares"
ATTR_DURATION = "duration"
ATTR_SOURCE = "source"
DEFAULT_SOURCE = "action"

DIVERT_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Exclusive(ATTR_DESTINATION, "where"): cv.string,
        probatio.Exclusive(ATTR_SHARES, "where"): {cv.string: probatio.Coerce(float)},
        probatio.Optional(ATTR_DURATION): cv.positive_time_period,
        probatio.Optional(ATTR_SOURCE): cv.string,
    }
)
RELEASE_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Optional(ATTR_SOURCE): cv.string,
    }
)

if TYPE_CHECKING:
    from homeassistant.helpers.entity import Entity

RELINQUISH_SCHEMA = cv.make_entity_service_schema({})


class _Relinquishable(Protocol):
    async def async_relinquish(self) -> None: ...


def _entity(hass: HomeAssistant, entity_id: str) -> Entity | None:
    component = hass.data.get(DATA_INSTANCES, {}).get(entity_id.partition(".")[0])
    return None if component is None else component.get_entity(entity_id)


async def _async_relinquish(call: ServiceCall) -> None:
    """Write null at microdc's priority to each entity's object."""
    targets: list[_Relinquishable] = []
    for entity_id in sorted(await async_extract_entity_ids(call)):
        entity = _entity(call.hass, entity_id)
        if (
            entity is None
            or entity.platform.platform_name != DOMAIN
            or not hasattr(entity, "async_relinquish")
        ):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_a_bacnet_command",
                translation_placeholders={"entity_id": entity_id},
            )
        targets.append(entity)
    for target in targets:
        await target.async_relinquish()


def _refused(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _routing(hass: HomeAssistant, entry_id: str) -> SiteRouting:
    """The site's router; refused if the entry is no loaded microdc site that routes heat."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or not hasattr(entry, "runtime_data"):
        raise _refused("routing_not_a_site", entry_id=entry_id)
    routing: SiteRouting | None = getattr(entry.runtime_data, "routing", None)
    if routing is None:
        raise _refused("routing_no_destinations", site=entry.title)
    return routing


def _source(call: ServiceCall) -> Source:
    """An action call's source: a blueprint names itself and ranks as an automation."""
    name = str(call.data.get(ATTR_SOURCE) or "").strip()
    if not name or name == DEFAULT_SOURCE:
        return Source(SourceKind.ACTION, DEFAULT_SOURCE)
    return Source(SourceKind.AUTOMATION, name)


async def _async_divert_heat(call: ServiceCall) -> None:
    """Ask for the heat to go to one destination, or shares between several."""
    routing = _routing(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    refuse_monitor_only(routing)
    site = routing.entry.title
    wanted: dict[str, Any]
    if ATTR_SHARES in call.data:
        wanted = dict(call.data[ATTR_SHARES])
    elif ATTR_DESTINATION in call.data:
        wanted = {call.data[ATTR_DESTINATION]: 1.0}
    else:
        raise _refused("routing_no_destination", site=site)
    weights: dict[str, float] = {}
    for name, weight in wanted.items():
        destination = REJECT if name.strip().casefold() == REJECT else routing.destination_id(name)
        if destination is None:
            raise _refused("routing_unknown_destination", destination=name, site=site)
        weights[destination] = weights.get(destination, 0.0) + weight
    duration: timedelta | None = call.data.get(ATTR_DURATION)
    ends = None if duration is None else utc_now() + duration.total_seconds()
    try:
        routing.divert(_source(call), weights, ends)
    except RequestError as err:
        raise _refused(f"routing_{err.code}", site=site, error=str(err)) from err


async def _async_release_heat(call: ServiceCall) -> None:
    """Drop one source's request, or every request of the site."""
    routing = _routing(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    refuse_monitor_only(routing)
    name = call.data.get(ATTR_SOURCE)
    if name is None:
        routing.release(None)
    else:
        routing.release_named(str(name).strip())


def async_setup_services(hass: HomeAssistant) -> None:
    """Register microdc's actions (once, in async_setup)."""
    hass.services.async_register(
        DOMAIN, SERVICE_RELINQUISH, _async_relinquish, schema=RELINQUISH_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DIVERT_HEAT, _async_divert_heat, schema=DIVERT_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_RELEASE_HEAT, _async_release_heat, schema=RELEASE_SCHEMA
    )
