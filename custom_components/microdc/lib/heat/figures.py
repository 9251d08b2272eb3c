"""The figures a facility manager reads: ERF, recovery ratio, avoided cost and emissions.

* Energy Reuse Factor (ISO/IEC 30134-6:2021, EN 50600-4-6): ERF = E_reuse / E_DC, where E_reuse
  is the energy reused outside the data centre and E_DC the data centre's total energy use over
  the same period. microdc uses the heat delivered to destinations other than reject as E_reuse
  and the energy the site meters for the data centre (normally the rack's IT energy) as E_DC.
  ERF is a fraction (0..1 in practice); multiply by 100 for %. It is not clamped: a value above 1
  means the meters disagree, and hiding that would hide a fault.
* Recovery ratio now: reused thermal power / IT electrical power at this instant.
* Avoided heating cost and emissions: the reused heat would otherwise have come from the
  displaced heating, which would have consumed heat / efficiency of fuel or electricity (heat /
  seasonal COP for a heat pump, heat / 1 for direct electric heating). That input energy times
  the tariff is the avoided cost, times the emission factor the avoided emissions. The tariff
  and the emission factor are per kWh of that input (gas, oil or electricity), not per kWh of
  heat. The cost of running microdc's own pumps is not subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math

from .errors import HeatDomainError


class HeatingKind(StrEnum):
    """The heating that recovered heat displaces."""

    GAS_BOILER = "gas_boiler"
    OIL_BOILER = "oil_boiler"
    HEAT_PUMP = "heat_pump"
    DIRECT_ELECTRIC = "direct_electric"


# Boiler efficiencies above 1 are allowed up to this value: condensing boilers rated on the net
# calorific value reach about 1.09.
_MAX_BOILER_EFFICIENCY = 1.1
_MAX_SCOP = 10.0


@dataclass(frozen=True, slots=True)
class DisplacedHeating:
    """The displaced heating, its tariff and its emission factor.

    efficiency: seasonal efficiency of a boiler (0 < η <= 1.1), seasonal COP of a heat pump
        (1 <= SCOP <= 10), and exactly 1 for direct electric heating.
    tariff_per_kwh: price of one kWh of the heating's input (fuel or electricity), in the site's
        currency (>= 0).
    emission_factor_kg_per_kwh: kg CO₂e per kWh of that input (>= 0).
    """

    kind: HeatingKind
    efficiency: float
    tariff_per_kwh: float
    emission_factor_kg_per_kwh: float

    def __post_init__(self) -> None:
        kind = HeatingKind(self.kind)
        eff = self.efficiency
        if not math.isfinite(eff):
            raise HeatDomainError(f"efficiency must be a finite number, got {eff}")
        if kind in (HeatingKind.GAS_BOILER, HeatingKind.OIL_BOILER):
            if not 0 < eff <= _MAX_BOILER_EFFICIENCY:
                raise HeatDomainError(
                    f"a boiler's efficiency must be in (0, {_MAX_BOILER_EFFICIENCY}], got {eff}"
                )
        elif kind is HeatingKind.HEAT_PUMP:
            if not 1 <= eff <= _MAX_SCOP:
                raise HeatDomainError(
                    f"a heat pump's seasonal COP must be in [1, {_MAX_SCOP}], got {eff}"
                )
        elif eff != 1:
            raise HeatDomainError(f"direct electric heating has efficiency 1, got {eff}")
        for name, value in (
            ("tariff_per_kwh", self.tariff_per_kwh),
            ("emission_factor_kg_per_kwh", self.emission_factor_kg_per_kwh),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise HeatDomainError(f"{name} must be a finite number >= 0, got {value}")

    def input_energy_kwh(self, heat_kwh: float) -> float:
        """Fuel or electricity the displaced heating would have used to deliver heat_kwh."""
        return _non_negative("heat_kwh", heat_kwh) / self.efficiency

    def avoided_cost(self, heat_kwh: float) -> float:
        """Money not spent on the displaced heating, in the tariff's currency."""
        return self.input_energy_kwh(heat_kwh) * self.tariff_per_kwh

    def avoided_emissions_kg(self, heat_kwh: float) -> float:
        """kg CO₂e not emitted by the displaced heating."""
        return self.input_energy_kwh(heat_kwh) * self.emission_factor_kg_per_kwh


def energy_reuse_factor(reused_wh: float, data_centre_wh: float) -> float | None:
    """ERF as a fraction; None while the data centre has used no energy (ERF undefined)."""
    reused = _non_negative("reused energy", reused_wh)
    total = _non_negative("data centre energy", data_centre_wh)
    return None if total == 0 else reused / total


@dataclass(frozen=True, slots=True)
class PeriodStart:
    """The totals at the start of a period (a day), for figures over that period.

    Save it with the period's key (e.g. the local date) and restore it after a restart; take a
    new one when the key changes.
    """

    period: str
    reused_wh: float
    data_centre_wh: float

    def energy_reuse_factor(self, reused_wh: float, data_centre_wh: float) -> float | None:
        """ERF over the period, from the totals now."""
        return energy_reuse_factor(
            max(reused_wh - self.reused_wh, 0.0), max(data_centre_wh - self.data_centre_wh, 0.0)
        )


def recovery_ratio(reused_power_w: float, it_power_w: float) -> float | None:
    """Reused thermal power / IT power now, as a fraction; None when the IT power is zero."""
    reused = max(_finite("reused power", reused_power_w), 0.0)
    it_power = _non_negative("IT power", it_power_w)
    return None if it_power == 0 else reused / it_power


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise HeatDomainError(f"{name} must be a finite number, got {value}")
    return value


def _non_negative(name: str, value: float) -> float:
    if not (math.isfinite(value) and value >= 0):
        raise HeatDomainError(f"{name} must be a finite number >= 0, got {value}")
    return value
