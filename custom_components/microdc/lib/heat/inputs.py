"""Which points of a device measure heat or the rack's electricity: found by role (pure).

A device of any protocol offers its points with roles (lib/points.py); heat accounting asks here
which of them make a loop meter (flow and temperatures, or the meter's own power and energy) or
an IT meter (a PDU's power and energy), and turns their values into watts and counter counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
import logging
from typing import Any

from ..points import Point, Role
from .counter import CounterSpec
from .energy_points import counter_raw, counter_spec, number, power_w
from .fluids import Fluid
from .power import FlowUnit, thermal_power

_LOGGER = logging.getLogger(__name__)

type ValueOf = Callable[[str], Any]
"""A point's latest value by its key (None: no reading)."""

_FLOW_UNITS = frozenset(unit.value for unit in FlowUnit)


def _by_role(points: Iterable[Point]) -> dict[Role, Point]:
    return {point.role: point for point in points if point.role is not None}


@dataclass(frozen=True, slots=True)
class LoopPoints:
    """The points of one device that measure a circuit of the loop."""

    flow: Point | None
    supply: Point | None
    ret: Point | None
    power: Point | None
    energy: Point | None

    @classmethod
    def find(cls, points: Iterable[Point]) -> LoopPoints | None:
        """The device's loop points, or None if it cannot measure heat.

        An energy point that is no counter, or a flow in a unit microdc does not know, is left
        out (the flow logged): the rest may still measure heat.
        """
        roles = _by_role(points)
        flow, energy = roles.get(Role.LOOP_FLOW), roles.get(Role.HEAT_METER_ENERGY)
        if energy is not None and counter_spec(energy) is None:
            _LOGGER.warning("%s is no counter microdc can read (unit %s)", energy.key, energy.unit)
            energy = None
        if flow is not None and flow.unit not in _FLOW_UNITS:
            _LOGGER.warning("%s: flow unit %s is not one microdc knows", flow.key, flow.unit)
            flow = None
        found = cls(
            flow,
            roles.get(Role.LOOP_SUPPLY_TEMPERATURE),
            roles.get(Role.LOOP_RETURN_TEMPERATURE),
            roles.get(Role.HEAT_METER_POWER),
            energy,
        )
        computable = None not in (found.flow, found.supply, found.ret)
        return found if computable or found.power or found.energy else None

    @property
    def counter(self) -> CounterSpec | None:
        """The meter's energy counter, bounded by its power point."""
        return None if self.energy is None else counter_spec(self.energy, self.power)

    def reading(self, value: ValueOf, fluid: Fluid) -> tuple[float | None, float | None]:
        """(thermal power in W, raw energy counter) now; None where unknown.

        Power from flow and temperatures where they are read, else the meter's own power.
        """
        power = None
        if self.flow is not None and self.supply is not None and self.ret is not None:
            flow = number(value(self.flow.key))
            supply = number(value(self.supply.key))
            ret = number(value(self.ret.key))
            if flow is not None and supply is not None and ret is not None:
                power = thermal_power(flow, FlowUnit(str(self.flow.unit)), supply, ret, fluid=fluid)
        if power is None and self.power is not None:
            power = power_w(self.power, value(self.power.key))
        counter = None if self.energy is None else counter_raw(self.energy, value(self.energy.key))
        return power, counter


@dataclass(frozen=True, slots=True)
class ItPoints:
    """The points of a device that measure the rack's electricity (one PDU of its feeds)."""

    power: Point | None
    energy: Point | None

    @classmethod
    def find(cls, points: Iterable[Point]) -> ItPoints | None:
        """The device's IT power and energy points, or None if it measures neither."""
        roles = _by_role(points)
        energy = roles.get(Role.IT_ENERGY)
        if energy is not None and counter_spec(energy) is None:
            energy = None
        power = roles.get(Role.IT_POWER)
        return cls(power, energy) if power or energy else None

    @property
    def counter(self) -> CounterSpec | None:
        """The PDU's energy counter, bounded by its power point."""
        return None if self.energy is None else counter_spec(self.energy, self.power)

    def reading(self, value: ValueOf) -> tuple[float | None, float | None]:
        """(IT power in W, raw energy counter) now; None where unknown."""
        power = None if self.power is None else power_w(self.power, value(self.power.key))
        counter = None if self.energy is None else counter_raw(self.energy, value(self.energy.key))
        return power, counter
