"""A chosen BACnet object as a point: what it shows, from its type and units."""

from __future__ import annotations

import pytest

from custom_components.microdc.lib.devices.bacnet import object_point
from custom_components.microdc.lib.devices.bacnet_config import ROLE_KINDS, BacnetObjectConfig
from custom_components.microdc.lib.heat.channel import EnergyChannel, EnergySource
from custom_components.microdc.lib.heat.counter import CounterEvent
from custom_components.microdc.lib.heat.energy_points import counter_spec
from custom_components.microdc.lib.heat.fluids import Fluid
from custom_components.microdc.lib.heat.inputs import LoopPoints
from custom_components.microdc.lib.points import Role
from custom_components.microdc.lib.protocols.bacnet import ObjectId


def _object(kind: str, units: str | None) -> BacnetObjectConfig:
    return BacnetObjectConfig(object_id=ObjectId(kind, 1), name="X", units=units)


@pytest.mark.parametrize(
    ("units", "precision"),
    [
        ("degrees-celsius", 1),
        ("cubic-meters-per-hour", 2),  # 1.4 m³/h reads 1.40, not "1"
        ("percent", 0),
        ("kilowatts", 2),
        ("no-units", None),
        ("furlongs-per-fortnight", None),  # a unit microdc does not know: Home Assistant's default
    ],
)
def test_analog_values_show_decimals_their_unit_deserves(units: str, precision: int | None) -> None:
    assert object_point(_object("analog-input", units)).precision == precision


def test_binary_and_multi_state_objects_have_no_precision() -> None:
    assert object_point(_object("binary-input", None)).precision is None
    assert object_point(_object("multi-state-value", None)).precision is None


@pytest.mark.parametrize("role", list(ROLE_KINDS))
def test_every_role_the_flow_offers_is_read_back_as_that_role(role: Role) -> None:
    # The flow stores a role's value in the subentry; the point built from it must carry the
    # Role again, not None.
    stored = BacnetObjectConfig(object_id=ObjectId("analog-value", 1), name="X", role=role.value)
    assert object_point(stored).role is role


def _meter(units: str, role: str) -> BacnetObjectConfig:
    return BacnetObjectConfig(ObjectId("analog-input", 2), "EM-ENERGY", units=units, role=role)


def _power(max_value: float | None = None) -> BacnetObjectConfig:
    return BacnetObjectConfig(
        ObjectId("analog-input", 1),
        "EM-POWER",
        units="kilowatts",
        role="heat_meter_power",
        max_value=max_value,
    )


@pytest.mark.parametrize(
    ("units", "wh_per_count"),
    [
        ("watt-hours", 1.0),
        ("kilowatt-hours", 1000.0),
        ("megawatt-hours", 1_000_000.0),
        ("joules", 1 / 3600),
        ("kilojoules", 1000 / 3600),
        ("megajoules", 1_000_000 / 3600),
    ],
)
def test_a_bacnet_heat_meters_energy_is_a_counter_in_its_engineering_units(
    units: str, wh_per_count: float
) -> None:
    """A heat meter's energy object counts in its unit, is a REAL that never wraps, and makes
    the device a loop meter whose counter the power object bounds."""
    energy = object_point(_meter(units, "heat_meter_energy"))
    assert energy.role is Role.HEAT_METER_ENERGY
    assert energy.state_class == "total_increasing"
    power = object_point(_power(max_value=50.0))
    spec = counter_spec(energy, power)
    assert spec is not None
    assert spec.wh_per_count == pytest.approx(wh_per_count)
    # A float never wraps; the power object's maximum (50 kW) bounds the counter's rise.
    assert (spec.bits, spec.max_power_w) == (None, 50_000.0)
    found = LoopPoints.find([energy, power])
    assert found is not None
    assert found.counter == spec
    # The reading is the count: 1250.5 units is 1250.5 counts, fractions kept.
    assert found.reading(lambda key: 1250.5, Fluid.WATER)[1] == 1250.5


def test_an_energy_object_in_a_unit_microdc_cannot_count_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    energy = object_point(_meter("kilo-btus", "heat_meter_energy"))
    power = object_point(_power())
    found = LoopPoints.find([energy, power])
    assert found is not None
    assert found.energy is None
    assert "no counter microdc can read (unit kilo-btus)" in caplog.text


def test_a_bacnet_meters_counter_follows_the_one_counter_rule() -> None:
    """A REAL in kWh: its rises are energy, a jump its power cannot explain (a swapped meter)
    and a fall (a reset: a float does not wrap) are set aside and counted from power."""
    energy = object_point(_meter("kilowatt-hours", "heat_meter_energy"))
    found = LoopPoints.find([energy, object_point(_power())])
    assert found is not None
    assert found.counter is not None
    channel = EnergyChannel(max_gap_s=300, counter=found.counter)
    power_w = 3600.0  # 10 Wh per 10 s
    readings = [1250.0, 1250.01, 1251.5, 0.02, 0.03]  # kWh: step, jump, reset, step
    intervals = []
    for i, kwh in enumerate(readings):
        counter = found.reading({energy.key: kwh}.get, Fluid.WATER)[1]
        intervals.append(channel.advance(10.0 * i, power_w, counter))
    events = [i.counter_event for i in intervals]
    assert events == [
        CounterEvent.FIRST,
        CounterEvent.STEP,
        CounterEvent.REPLACED,
        CounterEvent.REPLACED,
        CounterEvent.STEP,
    ]
    assert [i.source for i in intervals[1:]] == [
        EnergySource.COUNTER,
        EnergySource.POWER,
        EnergySource.POWER,
        EnergySource.COUNTER,
    ]
    assert channel.total_wh == pytest.approx(40.0)
    assert channel.set_aside_wh == pytest.approx(1490.0)
    assert channel.wraps == 0
