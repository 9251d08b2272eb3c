"""The site's heat routing entities: the "Heat destination" select, the "Heat routing" sensor
(the decision's reason) and the "Heat safety" binary sensor, on the site's device.

The select's options are stable keys: ``automatic`` (follow the requests), ``reject``, and each
heat destination's title slugified (routing.option_of). Choosing one places the request of the
source ``user`` (the highest rank); ``automatic`` releases it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity import EntityDescription

from .const import DOMAIN
from .entity import MicrodcSiteEntity
from .lib.routing import Reason, RequestError
from .routing import AUTOMATIC, USER_SOURCE, SiteRouting

HEAT_DESTINATION = "heat_destination"
HEAT_ROUTING = "heat_routing"
HEAT_SAFETY = "heat_safety"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def refuse_monitor_only(routing: SiteRouting) -> None:
    """A monitor-only site writes nothing: asking it to route is an error the user sees."""
    if routing.monitor_only:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="routing_monitor_only",
            translation_placeholders={"site": routing.entry.title},
        )


class RoutingEntity(MicrodcSiteEntity):
    """A site entity that follows the site's router."""

    def __init__(self, routing: SiteRouting, description: EntityDescription) -> None:
        """Attach the entity to the site's device."""
        super().__init__(routing.entry.entry_id, description)
        self.routing = routing

    async def async_added_to_hass(self) -> None:
        """Follow the router's decisions."""
        self.async_on_remove(self.routing.async_add_listener(self.async_write_ha_state))


class HeatDestinationSelect(RoutingEntity, SelectEntity):
    """Where a person wants the heat: automatic, reject or one destination."""

    def __init__(self, routing: SiteRouting) -> None:
        """Options: automatic, then reject and the destinations, in the site's order."""
        super().__init__(
            routing,
            SelectEntityDescription(key=HEAT_DESTINATION, translation_key=HEAT_DESTINATION),
        )
        self._attr_options = [AUTOMATIC, *routing.options]

    @property
    def current_option(self) -> str:
        """The person's request, or automatic."""
        return self.routing.user_choice()

    async def async_select_option(self, option: str) -> None:
        """Place (or, for automatic, release) the user's request."""
        routing = self.routing
        refuse_monitor_only(routing)
        if option == AUTOMATIC:
            routing.release(USER_SOURCE)
            return
        try:
            routing.divert(USER_SOURCE, {routing.options[option]: 1.0}, None)
        except (KeyError, RequestError) as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="routing_unknown_destination",
                translation_placeholders={"destination": option, "site": routing.entry.title},
            ) from err


class HeatRoutingSensor(RoutingEntity, SensorEntity):
    """Why the heat goes where it goes: the decision's reason."""

    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, routing: SiteRouting) -> None:
        """The reason, and what the decision is made of as attributes."""
        super().__init__(
            routing, SensorEntityDescription(key=HEAT_ROUTING, translation_key=HEAT_ROUTING)
        )
        self._attr_options = [reason.value for reason in Reason]

    @property
    def native_value(self) -> str | None:
        """The reason code."""
        decision = self.routing.decision
        return None if decision is None else decision.reason.value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Active destinations and shares, the source in charge, what is blocked, since when."""
        routing, decision = self.routing, self.routing.decision
        if decision is None:
            return {}
        request = decision.request
        return {
            "destinations": routing.shares_named(decision),
            "source": None if request is None else request.source.name,
            "source_kind": None if request is None else request.source.kind.value,
            "blocked": routing.blocked_named(decision),
            "since": _iso(decision.since),
            "overridden": {
                routing.point_name(ref): priority
                for ref, priority in sorted(routing.overridden.items())
            },
            "monitor_only": routing.monitor_only,
        }


class HeatSafetyBinarySensor(RoutingEntity, BinarySensorEntity):
    """On while the safety layer holds anything: which limit, which value, since when."""

    _attr_device_class = BinarySensorDeviceClass.PROBLEM

    def __init__(self, routing: SiteRouting) -> None:
        """The trips as attributes."""
        super().__init__(
            routing,
            BinarySensorEntityDescription(key=HEAT_SAFETY, translation_key=HEAT_SAFETY),
        )

    @property
    def is_on(self) -> bool | None:
        """Whether any safety trip is active."""
        decision = self.routing.decision
        return None if decision is None else bool(decision.trips)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Each trip: its reason, destination (none: the whole site), point, value and since."""
        routing, decision = self.routing, self.routing.decision
        if decision is None:
            return {"trips": []}
        readings = routing.readings()
        return {
            "trips": [
                {
                    "reason": trip.reason.value,
                    "destination": None
                    if trip.destination is None
                    else routing.name_of(trip.destination),
                    "point": None if trip.point is None else routing.point_name(trip.point),
                    "value": None if trip.point is None else readings.get(trip.point),
                    "since": _iso(trip.since),
                }
                for trip in decision.trips
            ]
        }
