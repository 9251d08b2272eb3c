"""The site's heat sensors: recovered and reused heat, per destination, ERF, savings.

They belong to the site's own device and read the site's heat accounting (heat_accounting.py,
started by the Site), which restores its state from its Store: the totals continue across
restarts without a loss or a double count, so the sensors need no restore state of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, UnitOfEnergy, UnitOfMass, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .entity import MicrodcSiteEntity
from .heat_accounting import Destination, SiteHeatAccounting
from .models import MicrodcConfigEntry

DESTINATION_KEY = "destination_heat"


def _kwh(wh: float) -> float:
    return round(wh / 1000, 4)


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100, 2)


@dataclass(frozen=True, kw_only=True)
class HeatSensorEntityDescription(SensorEntityDescription):
    """A figure of the site's heat accounting."""

    value_fn: Callable[[SiteHeatAccounting], StateType]
    attributes_fn: Callable[[SiteHeatAccounting], dict[str, Any] | None] | None = None


def _it_meters(accounting: SiteHeatAccounting) -> dict[str, Any]:
    """Which devices the site's IT figures sum (every feed of the rack)."""
    return {"it_meters": accounting.it_meter_names()}


def _it_power(accounting: SiteHeatAccounting) -> StateType:
    power = accounting.it_power_w
    return None if power is None else round(power / 1000, 3)


def _erf_reasons(accounting: SiteHeatAccounting) -> dict[str, Any] | None:
    """Above 100 %, why (which inputs are missing or were set aside)."""
    reasons = accounting.erf_above_100_because()
    return None if reasons is None else {"above_100_percent_because": reasons}


def _energy(
    key: str, value_fn: Callable[[SiteHeatAccounting], StateType]
) -> HeatSensorEntityDescription:
    return HeatSensorEntityDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=value_fn,
    )


def _ratio(
    key: str,
    value_fn: Callable[[SiteHeatAccounting], StateType],
    attributes_fn: Callable[[SiteHeatAccounting], dict[str, Any] | None] | None = None,
) -> HeatSensorEntityDescription:
    return HeatSensorEntityDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        value_fn=value_fn,
        attributes_fn=attributes_fn,
    )


def _recovered_power(accounting: SiteHeatAccounting) -> StateType:
    power = accounting.recovered_power_w()
    return None if power is None else round(power / 1000, 3)


def site_descriptions(currency: str) -> tuple[HeatSensorEntityDescription, ...]:
    """The site-wide heat sensors."""
    return (
        HeatSensorEntityDescription(
            key="recovered_power",
            translation_key="recovered_power",
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=2,
            value_fn=_recovered_power,
        ),
        # Recovered: all the heat the loop carried away from the rack (what its heat meter
        # measures), reject included. Reused: the part delivered to heat destinations; it is
        # what displaces heating, so ERF and the savings follow it.
        _energy("recovered_heat", lambda a: _kwh(a.totals.captured_wh)),
        _energy("reused_heat", lambda a: _kwh(a.totals.reused_wh)),
        _energy("rejected_heat", lambda a: _kwh(a.totals.rejected_wh)),
        HeatSensorEntityDescription(
            key="site_it_energy",
            translation_key="site_it_energy",
            device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=2,
            value_fn=lambda a: _kwh(a.it_total_wh),
            attributes_fn=_it_meters,
        ),
        HeatSensorEntityDescription(
            key="site_it_power",
            translation_key="site_it_power",
            device_class=SensorDeviceClass.POWER,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfPower.KILO_WATT,
            suggested_display_precision=2,
            value_fn=_it_power,
            attributes_fn=_it_meters,
        ),
        _ratio("erf", lambda a: _pct(a.erf()), _erf_reasons),
        _ratio("erf_today", lambda a: _pct(a.erf_today()), _erf_reasons),
        _ratio("recovery_ratio", lambda a: _pct(a.recovery_ratio_now())),
        HeatSensorEntityDescription(
            key="avoided_cost",
            translation_key="avoided_cost",
            device_class=SensorDeviceClass.MONETARY,
            state_class=SensorStateClass.TOTAL,
            native_unit_of_measurement=currency,
            suggested_display_precision=2,
            value_fn=lambda a: round(
                a.options.displaced.avoided_cost(a.totals.reused_wh / 1000), 4
            ),
        ),
        HeatSensorEntityDescription(
            key="avoided_emissions",
            translation_key="avoided_emissions",
            device_class=SensorDeviceClass.WEIGHT,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfMass.KILOGRAMS,
            suggested_display_precision=1,
            value_fn=lambda a: round(
                a.options.displaced.avoided_emissions_kg(a.totals.reused_wh / 1000), 4
            ),
        ),
    )


def destination_description(destination: Destination) -> HeatSensorEntityDescription:
    """Recovered heat of one heat destination."""
    destination_id = destination.destination_id
    return HeatSensorEntityDescription(
        key=f"{DESTINATION_KEY}_{destination_id}",
        translation_key="destination_heat",
        translation_placeholders={"destination": destination.name},
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda a: _kwh(a.totals.by_destination_wh.get(destination_id, 0.0)),
    )


@callback
def async_add_heat_sensors(
    hass: HomeAssistant,
    entry: MicrodcConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the site's heat sensors to the site's device."""
    accounting = entry.runtime_data.heat
    if accounting is None:
        return
    descriptions = [
        *site_descriptions(hass.config.currency),
        *(destination_description(d) for d in accounting.destinations),
    ]
    # All on the site's device, which belongs to the site itself and to no subentry. The
    # sensor of a destination that was removed goes; its heat stays in the recovered total.
    registry = er.async_get(hass)
    wanted = {f"{entry.entry_id}_{d.key}" for d in descriptions}
    for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
        if registered.unique_id.startswith(f"{entry.entry_id}_{DESTINATION_KEY}_") and (
            registered.unique_id not in wanted
        ):
            registry.async_remove(registered.entity_id)
    async_add_entities([HeatSensor(accounting, description) for description in descriptions])


class HeatSensor(MicrodcSiteEntity, SensorEntity):
    """One figure of the site's heat accounting, on the site's device."""

    entity_description: HeatSensorEntityDescription

    def __init__(
        self, accounting: SiteHeatAccounting, description: HeatSensorEntityDescription
    ) -> None:
        """Attach the sensor to the site's device."""
        super().__init__(accounting.entry.entry_id, description)
        self._accounting = accounting
        if description.translation_placeholders is not None:
            self._attr_translation_placeholders = dict(description.translation_placeholders)

    async def async_added_to_hass(self) -> None:
        """Follow the accounting's updates."""
        self.async_on_remove(self._accounting.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> StateType:
        """The figure now."""
        return self.entity_description.value_fn(self._accounting)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the figure is made of, where that needs saying."""
        attributes_fn = self.entity_description.attributes_fn
        return None if attributes_fn is None else attributes_fn(self._accounting)
