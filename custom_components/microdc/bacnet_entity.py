"""Entities of BACnet devices: one per chosen object, by object kind and commandability.

- analog: sensor, device class and unit from the BACnet engineering units;
- binary: binary sensor; multi-state: enum sensor whose options are the state texts;
- commandable (has a priority array): number (analog), switch (binary), select (multi-state),
  which write at microdc's priority; their state is the object's present value, i.e. whatever
  priority wins, so a higher-priority override on site shows as it is.

statusFlags: ``fault`` makes the entity unavailable (the device itself says the value is
wrong). ``out-of-service``, ``overridden`` and ``in-alarm`` keep the value and show as
attributes: an engineer who puts an input out of service to test a sequence wants to see the
value the controller is acting on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.components.select import SelectEntity
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchEntity
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .bacnet_config import BacnetObjectConfig
from .bacnet_coordinator import BacnetDeviceCoordinator
from .protocols.bacnet import PresentValue
from .protocols.bacnet_units import unit_mapping


class MicrodcBacnetEntity(CoordinatorEntity[BacnetDeviceCoordinator]):
    """An entity of one BACnet object, fed by its device's coordinator.

    The unique id is the subentry id plus the object's key (type and instance), so a device
    given a new address (reconfigure) keeps its entities and their history.
    """

    _attr_has_entity_name = True

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """Attach the entity to its device; its name is the object's name."""
        super().__init__(coordinator)
        self.object = obj
        self._attr_unique_id = f"{coordinator.subentry.subentry_id}_{obj.key}"
        self._attr_name = obj.name
        self._attr_device_info = coordinator.device_info

    @property
    def present_value(self) -> PresentValue:
        reading = self.coordinator.reading(self.object.object_id)
        return None if reading is None else reading.present_value

    @property
    def available(self) -> bool:
        """Unavailable without a reading, after a failed poll, or when the object is in fault."""
        reading = self.coordinator.reading(self.object.object_id)
        if not super().available or reading is None or reading.error is not None:
            return False
        if reading.status_flags is not None and reading.status_flags.fault:
            return False
        return reading.present_value is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The object's identity and role, and the status flags other than fault."""
        attributes: dict[str, Any] = {"bacnet_object": str(self.object.object_id)}
        if self.object.role is not None:
            attributes["role"] = self.object.role
        reading = self.coordinator.reading(self.object.object_id)
        flags = None if reading is None else reading.status_flags
        if flags is not None:
            attributes["out_of_service"] = flags.out_of_service
            attributes["overridden"] = flags.overridden
            attributes["in_alarm"] = flags.in_alarm
        return attributes


def _state_text(obj: BacnetObjectConfig, value: PresentValue) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    options = state_options(obj)
    return options[value - 1] if 1 <= value <= len(options) else None


def state_options(obj: BacnetObjectConfig) -> list[str]:
    """A multi-state object's states, in order (state 1 first)."""
    if obj.state_texts:
        return list(obj.state_texts)
    return [str(number) for number in range(1, 17)]  # no texts: the numbers themselves


class BacnetSensor(MicrodcBacnetEntity, SensorEntity):
    """An analog object's present value."""

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """Device class and unit from the object's engineering units."""
        super().__init__(coordinator, obj)
        mapping = unit_mapping(obj.units)
        self._attr_native_unit_of_measurement = mapping.unit
        if mapping.device_class is not None:
            self._attr_device_class = SensorDeviceClass(mapping.device_class)
        self._attr_state_class = (
            SensorStateClass.TOTAL_INCREASING
            if self._attr_device_class is SensorDeviceClass.ENERGY
            else SensorStateClass.MEASUREMENT
        )

    @property
    def native_value(self) -> StateType:
        value = self.present_value
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None


class BacnetEnumSensor(MicrodcBacnetEntity, SensorEntity):
    """A multi-state object's state text."""

    _attr_device_class = SensorDeviceClass.ENUM

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """The options are the object's state texts."""
        super().__init__(coordinator, obj)
        self._attr_options = state_options(obj)

    @property
    def native_value(self) -> str | None:
        return _state_text(self.object, self.present_value)


# Binary objects carry no engineering units: their role says what they sense.
_BINARY_DEVICE_CLASSES = {
    "occupancy": BinarySensorDeviceClass.OCCUPANCY,
    "pump_command": BinarySensorDeviceClass.RUNNING,
}


