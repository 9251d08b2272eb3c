"""microdc's actions: ``microdc.relinquish`` gives a BACnet command back to the building."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.entity_component import DATA_INSTANCES
from homeassistant.helpers.service import async_extract_entity_ids

from .const import DOMAIN, SERVICE_RELINQUISH

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


def async_setup_services(hass: HomeAssistant) -> None:
    """Register microdc's actions (once, in async_setup)."""
    hass.services.async_register(
        DOMAIN, SERVICE_RELINQUISH, _async_relinquish, schema=RELINQUISH_SCHEMA
    )
