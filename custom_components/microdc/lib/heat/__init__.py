"""microdc's heat domain: fluid properties, thermal power, the heat ledger and its figures.

Pure Python: no Home Assistant, no I/O. Everything the integration needs is imported from here.
"""

from .attribution import REJECT, shares_by_valves, split_by_valves
from .channel import EnergyChannel, EnergySource, Interval
from .counter import CounterEvent, CounterSpec, CounterStep, EnergyCounter
from .errors import FluidRangeError, HeatDomainError, LedgerStateError
from .figures import (
    DisplacedHeating,
    HeatingKind,
    PeriodStart,
    energy_reuse_factor,
    recovery_ratio,
)
from .fluids import Fluid, check_temperature, density, specific_heat, temperature_range
from .ledger import Circuit, CircuitReading, HeatLedger, LedgerTotals
from .power import FlowUnit, MeterLocation, flow_to_m3_per_s, thermal_power

__all__ = [
    "REJECT",
    "Circuit",
    "CircuitReading",
    "CounterEvent",
    "CounterSpec",
    "CounterStep",
    "DisplacedHeating",
    "EnergyChannel",
    "EnergyCounter",
    "EnergySource",
    "FlowUnit",
    "Fluid",
    "FluidRangeError",
    "HeatDomainError",
    "HeatLedger",
    "HeatingKind",
    "Interval",
    "LedgerStateError",
    "LedgerTotals",
    "MeterLocation",
    "PeriodStart",
    "check_temperature",
    "density",
    "energy_reuse_factor",
    "flow_to_m3_per_s",
    "recovery_ratio",
    "shares_by_valves",
    "specific_heat",
    "split_by_valves",
    "temperature_range",
    "thermal_power",
]
