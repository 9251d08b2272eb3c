"""Binary sensors of Modbus devices: bool points and the flags of bitfields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import MicrodcConfigEntry
from .bacnet_entity import async_add_bacnet_entities
from .coordinator import ModbusDeviceCoordinator
from .entity import MicrodcModbusEntity, device_class_of, name_from_key, point_name
from .profile import DataType, Point, Profile
from .ups_options import ups_limits

PARALLEL_UPDATES = 0  # coordinator-fed

# bool points with a role: (translation key, device class)
_BOOL_ROLES = {
    "door_open": BinarySensorDeviceClass.DOOR,
    "occupancy": BinarySensorDeviceClass.OCCUPANCY,
    "pump_command": BinarySensorDeviceClass.RUNNING,
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

type IsOnFn = Callable[[ModbusDeviceCoordinator], bool | None]


@dataclass(frozen=True, kw_only=True)
class MicrodcBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor; is_on_fn reads it from the device's last poll (None: unknown)."""

    is_on_fn: IsOnFn


def _bool_point(key: str) -> IsOnFn:
    def is_on(coordinator: ModbusDeviceCoordinator) -> bool | None:
        value = coordinator.value(key)
        return value if isinstance(value, bool) else None

    return is_on


def _flag(key: str, flag: str) -> IsOnFn:
    def is_on(coordinator: ModbusDeviceCoordinator) -> bool | None:
        flags = coordinator.value(key)
        return flag in flags if isinstance(flags, frozenset) else None

    return is_on


def _point_with_role(profile: Profile, role: str) -> Point | None:
    return next((p for p in profile.points.values() if p.role == role), None)


def _low_battery(profile: Profile, status_key: str) -> IsOnFn:
    """The UPS's own flag, or runtime or charge under the site's limits (some UPS never flag)."""
    runtime = _point_with_role(profile, "ups_runtime")
    charge = _point_with_role(profile, "ups_battery_charge")

    def is_on(coordinator: ModbusDeviceCoordinator) -> bool | None:
        flags = coordinator.value(status_key)
        if not isinstance(flags, frozenset):
            return None
        if "low_battery" in flags:
            return True
        runtime_limit, charge_limit = ups_limits(coordinator.config_entry.options)
        if runtime is not None and (seconds := coordinator.value(runtime.key)) is not None:
            factor = _SECONDS_PER.get(runtime.unit or "s", 1.0)
            if isinstance(seconds, int | float) and seconds * factor < runtime_limit:
                return True
        percent = None if charge is None else coordinator.value(charge.key)
        return isinstance(percent, int | float) and percent < charge_limit

    return is_on


def describe_binary_sensors(profile: Profile) -> list[MicrodcBinarySensorEntityDescription]:
    """A binary sensor per bool point and per bitfield flag (UPS flags by their meaning)."""
    descriptions = []
    for point in profile.points.values():
        category = EntityCategory(point.entity_category) if point.entity_category else None
        if point.data_type is DataType.BOOL:
            role_class = _BOOL_ROLES.get(point.role or "")
            named = point_name(profile, point) if role_class else {"name": name_from_key(point.key)}
            descriptions.append(
                MicrodcBinarySensorEntityDescription(
                    key=point.key,
                    **named,
                    device_class=role_class or device_class_of(point, BinarySensorDeviceClass),
                    entity_category=category,
                    entity_registry_enabled_default=point.enabled_by_default,
                    is_on_fn=_bool_point(point.key),
                )
            )
        elif point.data_type is DataType.BITFIELD and point.role == "ups_status":
            flags = set(point.labels.values())
            for flag, (translation_key, device_class) in _UPS_FLAGS.items():
                if flag not in flags:
                    continue
                descriptions.append(
                    MicrodcBinarySensorEntityDescription(
                        key=translation_key,
                        translation_key=translation_key,
                        device_class=device_class,
                        is_on_fn=_low_battery(profile, point.key)
                        if flag == "low_battery"
                        else _flag(point.key, flag),
                    )
                )
        elif point.data_type is DataType.BITFIELD:
            for flag in point.labels.values():
                descriptions.append(
                    MicrodcBinarySensorEntityDescription(
                        key=f"{point.key}_{flag}",
                        name=name_from_key(f"{point.key}_{flag}"),
                        entity_category=category,
                        entity_registry_enabled_default=point.enabled_by_default,
                        is_on_fn=_flag(point.key, flag),
                    )
                )
    return descriptions


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each Modbus device's binary sensors under its subentry."""
    for subentry_id, coordinator in entry.runtime_data.modbus_devices.items():
        async_add_entities(
            (
                MicrodcBinarySensor(coordinator, description)
                for description in describe_binary_sensors(coordinator.profile)
            ),
            config_subentry_id=subentry_id,
        )
    bacnet_devices = entry.runtime_data.bacnet.devices.values()
    async_add_bacnet_entities("binary_sensor", bacnet_devices, async_add_entities)


class MicrodcBinarySensor(MicrodcModbusEntity, BinarySensorEntity):
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
