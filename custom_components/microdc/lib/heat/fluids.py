"""Density and specific heat of the loop fluids, as functions of temperature.

Sources (the tables below are values from these references, rounded as shown):

* Water: IAPWS-95 (IAPWS R6-95(2018), "Revised Release on the IAPWS Formulation 1995 for the
  Thermodynamic Properties of Ordinary Water Substance for General and Scientific Use"),
  evaluated at 0.101325 MPa, 0 to 95 °C in 5 K steps. Density to 0.01 kg/m³, specific heat
  to 0.1 J/(kg·K). These agree with the NIST Chemistry WebBook's saturated/isobaric water
  tables, which are computed from the same formulation.
* Propylene glycol (1,2-propanediol) and water: Å. Melinder, "Properties of Secondary Working
  Fluids for Indirect Systems", 2nd ed., International Institute of Refrigeration, Paris, 2010,
  chapter on monopropylene glycol (MPG), as fitted by CoolProp 8.0's incompressible-fluid
  model ``INCOMP::MPG`` (the fit reproduces Melinder's tables within their stated
  uncertainty). Concentrations are MASS fractions of glycol: 20, 30 and 40 %. Each table
  starts at the first 5 K step above the mixture's freezing point (about -7.2, -12.8 and
  -20.6 °C) and ends at 95 °C. A site filled "by volume" should convert: for propylene
  glycol, mass % is about 1 to 2 points above volume % at these strengths.

Between tabulated points the properties are interpolated with a monotone piecewise-cubic
Hermite interpolant (Fritsch and Carlson, SIAM J. Numer. Anal. 17 (1980) 238-246), which
passes through every tabulated value and never overshoots between them (water's density
maximum near 4 °C stays a maximum). Outside a table the functions raise FluidRangeError
rather than extrapolate: a reading outside it is a sensor fault or a loop that is not a
heat-recovery loop, and either way the figure would be a guess.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum
import math

from .errors import FluidRangeError, HeatDomainError


class Fluid(StrEnum):
    """The heat-transfer fluid a site's loop is filled with."""

    WATER = "water"
    PROPYLENE_GLYCOL_20 = "propylene_glycol_20"
    """20 % propylene glycol by mass, in water."""
    PROPYLENE_GLYCOL_30 = "propylene_glycol_30"
    """30 % propylene glycol by mass, in water."""
    PROPYLENE_GLYCOL_40 = "propylene_glycol_40"
    """40 % propylene glycol by mass, in water."""


@dataclass(frozen=True, slots=True)
class _Curve:
    """One property of one fluid against temperature, with its interpolation slopes."""

    temperatures_c: tuple[float, ...]
    values: tuple[float, ...]
    slopes: tuple[float, ...]

    @classmethod
    def from_table(cls, temperatures_c: tuple[float, ...], values: tuple[float, ...]) -> _Curve:
        return cls(temperatures_c, values, _monotone_slopes(temperatures_c, values))

    def at(self, temperature_c: float) -> float:
        xs, ys, ds = self.temperatures_c, self.values, self.slopes
        if temperature_c == xs[-1]:
            return ys[-1]
        k = bisect_right(xs, temperature_c) - 1
        h = xs[k + 1] - xs[k]
        t = (temperature_c - xs[k]) / h
        t2, t3 = t * t, t * t * t
        return (
            (2 * t3 - 3 * t2 + 1) * ys[k]
            + (t3 - 2 * t2 + t) * h * ds[k]
            + (-2 * t3 + 3 * t2) * ys[k + 1]
            + (t3 - t2) * h * ds[k + 1]
        )


def _monotone_slopes(xs: tuple[float, ...], ys: tuple[float, ...]) -> tuple[float, ...]:
    """Node slopes of the Fritsch-Carlson monotone cubic (harmonic-mean form, as in PCHIP)."""
    n = len(xs)
    h = [xs[k + 1] - xs[k] for k in range(n - 1)]
    delta = [(ys[k + 1] - ys[k]) / h[k] for k in range(n - 1)]
    d = [0.0] * n
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return tuple(d)


