"""Sensors: every device's readable numbers and states, and the site's heat figures.

A point makes a sensor when it is a number, a state or (for a UPS status) a set of flags that is
not writable; an energy counter makes a total that never goes backwards. The schemas below say
which, for every protocol alike (discovery.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import logging
from typing import Any, Final, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData
from homeassistant.helpers.typing import StateType

from . import heat_accounting  # its clock, which tests move in time
from .coordinator import DeviceCoordinator
from .discovery import PointSchema, add_point_entities
from .entity import MicrodcPointEntity, PointEntityDescription, device_class_of, point_naming
from .heat_sensor import async_add_heat_sensors
from .lib.heat import CounterEvent, EnergyChannel, HeatDomainError
from .lib.heat.energy_points import counter_raw, counter_spec, power_point_of, power_w
from .lib.points import COUNTER_ROLES, Point, Role, Value, ValueKind
from .models import MicrodcConfigEntry
from .routing_entity import HeatRoutingSensor
from .settings import HeatOptions

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0  # coordinator-fed: entities never poll by themselves

# The UPS status, from the flags of its status bitfield, most serious first.
UPS_STATES = ("fault", "on_battery", "bypass", "online", "off")


@dataclass(frozen=True, kw_only=True)
class MicrodcSensorEntityDescription(SensorEntityDescription, PointEntityDescription):
    """A sensor of one point; value_fn turns the point's value into the state."""

    value_fn: Callable[[Value | None], StateType]
    counter: bool = False


_NUMBERS: Final = (int, float)  # a tuple: a union in the call is built at every state write


def _number(value: Value | None) -> StateType:
    return value if isinstance(value, _NUMBERS) and not isinstance(value, bool) else None


def _state(value: Value | None) -> StateType:
    return value if isinstance(value, str) else None


def ups_state(flags: Value | None) -> StateType:
    """The UPS status from its flags, most serious first."""
    if not isinstance(flags, frozenset):
        return None
    return next((state for state in UPS_STATES[:-1] if state in flags), "off")


# Units a person reads more easily than the device's: a UPS's 3969 s runtime is 66 min. Home
# Assistant applies a suggested unit to new entities only, so existing ones keep their unit
# and their long-term statistics.
SUGGESTED_UNITS: dict[tuple[SensorDeviceClass, str], str] = {
    (SensorDeviceClass.DURATION, UnitOfTime.SECONDS): UnitOfTime.MINUTES,
}


def _describe_number(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcSensorEntityDescription]:
    if point.role in COUNTER_ROLES and counter_spec(point) is not None:
        yield MicrodcSensorEntityDescription(
            **point_naming(point, points),
            point=point,
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=point.precision if point.precision is not None else 2,
            value_fn=_number,
            counter=True,
        )
        return
    device_class = device_class_of(point, SensorDeviceClass)
    suggested_unit = None
    if device_class is not None and point.unit is not None:
        suggested_unit = SUGGESTED_UNITS.get((device_class, point.unit))
    yield MicrodcSensorEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=device_class,
        state_class=SensorStateClass(point.state_class) if point.state_class else None,
        native_unit_of_measurement=point.unit,
        suggested_unit_of_measurement=suggested_unit,
        suggested_display_precision=point.precision,
        value_fn=_number,
    )


def _describe_state(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcSensorEntityDescription]:
    yield MicrodcSensorEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=SensorDeviceClass.ENUM,
        options=list(point.options),
        value_fn=_state,
    )


def _describe_ups_status(
    point: Point, points: Mapping[str, Point]
) -> Iterable[MicrodcSensorEntityDescription]:
    yield MicrodcSensorEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=SensorDeviceClass.ENUM,
        options=list(UPS_STATES),
        value_fn=ups_state,
    )


