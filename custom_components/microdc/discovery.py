"""Which entities a device's points make: platforms declare schemas, one pass joins them.

Each platform declares what a point must be to make one of its entities (its kind, whether it is
writable, its role) and how to describe it; ``discover`` walks every device of a site once per
platform and hands each point to the first of that platform's schemas that fits. A role makes
the same entity whatever the protocol, because the schemas only see lib/points' Point.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from homeassistant.const import Platform
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DeviceCoordinator
from .lib.points import Point, PointRef, Role, ValueKind, is_positionable_valve

if TYPE_CHECKING:
    from .site import Site


@dataclass(frozen=True, kw_only=True)
class PointSchema[D: EntityDescription]:
    """What a point must be to make this platform's entities, and how they are described.

    roles: only points with one of these roles (None: any role, or none); exclude_roles: never
    points with one of these. describe gets the device's points too, because a UPS's low-battery
    sensor also reads its runtime and charge.
    """

    kinds: frozenset[ValueKind]
    writable: bool = False
    roles: frozenset[Role] | None = None
    exclude_roles: frozenset[Role] = frozenset()
    describe: Callable[[Point, Mapping[str, Point]], Iterable[D]]

    def matches(self, point: Point) -> bool:
        """Whether the point is one this schema describes."""
        if point.kind not in self.kinds or point.writable != self.writable:
            return False
        if point.role in self.exclude_roles:
            return False
        return self.roles is None or point.role in self.roles


def discover[D: EntityDescription](
    schemas: Iterable[PointSchema[D]], coordinators: Mapping[str, DeviceCoordinator]
) -> Iterator[tuple[str, DeviceCoordinator, list[D]]]:
    """(subentry id, coordinator, descriptions) of every device, for one platform."""
    ordered = tuple(schemas)
    for subentry_id, coordinator in coordinators.items():
        points = coordinator.device.points
        descriptions: list[D] = []
        for point in points.values():
            schema = next((s for s in ordered if s.matches(point)), None)
            if schema is not None:
                descriptions.extend(schema.describe(point, points))
        if descriptions:
            yield subentry_id, coordinator, descriptions


def routed_points(site: Site) -> frozenset[PointRef]:
    """The valve points the site's heat router commands (none without a router)."""
    return frozenset() if site.routing is None else site.routing.routed


def spare_entities(
    coordinators: Mapping[str, DeviceCoordinator],
) -> frozenset[tuple[str, PointRef]]:
    """(domain, point) of the entities disabled by default whatever routes them: the number
    entities of valve points, which their valve entities replace."""
    return frozenset(
        (Platform.NUMBER.value, PointRef(subentry_id, point.key))
        for subentry_id, coordinator in coordinators.items()
        for point in coordinator.device.points.values()
        if is_positionable_valve(point)
    )


def add_point_entities[D: EntityDescription](
    coordinators: Mapping[str, DeviceCoordinator],
    schemas: Iterable[PointSchema[D]],
    entity: Callable[[DeviceCoordinator, D], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
    *,
    routed: Collection[PointRef] = (),
) -> None:
    """Add one platform's entities of every device, each under its device's subentry.

    A writable point that a heat destination routes belongs to the router: its entity is
    disabled by default, so a new install offers no raw valve one click away. The registry
    keeps an existing entity as the user had it (same entity id, still enabled), and an
    engineer can enable it to write deliberately (docs/routing.md).
    """
    for subentry_id, coordinator, descriptions in discover(schemas, coordinators):
        async_add_entities(
            [
                entity(
                    coordinator,
                    replace(description, entity_registry_enabled_default=False)
                    if PointRef(subentry_id, description.key) in routed
                    else description,
                )
                for description in descriptions
            ],
            config_subentry_id=subentry_id,
        )
