"""One measured energy flow (a loop, a branch, the rack's electricity) integrated over time.

A channel takes, at each reading time, a power (W) and/or a counter value, and turns the interval
since the previous reading into energy:

1. If the channel has a counter and both ends of the interval have a counter reading that steps
   cleanly (STEP or WRAP), the counter's difference is the energy: the meter is the truth. A
   step is judged against the power read at both ends of the interval where both are known
   (see counter.py: one rule for heat meters and PDUs); a rise they cannot explain is set
   aside (set_aside_wh) and the interval counts from power instead.
2. Otherwise, if both ends have a power reading and the interval is no longer than max_gap_s,
   the energy is the trapezoid (P0 + P1) / 2 · Δt.
3. Otherwise the interval's energy is unknown: it is not guessed as zero or as the last value;
   its length is added to unknown_s and gap_count counts it.

A counter step across an interval longer than max_gap_s still counts (the meter saw the energy),
but the interval is flagged as beyond the gap limit so that the ledger does not guess how it
divided between destinations. Negative power counts as zero: heat that flows back into the rack
is not "recovered" and is not subtracted either (heat meters built to EN 1434 do the same).
Totals only ever grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any

from .counter import CounterEvent, CounterSpec, EnergyCounter
from .errors import HeatDomainError, LedgerStateError


class EnergySource(StrEnum):
    """Where an interval's energy came from."""

    COUNTER = "counter"
    POWER = "power"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Interval:
    """The energy of the interval between two readings of a channel.

    energy_wh is None when unknown. within_gap_limit is False when the interval is longer than
    the channel's max_gap_s or the clock went backwards. start_power_w and end_power_w are the
    (non-negative) powers at both ends, where known, for dividing the energy by destination.
    """

    duration_s: float
    energy_wh: float | None
    source: EnergySource
    within_gap_limit: bool
    start_power_w: float | None
    end_power_w: float | None
    counter_event: CounterEvent | None


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HeatDomainError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class EnergyChannel:
    """Integrates one power / counter stream into energy, and remembers enough to resume."""

    def __init__(self, max_gap_s: float, counter: CounterSpec | None = None) -> None:
        if not (math.isfinite(max_gap_s) and max_gap_s > 0):
            raise HeatDomainError(f"max_gap_s must be > 0, got {max_gap_s}")
        self.max_gap_s = max_gap_s
        self.counter = None if counter is None else EnergyCounter(counter)
        self.last_time_s: float | None = None
        self.last_power_w: float | None = None
        self.total_wh = 0.0
        """All energy counted, whatever its source."""
        self.computed_wh = 0.0
        """Trapezoid energy over every interval with power at both ends within the gap limit,
        whether or not the counter was used: the cross-check of a meter."""
        self.unknown_s = 0.0
        self.gap_count = 0
        self.wraps = 0
        self.replacements = 0
        self.set_aside_wh = 0.0
        """Counter rises the power could not explain, not counted (the trapezoid was)."""

    def check(self, time_s: float, power_w: float | None, counter_raw: float | None) -> None:
        """Raise HeatDomainError if advance() would refuse these values (changes nothing)."""
        _finite("time_s", time_s)
        if power_w is not None:
            _finite("power_w", power_w)
        if counter_raw is not None:
            if self.counter is None:
                raise HeatDomainError("a counter value was given to a channel without a counter")
            self.counter.check(_finite("counter value", counter_raw))

    def advance(self, time_s: float, power_w: float | None, counter_raw: float | None) -> Interval:
        """Take the reading at time_s (UNIX time, s); account for the interval before it."""
        self.check(time_s, power_w, counter_raw)
        power = None if power_w is None else max(float(power_w), 0.0)
        last_time, last_power = self.last_time_s, self.last_power_w
        elapsed = None if last_time is None else time_s - last_time
        forward = elapsed is not None and elapsed > 0
        # A repeated timestamp is a zero-length interval, not a gap; a clock that went back is.
        within = elapsed is not None and 0 <= elapsed <= self.max_gap_s

        step = None
        if self.counter is not None:
            if counter_raw is None:
                self.counter.forget()
            else:
                explained = None
                if within and power is not None and last_power is not None:
                    explained = max(power, last_power)
                step = self.counter.advance(
                    float(counter_raw), elapsed if forward else None, explained
                )
                self.wraps += step.event is CounterEvent.WRAP
                self.replacements += step.event is CounterEvent.REPLACED
                self.set_aside_wh += step.set_aside_wh

        trapezoid = None
        if within and elapsed is not None and power is not None and last_power is not None:
            trapezoid = (last_power + power) / 2 * elapsed / 3600
            self.computed_wh += trapezoid

        if step is not None and step.energy_wh is not None:
            energy, source = step.energy_wh, EnergySource.COUNTER
        elif trapezoid is not None:
            energy, source = trapezoid, EnergySource.POWER
        else:
            energy, source = None, EnergySource.UNKNOWN
            if elapsed:  # neither the first reading nor a repeated timestamp
                self.gap_count += 1
                self.unknown_s += max(elapsed or 0.0, 0.0)
        if energy is not None:
            self.total_wh += energy

        self.last_time_s, self.last_power_w = time_s, power
        return Interval(
            duration_s=max(elapsed or 0.0, 0.0),
            energy_wh=energy,
            source=source,
            within_gap_limit=within,
            start_power_w=last_power if within else None,
            end_power_w=power,
            counter_event=None if step is None else step.event,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state: totals and the last reading, so a restart resumes exactly."""
        return {
            "last_time_s": self.last_time_s,
            "last_power_w": self.last_power_w,
            "counter": None if self.counter is None else self.counter.to_dict(),
            "total_wh": self.total_wh,
            "computed_wh": self.computed_wh,
            "unknown_s": self.unknown_s,
            "gap_count": self.gap_count,
            "wraps": self.wraps,
            "replacements": self.replacements,
            "set_aside_wh": self.set_aside_wh,
        }

    @classmethod
    def from_dict(
        cls, max_gap_s: float, counter: CounterSpec | None, data: dict[str, Any]
    ) -> EnergyChannel:
        """Restore a channel saved by to_dict; the configuration comes from the caller."""
        channel = cls(max_gap_s, counter)
        try:
            channel.last_time_s = _optional_number(data, "last_time_s")
            channel.last_power_w = _optional_number(data, "last_power_w")
            for name in ("total_wh", "computed_wh", "unknown_s", "set_aside_wh"):
                value = _optional_number(data, name) or 0.0
                if value < 0:
                    raise LedgerStateError(f"{name} must be >= 0, got {value}")
                setattr(channel, name, value)
            for name in ("gap_count", "wraps", "replacements"):
                count = data.get(name, 0)
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise LedgerStateError(f"{name} must be a whole number >= 0, got {count!r}")
                setattr(channel, name, count)
        except HeatDomainError as err:
            raise LedgerStateError(f"saved channel state is invalid: {err}") from None
        saved_counter = data.get("counter")
        if counter is not None and isinstance(saved_counter, dict):
            try:
                channel.counter = EnergyCounter.from_dict(counter, saved_counter)
            except LedgerStateError:
                # The counter's settings changed (a new meter, another width): its old
                # baseline means nothing now. Start a new one; the totals stay intact.
                channel.counter = EnergyCounter(counter)
        return channel


def _optional_number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    return _finite(name, value)