SCHEMAS: tuple[PointSchema[MicrodcSensorEntityDescription], ...] = (
    PointSchema(kinds=frozenset({ValueKind.NUMBER}), describe=_describe_number),
    PointSchema(kinds=frozenset({ValueKind.STATE}), describe=_describe_state),
    PointSchema(
        kinds=frozenset({ValueKind.FLAGS}),
        roles=frozenset({Role.UPS_STATUS}),
        describe=_describe_ups_status,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add each device's sensors under its subentry, and the site's heat sensors."""
    add_point_entities(entry.runtime_data.devices, SCHEMAS, _sensor, async_add_entities)
    async_add_heat_sensors(hass, entry, async_add_entities)
    if entry.runtime_data.routing is not None:
        async_add_entities([HeatRoutingSensor(entry.runtime_data.routing)])


def _sensor(
    coordinator: DeviceCoordinator, description: MicrodcSensorEntityDescription
) -> SensorEntity:
    """A counter's total, or a plain reading."""
    if description.counter:
        return MicrodcCounterSensor(coordinator, description)
    return MicrodcSensor(coordinator, description)


class MicrodcSensor(MicrodcPointEntity, SensorEntity):
    """A point's reading; unavailable while the device has no reading for it."""

    entity_description: MicrodcSensorEntityDescription

    @property
    def native_value(self) -> StateType:
        """The point's state."""
        return self.entity_description.value_fn(self.coordinator.value(self.point.key))

    @property
    def available(self) -> bool:
        """Unavailable after a failed poll, and for a sentinel, out-of-range or faulty reading."""
        return super().available and self.native_value is not None


@dataclass(slots=True)
class _CounterStoredData(ExtraStoredData):
    total_wh: float | None
    counter: dict[str, Any]
    last_reading_at: float | None  # wall-clock (Unix) time of the baseline's reading
    channel: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_wh": self.total_wh,
            "counter": self.counter,  # counter and last_reading_at: as 0.1.0 stored them
            "last_reading_at": self.last_reading_at,
            "channel": self.channel,
        }


class MicrodcCounterSensor(MicrodcPointEntity, RestoreSensor):
    """An energy counter as a total that never goes backwards.

    The register wraps at its width and meters get replaced: each reading goes through the heat
    domain's EnergyChannel, with the device's power point and the site's clock, exactly as the
    site's IT energy and heat ledger take it (one rule: a step the device's power cannot
    explain is set aside and the interval counts from power). So the device's energy sensor
    and the site's figures agree over the same readings. The total and the channel survive
    restarts.
    """

    entity_description: MicrodcSensorEntityDescription

    def __init__(
        self, coordinator: DeviceCoordinator, description: MicrodcSensorEntityDescription
    ) -> None:
        """Start with no total until the first reading or the restored state."""
        super().__init__(coordinator, description)
        self._power = power_point_of(coordinator.device.points.values(), self.point)
        if self._power is not None:
            self.coordinator_context = self.coordinator_context | {self._power.key}
        spec = counter_spec(self.point, self._power)
        assert spec is not None  # only energy-unit counters get this sensor (_describe_number)
        self._spec = spec
        self._max_gap_s = HeatOptions.from_entry(coordinator.config_entry).max_gap_s
        self._channel = EnergyChannel(self._max_gap_s, spec)
        self._total_wh: float | None = None
        self._told_set_aside = False

    async def async_added_to_hass(self) -> None:
        """Restore the total and the counter's baseline, then take the current reading."""
        await super().async_added_to_hass()
        if (stored := await self.async_get_last_extra_data()) is not None:
            data = stored.as_dict()
            total = data.get("total_wh")
            if isinstance(total, int | float) and not isinstance(total, bool):
                self._total_wh = float(total)
                try:
                    self._channel = self._restored_channel(data)
                except HeatDomainError as err:
                    _LOGGER.warning("%s: stored counter dropped: %s", self.entity_id, err)
        self._take_reading()

    def _restored_channel(self, data: dict[str, Any]) -> EnergyChannel:
        if isinstance(data.get("channel"), dict):
            return EnergyChannel.from_dict(self._max_gap_s, self._spec, data["channel"])
        # Stored by 0.1.0: the counter's baseline and when it was read.
        at = data.get("last_reading_at")
        return EnergyChannel.from_dict(
            self._max_gap_s,
            self._spec,
            {
                "counter": data.get("counter") or {},
                "last_time_s": at if isinstance(at, int | float) else None,
            },
        )

    @property
    def extra_restore_state_data(self) -> _CounterStoredData:  # type: ignore[override]
        """What survives a restart: the total and the channel it continues from."""
        counter = self._channel.counter
        return _CounterStoredData(
            self._total_wh,
            {} if counter is None else counter.to_dict(),
            self._channel.last_time_s,
            self._channel.to_dict(),
        )

    def state_inputs(self) -> object | None:
        """None: a total integrates power over time, so every update may change it."""
        return None

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._take_reading()
        super()._handle_coordinator_update()

    def _take_reading(self) -> None:
        if not self.coordinator.last_update_success:
            return  # the last good reading was taken already; a stale copy is no new reading
        value = self.coordinator.value(self.point.key)
        raw = counter_raw(self.point, value)
        power = None
        if self._power is not None:
            power = power_w(self._power, self.coordinator.value(self._power.key))
        if raw is None and power is None:
            return  # no reading at all: the next one spans the gap
        try:
            interval = self._channel.advance(heat_accounting.utc_timestamp(), power, raw)
        except HeatDomainError as err:
            _LOGGER.debug("%s: reading %s ignored: %s", self.entity_id, value, err)
            return
        if interval.counter_event is CounterEvent.FIRST and self._total_wh is None:
            # A new sensor starts where the device's own counter stands.
            self._total_wh = (raw or 0.0) * self._spec.wh_per_count
        elif interval.energy_wh is not None and self._total_wh is not None:
            self._total_wh += interval.energy_wh
        if interval.counter_event is CounterEvent.REPLACED and not self._told_set_aside:
            self._told_set_aside = True  # once: the diagnostics have the running figures
            _LOGGER.warning(
                "%s: counter reading %s is not what the device's power explains (a replaced "
                "or reset meter, or a sped-up clock); that step is set aside and counted from "
                "power. Later ones are not logged",
                self.entity_id,
                value,
            )

    @property
    def native_value(self) -> float | None:
        """The total in kWh."""
        return None if self._total_wh is None else round(self._total_wh / 1000, 6)

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or there is no total yet."""
        return super().available and self._total_wh is not None
