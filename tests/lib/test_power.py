"""Thermal power from flow and temperatures, with explicit units."""

import math

import pytest

from custom_components.microdc.lib.heat import (
    FlowUnit,
    Fluid,
    FluidRangeError,
    HeatDomainError,
    MeterLocation,
    density,
    flow_to_m3_per_s,
    specific_heat,
    thermal_power,
)


def test_worked_example_water_45_35() -> None:
    # 1 m³/h of water, 45 °C out, 35 °C back, flow meter in the return:
    # ρ(35 °C) = 994.03 kg/m³ and c_p(40 °C) = 4179.4 J/(kg·K) (IAPWS-95), so
    # P = 1/3600 m³/s · 994.03 · 4179.4 · 10 K = 11 540.1 W.
    power = thermal_power(1.0, FlowUnit.CUBIC_METERS_PER_HOUR, 45.0, 35.0, fluid=Fluid.WATER)
    assert power == pytest.approx(1 / 3600 * 994.03 * 4179.4 * 10, rel=1e-9)
    assert power == pytest.approx(11540.1, abs=0.1)


def test_flow_units_agree() -> None:
    in_m3h = thermal_power(1.8, FlowUnit.CUBIC_METERS_PER_HOUR, 40, 30, fluid=Fluid.WATER)
    in_lmin = thermal_power(30.0, FlowUnit.LITERS_PER_MINUTE, 40, 30, fluid=Fluid.WATER)
    in_ls = thermal_power(0.5, FlowUnit.LITERS_PER_SECOND, 40, 30, fluid=Fluid.WATER)
    assert in_m3h == pytest.approx(in_lmin, rel=1e-12)
    assert in_m3h == pytest.approx(in_ls, rel=1e-12)
    assert flow_to_m3_per_s(3.6, FlowUnit.CUBIC_METERS_PER_HOUR) == pytest.approx(1e-3)
    assert FlowUnit("L/min") is FlowUnit.LITERS_PER_MINUTE


def test_density_is_taken_where_the_flow_is_measured() -> None:
    at_return = thermal_power(2.0, FlowUnit.CUBIC_METERS_PER_HOUR, 70, 50, fluid=Fluid.WATER)
    at_supply = thermal_power(
        2.0,
        FlowUnit.CUBIC_METERS_PER_HOUR,
        70,
        50,
        fluid=Fluid.WATER,
        meter_location=MeterLocation.SUPPLY,
    )
    # Same volume flow measured in the hotter pipe is less mass: ρ(70)/ρ(50) = 977.76/988.04.
    assert at_supply / at_return == pytest.approx(977.76 / 988.04, rel=1e-9)


def test_specific_heat_at_the_mean_temperature() -> None:
    power = thermal_power(1.0, FlowUnit.LITERS_PER_SECOND, 20, 10, fluid=Fluid.PROPYLENE_GLYCOL_30)
    rho = density(Fluid.PROPYLENE_GLYCOL_30, 10)
    cp = specific_heat(Fluid.PROPYLENE_GLYCOL_30, 15)
    assert power == pytest.approx(1e-3 * rho * cp * 10, rel=1e-12)
    # And glycol carries less heat than water for the same flow and temperatures.
    assert power < thermal_power(1.0, FlowUnit.LITERS_PER_SECOND, 20, 10, fluid=Fluid.WATER)


def test_reverse_difference_is_negative_and_no_flow_is_zero() -> None:
    assert thermal_power(1.0, FlowUnit.CUBIC_METERS_PER_HOUR, 30, 30.5, fluid=Fluid.WATER) < 0
    assert thermal_power(0.0, FlowUnit.CUBIC_METERS_PER_HOUR, 45, 35, fluid=Fluid.WATER) == 0


@pytest.mark.parametrize("flow", [-0.1, math.nan, math.inf])
def test_bad_flow_is_an_error(flow: float) -> None:
    with pytest.raises(HeatDomainError, match="flow must be"):
        thermal_power(flow, FlowUnit.CUBIC_METERS_PER_HOUR, 45, 35, fluid=Fluid.WATER)


def test_each_temperature_must_be_in_the_table() -> None:
    # The mean (92.5 °C) and the return are in range; the supply (96 °C) is not.
    with pytest.raises(FluidRangeError, match="96"):
        thermal_power(
            1.0,
            FlowUnit.CUBIC_METERS_PER_HOUR,
            96,
            89,
            fluid=Fluid.WATER,
            meter_location=MeterLocation.RETURN,
        )


def test_unknown_unit_is_an_error() -> None:
    with pytest.raises(HeatDomainError, match="unknown flow unit 'gpm'"):
        thermal_power(1.0, "gpm", 45, 35, fluid=Fluid.WATER)  # type: ignore[arg-type]
