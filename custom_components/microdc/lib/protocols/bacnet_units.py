"""BACnet engineering units (ASHRAE 135, BACnetEngineeringUnits) as Home Assistant shows them.

Pure data: each BACnet unit name (as bacpypes3 spells it) maps to the Home Assistant unit string
and the sensor device class that unit implies. The strings are Home Assistant's own unit
constants (homeassistant.const UnitOf...) and device class values (SensorDeviceClass), written
out here because this package imports nothing from Home Assistant; a test checks them against
Home Assistant's constants.

Units missing here are still shown: the glue uses the BACnet name as the unit and no device class.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UnitMapping:
    """How one BACnet unit appears in Home Assistant."""

    unit: str | None  # a Home Assistant unit string; None for a dimensionless value
    device_class: str | None  # a SensorDeviceClass value; None when no class fits


def _map(unit: str | None, device_class: str | None) -> UnitMapping:
    return UnitMapping(unit, device_class)


BACNET_UNITS: dict[str, UnitMapping] = {
    # temperature
    "degrees-celsius": _map("°C", "temperature"),
    "degrees-fahrenheit": _map("°F", "temperature"),
    "degrees-kelvin": _map("K", "temperature"),
    # volume flow (hydronic loops)
    "cubic-meters-per-hour": _map("m³/h", "volume_flow_rate"),
    "cubic-meters-per-minute": _map("m³/min", "volume_flow_rate"),
    "cubic-meters-per-second": _map("m³/s", "volume_flow_rate"),
    "liters-per-hour": _map("L/h", "volume_flow_rate"),
    "liters-per-minute": _map("L/min", "volume_flow_rate"),
    "liters-per-second": _map("L/s", "volume_flow_rate"),
    "us-gallons-per-minute": _map("gal/min", "volume_flow_rate"),
    "us-gallons-per-hour": _map("gal/h", "volume_flow_rate"),
    "cubic-feet-per-minute": _map("ft³/min", "volume_flow_rate"),
    # power (electrical or thermal)
    "milliwatts": _map("mW", "power"),
    "watts": _map("W", "power"),
    "kilowatts": _map("kW", "power"),
    "megawatts": _map("MW", "power"),
    "btus-per-hour": _map("BTU/h", None),  # Home Assistant's power class has no BTU/h
    # energy (meters)
    "watt-hours": _map("Wh", "energy"),
    "kilowatt-hours": _map("kWh", "energy"),
    "megawatt-hours": _map("MWh", "energy"),
    "joules": _map("J", "energy"),
    "kilojoules": _map("kJ", "energy"),
    "megajoules": _map("MJ", "energy"),
    # pressure (loop differential pressure, static pressure)
    "pascals": _map("Pa", "pressure"),
    "hectopascals": _map("hPa", "pressure"),
    "kilopascals": _map("kPa", "pressure"),
    "bars": _map("bar", "pressure"),
    "millibars": _map("mbar", "pressure"),
    "pounds-force-per-square-inch": _map("psi", "pressure"),
    "inches-of-water": _map("inH₂O", "pressure"),
    "inches-of-mercury": _map("inHg", "pressure"),
    "millimeters-of-mercury": _map("mmHg", "pressure"),
    # percent: valve and damper positions have no device class; humidity has its own
    "percent": _map("%", None),
    "percent-relative-humidity": _map("%", "humidity"),
    # electrical
    "volts": _map("V", "voltage"),
    "kilovolts": _map("kV", "voltage"),
    "millivolts": _map("mV", "voltage"),
    "amperes": _map("A", "current"),
    "milliamperes": _map("mA", "current"),
    "hertz": _map("Hz", "frequency"),
    # time
    "seconds": _map("s", "duration"),
    "minutes": _map("min", "duration"),
    "hours": _map("h", "duration"),
    # dimensionless
    "no-units": _map(None, None),
}


def unit_mapping(bacnet_units: str | None) -> UnitMapping:
    """The Home Assistant view of a BACnet unit; unknown units keep their BACnet name."""
    if bacnet_units is None:
        return UnitMapping(None, None)
    return BACNET_UNITS.get(bacnet_units, UnitMapping(bacnet_units, None))
