"""Sensors: every device's readable numbers and states, and the site's heat figures.

A point makes a sensor when it is a number, a state or (for a UPS status) a set of flags that is
not writable; an energy counter makes a total that never goes backwards. The schemas below say
which, for every protocol alike (discovery.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import logging
import time
from typing import Any, override

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .coordinator import DeviceCoordinator
from .discovery import PointSchema, discover
from .entity import MicrodcPointEntity, device_class_of, point_naming
from .heat_sensor import async_add_heat_sensors
from .lib.heat import CounterEvent, EnergyCounter, HeatDomainError
from .lib.heat.energy_points import counter_raw, counter_spec, power_point_of
from .lib.points import COUNTER_ROLES, Point, Role, Value, ValueKind
from .models import MicrodcConfigEntry

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0  # coordinator-fed: entities never poll by themselves

# The UPS status, from the flags of its status bitfield, most serious first.
UPS_STATES = ("fault", "on_battery", "bypass", "online", "off")


@dataclass(frozen=True, kw_only=True)
class MicrodcSensorEntityDescription(SensorEntityDescription):
    """A sensor of one point; value_fn turns the point's value into the state."""

    point: Point
    value_fn: Callable[[Value | None], StateType]
    counter: bool = False


def _number(value: Value | None) -> StateType:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _state(value: Value | None) -> StateType:
    return value if isinstance(value, str) else None


def ups_state(flags: Value | None) -> StateType:
    """The UPS status from its flags, most serious first."""
    if not isinstance(flags, frozenset):
        return None
    return next((state for state in UPS_STATES[:-1] if state in flags), "off")


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
    yield MicrodcSensorEntityDescription(
        **point_naming(point, points),
        point=point,
        device_class=device_class_of(point, SensorDeviceClass),
        state_class=SensorStateClass(point.state_class) if point.state_class else None,
        native_unit_of_measurement=point.unit,
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
    site = entry.runtime_data
    for subentry_id, coordinator, descriptions in discover(SCHEMAS, site.devices):
        async_add_entities(
            [
                (MicrodcCounterSensor if d.counter else MicrodcSensor)(coordinator, d)
                for d in descriptions
            ],
            config_subentry_id=subentry_id,
        )
    async_add_heat_sensors(hass, entry, async_add_entities)


class MicrodcSensor(MicrodcPointEntity, SensorEntity):
    """A point's reading; unavailable while the device has no reading for it."""

    entity_description: MicrodcSensorEntityDescription

    def __init__(
        self, coordinator: DeviceCoordinator, description: MicrodcSensorEntityDescription
    ) -> None:
        """Attach the sensor to its device and point."""
        super().__init__(coordinator, description, description.point)

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_wh": self.total_wh,
            "counter": self.counter,
            "last_reading_at": self.last_reading_at,
        }


class MicrodcCounterSensor(MicrodcPointEntity, RestoreSensor):
    """An energy counter as a total that never goes backwards.

    The register wraps at its width and meters get replaced: each reading is classified by the
    heat domain's EnergyCounter, and only credible steps add to the total. The total and the
    counter's baseline survive restarts.
    """

    entity_description: MicrodcSensorEntityDescription

    def __init__(
        self, coordinator: DeviceCoordinator, description: MicrodcSensorEntityDescription
    ) -> None:
        """Start with no total until the first reading or the restored state."""
        super().__init__(coordinator, description, description.point)
        points = coordinator.device.points.values()
        spec = counter_spec(self.point, power_point_of(points, self.point))
        assert spec is not None  # only energy-unit counters get this sensor (_describe_number)
        self._spec = spec
        self._counter = EnergyCounter(self._spec)
        self._total_wh: float | None = None
        self._last_reading_at: float | None = None  # monotonic, within this run
        self._last_reading_wall: float | None = None  # wall clock, survives a restart

    async def async_added_to_hass(self) -> None:
        """Restore the total and the counter's baseline, then take the current reading."""
        await super().async_added_to_hass()
        if (stored := await self.async_get_last_extra_data()) is not None:
            data = stored.as_dict()
            total = data.get("total_wh")
            if isinstance(total, int | float) and not isinstance(total, bool):
                self._total_wh = float(total)
                try:
                    self._counter = EnergyCounter.from_dict(self._spec, data.get("counter") or {})
                    at = data.get("last_reading_at")
                    if isinstance(at, int | float) and not isinstance(at, bool):
                        self._last_reading_wall = float(at)
                except HeatDomainError as err:
                    _LOGGER.warning("%s: stored counter dropped: %s", self.entity_id, err)
        self._take_reading()

    @property
    def extra_restore_state_data(self) -> _CounterStoredData:  # type: ignore[override]
        """What survives a restart: the total and the baseline it continues from."""
        return _CounterStoredData(self._total_wh, self._counter.to_dict(), self._last_reading_wall)

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
        if raw is None:
            return  # a missing reading leaves the baseline: the next step spans the gap
        now, wall = time.monotonic(), dt_util.utcnow().timestamp()
        # Within a run the monotonic clock measures the time since the last reading; after a
        # restart the wall clock stored with the baseline does (stored data without it: no
        # power bound). A poll sooner than the scan interval (a manual refresh, or a wall
        # clock set back) only loosens the bound.
        if self._last_reading_at is not None:
            since: float | None = now - self._last_reading_at
        elif self._last_reading_wall is not None:
            since = wall - self._last_reading_wall
        else:
            since = None
        elapsed = None if since is None else max(since, self.coordinator.scan_interval_s)
        self._last_reading_at, self._last_reading_wall = now, wall
        try:
            step = self._counter.advance(raw, elapsed)
        except HeatDomainError as err:
            _LOGGER.debug("%s: reading %s ignored: %s", self.entity_id, value, err)
            return
        if step.event is CounterEvent.FIRST and self._total_wh is None:
            # A new sensor starts where the device's own counter stands.
            self._total_wh = raw * self._spec.wh_per_count
        elif step.energy_wh is not None and self._total_wh is not None:
            self._total_wh += step.energy_wh
        elif step.event is not CounterEvent.FIRST:
            _LOGGER.info(
                "%s: counter went from a reading to %s that no wrap explains (%s); "
                "the total continues from here",
                self.entity_id,
                value,
                step.event,
            )

    @property
    def native_value(self) -> float | None:
        """The total in kWh."""
        return None if self._total_wh is None else round(self._total_wh / 1000, 6)

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or there is no total yet."""
        return super().available and self._total_wh is not None