def _end_slope(h0: float, h1: float, delta0: float, delta1: float) -> float:
    """Three-point end slope, limited so that the end interval stays monotone."""
    d = ((2 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
    if math.copysign(1.0, d) != math.copysign(1.0, delta0):
        return 0.0
    if math.copysign(1.0, delta0) != math.copysign(1.0, delta1) and abs(d) > abs(3 * delta0):
        return 3 * delta0
    return d


def _steps(first: int, last: int) -> tuple[float, ...]:
    return tuple(float(t) for t in range(first, last + 1, 5))


# Water, IAPWS-95 at 0.101325 MPa, 0..95 °C.
_WATER_T = _steps(0, 95)
_WATER_RHO = (
    999.84, 999.97, 999.70, 999.10, 998.21, 997.05, 995.65, 994.03, 992.22, 990.21,
    988.04, 985.69, 983.20, 980.55, 977.76, 974.84, 971.79, 968.61, 965.31, 961.89,
)  # fmt: skip
_WATER_CP = (
    4219.4, 4205.0, 4195.2, 4188.5, 4184.1, 4181.3, 4179.8, 4179.3, 4179.4, 4180.1,
    4181.3, 4183.0, 4185.0, 4187.3, 4190.1, 4193.2, 4196.8, 4200.7, 4205.2, 4210.2,
)  # fmt: skip

# Propylene glycol 20 % by mass (Melinder 2010), -5..95 °C.
_PG20_T = _steps(-5, 95)
_PG20_RHO = (
    1020.8, 1020.1, 1019.1, 1017.9, 1016.4, 1014.8, 1012.9, 1010.9, 1008.7, 1006.4, 1003.9,
    1001.2, 998.5, 995.6, 992.6, 989.5, 986.4, 983.2, 979.9, 976.6, 973.2,
)  # fmt: skip
_PG20_CP = (
    3926.1, 3935.9, 3945.9, 3956.1, 3966.4, 3976.8, 3987.3, 3997.8, 4008.4, 4019.0, 4029.6,
    4040.2, 4050.7, 4061.2, 4071.5, 4081.7, 4091.8, 4101.6, 4111.3, 4120.8, 4130.0,
)  # fmt: skip

# Propylene glycol 30 % by mass (Melinder 2010), -10..95 °C.
_PG30_T = _steps(-10, 95)
_PG30_RHO = (
    1034.3, 1033.0, 1031.6, 1029.9, 1028.0, 1026.0, 1023.8, 1021.4, 1018.9, 1016.2, 1013.4,
    1010.5, 1007.5, 1004.4, 1001.2, 997.9, 994.5, 991.1, 987.6, 984.1, 980.5, 977.0,
)  # fmt: skip
_PG30_CP = (
    3775.3, 3789.0, 3802.6, 3816.3, 3829.9, 3843.5, 3857.0, 3870.5, 3883.9, 3897.2, 3910.4,
    3923.6, 3936.6, 3949.5, 3962.3, 3975.0, 3987.6, 4000.0, 4012.2, 4024.3, 4036.2, 4048.0,
)  # fmt: skip

# Propylene glycol 40 % by mass (Melinder 2010), -20..95 °C.
_PG40_T = _steps(-20, 95)
_PG40_RHO = (
    1049.7, 1048.1, 1046.4, 1044.5, 1042.4, 1040.1, 1037.6, 1035.0, 1032.3, 1029.4, 1026.4,
    1023.3, 1020.1, 1016.7, 1013.3, 1009.9, 1006.3, 1002.7, 999.1, 995.4, 991.6, 987.9,
    984.1, 980.4,
)  # fmt: skip
_PG40_CP = (
    3575.4, 3592.0, 3608.6, 3625.1, 3641.6, 3658.0, 3674.3, 3690.5, 3706.7, 3722.8, 3738.9,
    3754.9, 3770.8, 3786.7, 3802.5, 3818.2, 3833.9, 3849.5, 3865.0, 3880.4, 3895.8, 3911.1,
    3926.4, 3941.6,
)  # fmt: skip

_TABLES: dict[Fluid, tuple[_Curve, _Curve]] = {
    Fluid.WATER: (
        _Curve.from_table(_WATER_T, _WATER_RHO),
        _Curve.from_table(_WATER_T, _WATER_CP),
    ),
    Fluid.PROPYLENE_GLYCOL_20: (
        _Curve.from_table(_PG20_T, _PG20_RHO),
        _Curve.from_table(_PG20_T, _PG20_CP),
    ),
    Fluid.PROPYLENE_GLYCOL_30: (
        _Curve.from_table(_PG30_T, _PG30_RHO),
        _Curve.from_table(_PG30_T, _PG30_CP),
    ),
    Fluid.PROPYLENE_GLYCOL_40: (
        _Curve.from_table(_PG40_T, _PG40_RHO),
        _Curve.from_table(_PG40_T, _PG40_CP),
    ),
}


def temperature_range(fluid: Fluid) -> tuple[float, float]:
    """The lowest and highest temperature (°C) the fluid's table covers."""
    temperatures = _TABLES[Fluid(fluid)][0].temperatures_c
    return temperatures[0], temperatures[-1]


def density(fluid: Fluid, temperature_c: float) -> float:
    """Density of the fluid in kg/m³ at the given temperature (°C), at about 1 atm."""
    return _curves(fluid, temperature_c)[0].at(temperature_c)


def specific_heat(fluid: Fluid, temperature_c: float) -> float:
    """Isobaric specific heat capacity of the fluid in J/(kg·K) at the given temperature (°C)."""
    return _curves(fluid, temperature_c)[1].at(temperature_c)


def check_temperature(fluid: Fluid, temperature_c: float) -> None:
    """Raise FluidRangeError unless the fluid's table covers the temperature (°C)."""
    _curves(fluid, temperature_c)


def _curves(fluid: Fluid, temperature_c: float) -> tuple[_Curve, _Curve]:
    try:
        curves = _TABLES[Fluid(fluid)]
    except ValueError:
        known = ", ".join(f.value for f in Fluid)
        raise HeatDomainError(f"unknown fluid {fluid!r}; known fluids: {known}") from None
    if not math.isfinite(temperature_c):
        raise FluidRangeError(
            f"temperature of {fluid} must be a finite number, got {temperature_c}"
        )
    low, high = curves[0].temperatures_c[0], curves[0].temperatures_c[-1]
    if not low <= temperature_c <= high:
        raise FluidRangeError(
            f"{temperature_c} °C is outside the property table of {Fluid(fluid).value} "
            f"({low:g} to {high:g} °C)"
        )
    return curves