class BacnetBinarySensor(MicrodcBacnetEntity, BinarySensorEntity):
    """A binary object: on when active."""

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """The device class from the object's role, when it has one."""
        super().__init__(coordinator, obj)
        self._attr_device_class = _BINARY_DEVICE_CLASSES.get(obj.role or "")

    @property
    def is_on(self) -> bool | None:
        value = self.present_value
        return value if isinstance(value, bool) else None


class BacnetNumber(MicrodcBacnetEntity, NumberEntity):
    """A commandable analog object (valve, setpoint): setting it writes at microdc's priority."""

    _attr_mode = NumberMode.BOX

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """Range from the object's min/max present value, else from its unit."""
        super().__init__(coordinator, obj)
        mapping = unit_mapping(obj.units)
        self._attr_native_unit_of_measurement = mapping.unit
        if mapping.device_class in {c.value for c in NumberDeviceClass}:
            self._attr_device_class = NumberDeviceClass(mapping.device_class)
        percent = mapping.unit == "%"
        self._attr_native_min_value = (
            obj.min_value if obj.min_value is not None else (0.0 if percent else -1e6)
        )
        self._attr_native_max_value = (
            obj.max_value if obj.max_value is not None else (100.0 if percent else 1e6)
        )
        self._attr_native_step = 0.1

    @property
    def native_value(self) -> float | None:
        value = self.present_value
        return float(value) if isinstance(value, int | float) else None

    async def async_set_native_value(self, value: float) -> None:
        await self.coordinator.async_write(self.object.object_id, value)

    async def async_relinquish(self) -> None:
        await self.coordinator.async_relinquish(self.object.object_id)


class BacnetSwitch(MicrodcBacnetEntity, SwitchEntity):
    """A commandable binary object (a pump): on writes active at microdc's priority."""

    @property
    def is_on(self) -> bool | None:
        value = self.present_value
        return value if isinstance(value, bool) else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.coordinator.async_write(self.object.object_id, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.coordinator.async_write(self.object.object_id, False)

    async def async_relinquish(self) -> None:
        await self.coordinator.async_relinquish(self.object.object_id)


class BacnetSelect(MicrodcBacnetEntity, SelectEntity):
    """A commandable multi-state object: choosing a state writes it at microdc's priority."""

    def __init__(self, coordinator: BacnetDeviceCoordinator, obj: BacnetObjectConfig) -> None:
        """The options are the object's state texts."""
        super().__init__(coordinator, obj)
        self._attr_options = state_options(obj)

    @property
    def current_option(self) -> str | None:
        return _state_text(self.object, self.present_value)

    async def async_select_option(self, option: str) -> None:
        await self.coordinator.async_write(
            self.object.object_id, self._attr_options.index(option) + 1
        )

    async def async_relinquish(self) -> None:
        await self.coordinator.async_relinquish(self.object.object_id)


type EntityFactory = Callable[[BacnetDeviceCoordinator, BacnetObjectConfig], Entity]

# (platform, object kind, commandable) -> entity class
_CLASSES: dict[tuple[str, str, bool], EntityFactory] = {
    ("sensor", "analog", False): BacnetSensor,
    ("sensor", "multi-state", False): BacnetEnumSensor,
    ("binary_sensor", "binary", False): BacnetBinarySensor,
    ("number", "analog", True): BacnetNumber,
    ("switch", "binary", True): BacnetSwitch,
    ("select", "multi-state", True): BacnetSelect,
}


def platform_of(obj: BacnetObjectConfig) -> str | None:
    """The platform an object's entity belongs to."""
    for (platform, kind, commandable), _factory in _CLASSES.items():
        if kind == obj.kind and commandable == obj.commandable:
            return platform
    return None


def bacnet_entities(
    platform: str, coordinators: Iterable[BacnetDeviceCoordinator]
) -> Iterable[tuple[str, list[Entity]]]:
    """(subentry id, entities) of each device for one platform."""
    for coordinator in coordinators:
        entities: list[Entity] = []
        for obj in coordinator.config.objects:
            factory = _CLASSES.get((platform, obj.kind, obj.commandable))
            if factory is not None:
                entities.append(factory(coordinator, obj))
        yield coordinator.subentry.subentry_id, entities


def async_add_bacnet_entities(
    platform: str,
    coordinators: Iterable[BacnetDeviceCoordinator],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add one platform's BACnet entities, each under its device's subentry."""
    for subentry_id, entities in bacnet_entities(platform, coordinators):
        if entities:
            async_add_entities(entities, config_subentry_id=subentry_id)
