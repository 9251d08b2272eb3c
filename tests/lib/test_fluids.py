"""Fluid properties against published values.

Water references:
* IAPWS-95 at 0.101325 MPa, as tabulated by the NIST Chemistry WebBook ("Thermophysical
  Properties of Fluid Systems", water, isobaric data at 0.101325 MPa): e.g. 20 °C: 998.21 kg/m³,
  4.1841 kJ/(kg·K); 60 °C: 983.20 kg/m³, 4.1850 kJ/(kg·K). The off-grid values below
  (2, 3.98, 12.5, 37, 62.5, 88 °C) are IAPWS-95 evaluated at those temperatures.
* CRC Handbook of Chemistry and Physics (97th ed., 2016), "Properties of water in the range
  0-100 °C": 20 °C density 0.99821 g/cm³, specific heat 4.1818 J/(g·K) (the familiar
  "4.182 kJ/(kg·K)"). That older table differs from IAPWS-95 by about 0.05 % in c_p.
Propylene glycol: Melinder (2010), IIR, monopropylene glycol by mass, via CoolProp 8.0
INCOMP::MPG, at tabulated and off-grid temperatures.
"""

import math

import pytest

from custom_components.microdc.lib.heat import (
    Fluid,
    FluidRangeError,
    HeatDomainError,
    density,
    specific_heat,
    temperature_range,
)


@pytest.mark.parametrize(
    ("temperature_c", "rho", "cp"),
    [
        (0.0, 999.84, 4219.4),
        (20.0, 998.21, 4184.1),
        (40.0, 992.22, 4179.4),
        (60.0, 983.20, 4185.0),
        (80.0, 971.79, 4196.8),
        # Between tabulated points (interpolated): IAPWS-95 at these temperatures.
        (2.0, 999.943, 4213.02),
        (3.98, 999.975, 4207.55),
        (12.5, 999.442, 4191.48),
        (37.0, 993.330, 4179.24),
        (62.5, 981.891, 4186.09),
        (88.0, 966.645, 4203.36),
    ],
)
def test_water_matches_iapws95(temperature_c: float, rho: float, cp: float) -> None:
    # 0.003 % in density and 0.02 % in c_p: far below any flow meter's uncertainty.
    assert density(Fluid.WATER, temperature_c) == pytest.approx(rho, rel=3e-5)
    assert specific_heat(Fluid.WATER, temperature_c) == pytest.approx(cp, rel=2e-4)


def test_water_at_20_c_matches_crc_handbook() -> None:
    assert density(Fluid.WATER, 20.0) == pytest.approx(998.21, abs=0.01)
    assert specific_heat(Fluid.WATER, 20.0) == pytest.approx(4181.8, rel=1e-3)


def test_water_density_keeps_its_maximum_near_4_c() -> None:
    # Kell (1975) / IAPWS-95: maximum 999.975 kg/m³ at 3.98 °C. A cubic that overshoots would
    # put a spurious maximum above it between the table's points.
    samples = [density(Fluid.WATER, t / 100) for t in range(1001)]
    peak = max(samples)
    assert peak == pytest.approx(999.975, abs=0.005)
    assert 3.0 <= samples.index(peak) / 100 <= 5.0


@pytest.mark.parametrize(
    ("fluid", "temperature_c", "rho", "cp"),
    [
        (Fluid.PROPYLENE_GLYCOL_20, -5.0, 1020.8, 3926.1),
        (Fluid.PROPYLENE_GLYCOL_20, -3.0, 1020.56, 3930.02),
        (Fluid.PROPYLENE_GLYCOL_20, 37.0, 1007.80, 4012.66),
        (Fluid.PROPYLENE_GLYCOL_20, 88.0, 977.92, 4117.00),
        (Fluid.PROPYLENE_GLYCOL_30, 12.5, 1027.04, 3836.70),
        (Fluid.PROPYLENE_GLYCOL_30, 20.0, 1023.8, 3857.0),
        (Fluid.PROPYLENE_GLYCOL_30, 62.5, 999.51, 3968.70),
        (Fluid.PROPYLENE_GLYCOL_40, -20.0, 1049.7, 3575.4),
        (Fluid.PROPYLENE_GLYCOL_40, -3.0, 1043.64, 3631.70),
        (Fluid.PROPYLENE_GLYCOL_40, 37.0, 1022.00, 3761.28),
        (Fluid.PROPYLENE_GLYCOL_40, 88.0, 985.64, 3920.29),
    ],
)
def test_propylene_glycol_matches_melinder(
    fluid: Fluid, temperature_c: float, rho: float, cp: float
) -> None:
    assert density(fluid, temperature_c) == pytest.approx(rho, rel=1e-4)
    assert specific_heat(fluid, temperature_c) == pytest.approx(cp, rel=1e-4)


def test_more_glycol_is_denser_and_holds_less_heat() -> None:
    # The physics every table of aqueous glycol shows: at equal temperature, density rises and
    # specific heat falls with the glycol fraction.
    order = [
        Fluid.WATER,
        Fluid.PROPYLENE_GLYCOL_20,
        Fluid.PROPYLENE_GLYCOL_30,
        Fluid.PROPYLENE_GLYCOL_40,
    ]
    for t in (0.0, 25.0, 50.0, 90.0):
        rhos = [density(f, t) for f in order]
        cps = [specific_heat(f, t) for f in order]
        assert rhos == sorted(rhos)
        assert cps == sorted(cps, reverse=True)


@pytest.mark.parametrize(
    ("fluid", "low", "high"),
    [
        (Fluid.WATER, 0.0, 95.0),
        (Fluid.PROPYLENE_GLYCOL_20, -5.0, 95.0),
        (Fluid.PROPYLENE_GLYCOL_30, -10.0, 95.0),
        (Fluid.PROPYLENE_GLYCOL_40, -20.0, 95.0),
    ],
)
def test_outside_the_table_is_an_error(fluid: Fluid, low: float, high: float) -> None:
    assert temperature_range(fluid) == (low, high)
    density(fluid, low)
    specific_heat(fluid, high)
    for t in (low - 0.01, high + 0.01, math.nan, math.inf):
        with pytest.raises(FluidRangeError, match=fluid.value if math.isfinite(t) else "finite"):
            density(fluid, t)
        with pytest.raises(FluidRangeError):
            specific_heat(fluid, t)


def test_unknown_fluid_is_an_error() -> None:
    with pytest.raises(HeatDomainError, match="unknown fluid 'brine'"):
        density("brine", 20.0)  # type: ignore[arg-type]
