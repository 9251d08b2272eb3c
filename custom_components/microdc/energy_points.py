"""How a profile's energy and power points become the heat domain's counters (pure: no I/O).

One place for the rule that both the devices' energy sensors and the site's heat accounting
follow: a counter wraps at its register's width, and its power point's valid maximum bounds how
fast it can credibly rise, so a jump beyond that is a swapped or reset meter, not energy.
"""

from __future__ import annotations

from typing import Any

from .heat import CounterSpec
from .profile import DataType, Point, Profile

WH_PER_UNIT = {"Wh": 1.0, "kWh": 1000.0, "MWh": 1_000_000.0}
W_PER_UNIT = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}
# Without a power point's maximum: far above any retail micro data centre's rack or loop, still
# far below a counter's jump to a replaced meter's reading.
DEFAULT_MAX_POWER_W = 1_000_000.0
_COUNTER_BITS = {DataType.U16: 16, DataType.U32: 32, DataType.U64: 64}  # floats do not wrap
# The power point that bounds each counter role.
_POWER_ROLE_OF_COUNTER = {"it_energy": "it_power", "heat_meter_energy": "heat_meter_power"}


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


def power_point_of(profile: Profile, counter: Point) -> Point | None:
    """The point of the same device whose power flows through this counter."""
    role = _POWER_ROLE_OF_COUNTER.get(counter.role or "")
    return next((p for p in profile.points.values() if role and p.role == role), None)


def counter_spec(point: Point, power: Point | None = None) -> CounterSpec | None:
    """The counter an energy point is, or None if its unit is not an energy unit.

    power: the device's power point; its valid maximum bounds the counter's credible rise.
    """
    if point.unit not in WH_PER_UNIT:
        return None
    max_power = None if power is None else power_w(power, power.max)
    return CounterSpec(
        wh_per_count=point.scale * WH_PER_UNIT[point.unit],
        bits=_COUNTER_BITS.get(point.data_type),
        max_power_w=max_power or DEFAULT_MAX_POWER_W,
    )


def counter_raw(point: Point, value: Any) -> float | None:
    """The register's count behind a decoded energy reading (floats keep their fractions)."""
    reading = number(value)
    if reading is None:
        return None
    count = (reading - point.offset) / point.scale
    return count if point.data_type in {DataType.F32, DataType.F64} else float(round(count))
