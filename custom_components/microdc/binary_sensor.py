"""Binary sensors: every device's readable on/off points and flags, and a UPS's states.

A bool point that is not writable makes a binary sensor (its role gives the device class: a
door, an occupancy sensor, a running pump); each flag of a bitfield makes one; a UPS's status
flags make its on-battery, low-battery and fault sensors, low battery also from runtime and
charge under the site's limits, since some UPS cards never set the flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import DeviceCoordinator
from .discovery import PointSchema, add_point_entities
from .entity import (
    MicrodcPointEntity,
    PointEntityDescription,
    device_class_of,
    name_from_key,
    point_naming,
)
from .lib.points import Point, Role, ValueKind
from .models import MicrodcConfigEntry
from .routing_entity import HeatSafetyBinarySensor
from .settings import UpsLimits

PARALLEL_UPDATES = 0  # coordinator-fed

# Bool points whose role says what they sense.
_BOOL_ROLES = {
    Role.DOOR_OPEN: BinarySensorDeviceClass.DOOR,
    Role.OCCUPANCY: BinarySensorDeviceClass.OCCUPANCY,
    Role.PUMP_COMMAND: BinarySensorDeviceClass.RUNNING,
}
# UPS status flags that become binary sensors: flag -> (translation key, device class).
# On battery is PROBLEM: its "on" is the mains lost, a condition to act on. POWER ("on: power
# detected") would invert the state, and BATTERY_CHARGING means something else; core apcupsd
# shows the opposite flag (online) without a class, nut shows its status as a sensor.
_UPS_FLAGS = {
    "on_battery": ("on_battery", BinarySensorDeviceClass.PROBLEM),
    "low_battery": ("low_battery", BinarySensorDeviceClass.BATTERY),
    "fault": ("ups_fault", BinarySensorDeviceClass.PROBLEM),
}
_SECONDS_PER = {"s": 1.0, "min": 60.0, "h": 3600.0}

type IsOnFn = Callable[[DeviceCoordinator], bool | None]


@dataclass(frozen=True, kw_only=True)
class MicrodcBinarySensorEntityDescription(BinarySensorEntityDescription, PointEntityDescription):
    """A binary sensor of a point; is_on_fn reads it from the device's last poll."""

    is_on_fn: IsOnFn


def _bool_point(key: str) -> IsOnFn:
    def is_on(coordinator: DeviceCoordinator) -> bool | None:
        value = coordinator.value(key)
        return value if isinstance(value, bool) else None

    return is_on


def _flag(key: str, flag: str) -> IsOnFn:
    def is_on(coordinator: DeviceCoordinator) -> bool | None:
        flags = coordinator.value(key)
        return flag in flags if isinstance(flags, frozenset) else None

    return is_on


def _with_role(points: Mapping[str, Point], role: Role) -> Point | None:
    return next((p for p in points.values() if p.role is role), None)


def _low_battery(status_key: str, points: Mapping[str, Point]) -> IsOnFn:
    """The UPS's own flag, or runtime or charge under the site's limits."""
    runtime = _with_role(points, Role.UPS_RUNTIME)
    charge = _with_role(points, Role.UPS_BATTERY_CHARGE)

    def is_on(coordinator: DeviceCoordinator) -> bool | None:
        flags = coordinator.value(status_key)
        if not isinstance(flags, frozenset):
            return None
        if "low_battery" in flags:
            return True
        limits: UpsLimits = coordinator.config_entry.runtime_data.ups_limits
        if runtime is not None and (seconds := coordinator.value(runtime.key)) is not None:
            factor = _SECONDS_PER.get(runtime.unit or "s", 1.0)
            if isinstance(seconds, int | float) and seconds * factor < limits.runtime_s:
                return True
        percent = None if charge is None else coordinator.value(charge.key)
        return isinstance(percent, int | float) and percent < limits.charge_pct

    return is_on


def _describe_bool(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcBinarySensorEntityDescription]:
    role_class = _BOOL_ROLES.get(point.role) if point.role else None
    yield MicrodcBinarySensorEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=role_class or device_class_of(point, BinarySensorDeviceClass),
        is_on_fn=_bool_point(point.key),
    )


def _describe_ups_flags(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcBinarySensorEntityDescription]:
    derives_low = any(_with_role(points, r) for r in (Role.UPS_RUNTIME, Role.UPS_BATTERY_CHARGE))
    for flag, (translation_key, device_class) in _UPS_FLAGS.items():
        # A card without a low-battery flag (APC's AN176 has none) still gets the sensor when
        # the UPS reports its runtime or charge: the site's limits decide then.
        if flag not in point.options and not (flag == "low_battery" and derives_low):
            continue
        yield MicrodcBinarySensorEntityDescription(
            key=translation_key,
            translation_key=translation_key,
            point=point,
            device_class=device_class,
            is_on_fn=_low_battery(point.key, points)
            if flag == "low_battery"
            else _flag(point.key, flag),
            also_reads=frozenset(
                p.key
                for r in (Role.UPS_RUNTIME, Role.UPS_BATTERY_CHARGE)
                if flag == "low_battery" and (p := _with_role(points, r)) is not None
            ),
        )


def _describe_flags(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcBinarySensorEntityDescription]:
    category = EntityCategory(point.entity_category) if point.entity_category else None
    for flag in point.options:
        # A profile's translation key names its flags: <key>_<flag> (a made-up bitfield's
        # flags are named from their keys).
        naming: dict[str, Any] = (
            {"translation_key": f"{point.translation_key}_{flag}"}
            if point.translation_key is not None
            else {"name": name_from_key(f"{point.key}_{flag}")}
        )
        yield MicrodcBinarySensorEntityDescription(
            key=f"{point.key}_{flag}",
            **naming,
            point=point,
            entity_category=category,
            entity_registry_enabled_default=point.enabled_by_default,
            is_on_fn=_flag(point.key, flag),
        )


SCHEMAS: tuple[PointSchema[MicrodcBinarySensorEntityDescription], ...] = (
    PointSchema(kinds=frozenset({ValueKind.BOOL}), describe=_describe_bool),
    PointSchema(
        kinds=frozenset({ValueKind.FLAGS}),
        roles=frozenset({Role.UPS_STATUS}),
        describe=_describe_ups_flags,
    ),
    PointSchema(kinds=frozenset({ValueKind.FLAGS}), describe=_describe_flags),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's binary sensors under its subentry."""
    add_point_entities(entry.runtime_data.devices, SCHEMAS, MicrodcBinarySensor, async_add_entities)
    if entry.runtime_data.routing is not None:
        async_add_entities([HeatSafetyBinarySensor(entry.runtime_data.routing)])


class MicrodcBinarySensor(MicrodcPointEntity, BinarySensorEntity):
    """A bool point or a flag; unavailable while it is unknown."""

    entity_description: MicrodcBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Whether the point or flag is set."""
        return self.entity_description.is_on_fn(self.coordinator)

    @property
    def available(self) -> bool:
        """Unavailable after a failed poll, and while the reading is missing."""
        return super().available and self.is_on is not None
