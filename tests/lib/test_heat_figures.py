"""Valve shares, ERF, recovery ratio, avoided cost and emissions."""

import math

import pytest

from custom_components.microdc.lib.heat import (
    REJECT,
    DisplacedHeating,
    HeatDomainError,
    HeatingKind,
    PeriodStart,
    energy_reuse_factor,
    recovery_ratio,
    shares_by_valves,
    split_by_valves,
)


def test_power_is_split_in_proportion_to_valve_opening() -> None:
    split = split_by_valves(9_000.0, {"stockroom": 100.0, "tenant_a": 50.0, "shared_loop": 0.0})
    assert split == pytest.approx(
        {"stockroom": 6_000.0, "tenant_a": 3_000.0, "shared_loop": 0.0, REJECT: 0.0}
    )


def test_all_valves_closed_sends_everything_to_reject() -> None:
    assert split_by_valves(5_000.0, {"stockroom": 0.0, "tenant_a": 0.0}) == {
        "stockroom": 0.0,
        "tenant_a": 0.0,
        REJECT: 5_000.0,
    }
    assert shares_by_valves({}) == {REJECT: 1.0}


def test_a_reject_valve_takes_its_share_like_any_other() -> None:
    assert shares_by_valves({"stockroom": 25.0, REJECT: 75.0}) == {"stockroom": 0.25, REJECT: 0.75}


@pytest.mark.parametrize("opening", [-1.0, 100.5, math.nan])
def test_a_bad_valve_opening_is_an_error(opening: float) -> None:
    with pytest.raises(HeatDomainError, match="'tenant_a'"):
        shares_by_valves({"stockroom": 50.0, "tenant_a": opening})


def test_energy_reuse_factor() -> None:
    # ISO/IEC 30134-6: ERF = E_reuse / E_DC. 300 kWh reused of 1000 kWh used: 0.3.
    assert energy_reuse_factor(300_000.0, 1_000_000.0) == pytest.approx(0.3)
    assert energy_reuse_factor(0.0, 0.0) is None
    with pytest.raises(HeatDomainError):
        energy_reuse_factor(-1.0, 10.0)


def test_energy_reuse_factor_for_a_period() -> None:
    start = PeriodStart(period="2026-11-27", reused_wh=50_000.0, data_centre_wh=200_000.0)
    # Lifetime 0.5 / 0.6 ... today: (80 - 50) / (260 - 200) = 0.5.
    assert start.energy_reuse_factor(80_000.0, 260_000.0) == pytest.approx(0.5)
    assert start.energy_reuse_factor(50_000.0, 200_000.0) is None


def test_recovery_ratio_now() -> None:
    assert recovery_ratio(6_000.0, 8_000.0) == pytest.approx(0.75)
    assert recovery_ratio(-50.0, 8_000.0) == 0.0
    assert recovery_ratio(100.0, 0.0) is None


def test_avoided_cost_and_emissions_of_a_gas_boiler() -> None:
    # 90 kWh of heat from a 90 % boiler is 100 kWh of gas: at 0.10 per kWh that is 10.00, and at
    # 0.183 kg CO₂e per kWh of gas (a typical natural-gas factor) 18.3 kg.
    boiler = DisplacedHeating(HeatingKind.GAS_BOILER, 0.9, 0.10, 0.183)
    assert boiler.input_energy_kwh(90.0) == pytest.approx(100.0)
    assert boiler.avoided_cost(90.0) == pytest.approx(10.0)
    assert boiler.avoided_emissions_kg(90.0) == pytest.approx(18.3)


def test_avoided_cost_of_a_heat_pump_and_of_direct_electric() -> None:
    heat_pump = DisplacedHeating(HeatingKind.HEAT_PUMP, 3.5, 0.30, 0.2)
    assert heat_pump.avoided_cost(350.0) == pytest.approx(30.0)  # 100 kWh of electricity
    assert heat_pump.avoided_emissions_kg(350.0) == pytest.approx(20.0)
    electric = DisplacedHeating(HeatingKind.DIRECT_ELECTRIC, 1.0, 0.30, 0.2)
    assert electric.avoided_cost(350.0) == pytest.approx(105.0)
    oil = DisplacedHeating(HeatingKind.OIL_BOILER, 0.85, 0.12, 0.268)
    assert oil.avoided_cost(85.0) == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("kind", "efficiency", "tariff", "factor", "match"),
    [
        (HeatingKind.GAS_BOILER, 0.0, 0.1, 0.2, "boiler"),
        (HeatingKind.OIL_BOILER, 1.5, 0.1, 0.2, "boiler"),
        (HeatingKind.HEAT_PUMP, 0.8, 0.1, 0.2, "COP"),
        (HeatingKind.HEAT_PUMP, 12.0, 0.1, 0.2, "COP"),
        (HeatingKind.DIRECT_ELECTRIC, 0.95, 0.1, 0.2, "efficiency 1"),
        (HeatingKind.GAS_BOILER, 0.9, -0.1, 0.2, "tariff"),
        (HeatingKind.GAS_BOILER, 0.9, 0.1, math.nan, "emission_factor"),
    ],
)
def test_bad_displaced_heating_is_refused(
    kind: HeatingKind, efficiency: float, tariff: float, factor: float, match: str
) -> None:
    with pytest.raises(HeatDomainError, match=match):
        DisplacedHeating(kind, efficiency, tariff, factor)


def test_negative_heat_is_refused() -> None:
    boiler = DisplacedHeating(HeatingKind.GAS_BOILER, 0.9, 0.10, 0.183)
    with pytest.raises(HeatDomainError, match="heat_kwh"):
        boiler.avoided_cost(-1.0)
