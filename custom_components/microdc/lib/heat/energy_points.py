"""How a device's energy and power points become the heat domain's counters (pure: no I/O).

One place for the rule that both the devices' energy sensors and the site's heat accounting
follow: a counter wraps at its register's width, and its power point's valid maximum bounds how
fast it can credibly rise, so a jump beyond that is a swapped or reset meter, not energy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..points import Point, Role
from .counter import CounterSpec

# Heat meters count in Wh, kWh or MWh, or in joules (European meters often in MJ): the energy
# units a BACnet object's engineering units map to (lib/protocols/bacnet_units.py) and profiles
# use. 1 Wh = 3600 J.
WH_PER_UNIT = {
    "Wh": 1.0,
    "kWh": 1000.0,
    "MWh": 1_000_000.0,
    "J": 1 / 3600,
    "kJ": 1000 / 3600,
    "MJ": 1_000_000 / 3600,
}
W_PER_UNIT = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}
# Without a power point's maximum: far above any retail micro data centre's rack or loop, still
# far below a counter's jump to a replaced meter's reading.
DEFAULT_MAX_POWER_W = 1_000_000.0
# The power point that bounds each counter role.
_POWER_ROLE_OF_COUNTER = {
    Role.IT_ENERGY: Role.IT_POWER,
    Role.HEAT_METER_ENERGY: Role.HEAT_METER_POWER,
}


def number(value: Any) -> float | None:
    """A numeric reading as float (None for no reading, a bool or a state)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def power_w(point: Point | None, value: Any) -> float | None:
    """A power reading in W (None for a missing reading or an unknown unit)."""
    reading = number(value)
    if point is None or reading is None or point.unit not in W_PER_UNIT:
        return None
    return reading * W_PER_UNIT[point.unit]


def power_point_of(points: Iterable[Point], counter: Point) -> Point | None:
    """The point of the same device whose power flows through this counter."""
    role = _POWER_ROLE_OF_COUNTER.get(counter.role) if counter.role else None
    return next((p for p in points if role and p.role is role), None)


def counter_spec(point: Point, power: Point | None = None) -> CounterSpec | None:
    """The counter an energy point is, or None if it is not one (no counting, no energy unit).

    power: the device's power point; its valid maximum bounds the counter's credible rise.
    """
    if point.counting is None or point.unit not in WH_PER_UNIT:
        return None
    max_power = None if power is None else power_w(power, power.maximum)
    return CounterSpec(
        wh_per_count=point.counting.resolution * WH_PER_UNIT[point.unit],
        bits=point.counting.bits,
        max_power_w=max_power or DEFAULT_MAX_POWER_W,
    )


def counter_raw(point: Point, value: Any) -> float | None:
    """The counter's count behind a reading (a float counter keeps its fractions)."""
    reading = number(value)
    if reading is None or point.counting is None:
        return None
    count = reading / point.counting.resolution
    return float(round(count)) if point.counting.bits is not None else count
