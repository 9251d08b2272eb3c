"""The BACnet engineering-units table agrees with Home Assistant's units and device classes."""

from __future__ import annotations

from bacpypes3.basetypes import EngineeringUnits  # type: ignore[import-untyped]
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
import pytest

from custom_components.microdc.lib.protocols.bacnet_units import (
    BACNET_UNITS,
    UnitMapping,
    unit_mapping,
)


@pytest.mark.parametrize("bacnet_unit", sorted(BACNET_UNITS))
def test_every_entry_is_valid_on_both_sides(bacnet_unit: str) -> None:
    # The key is a real BACnet unit name ...
    EngineeringUnits(bacnet_unit)
    # ... and Home Assistant accepts the unit for the device class.
    mapping = BACNET_UNITS[bacnet_unit]
    if mapping.device_class is not None:
        assert mapping.unit in DEVICE_CLASS_UNITS[SensorDeviceClass(mapping.device_class)]


@pytest.mark.parametrize(
    "device_class",
    ["temperature", "volume_flow_rate", "power", "energy", "pressure", "humidity"],
)
def test_a_hydronic_plant_is_covered(device_class: str) -> None:
    assert any(m.device_class == device_class for m in BACNET_UNITS.values())


def test_lookups() -> None:
    assert unit_mapping("degrees-celsius") == UnitMapping("°C", "temperature")
    assert unit_mapping("cubic-meters-per-hour") == UnitMapping("m³/h", "volume_flow_rate")
    assert unit_mapping("percent") == UnitMapping("%", None)  # valve positions: no class
    assert unit_mapping("percent-relative-humidity") == UnitMapping("%", "humidity")
    assert unit_mapping("square-meters") == UnitMapping("square-meters", None)  # not in table
    assert unit_mapping(None) == UnitMapping(None, None)
