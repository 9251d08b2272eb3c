"""A device's energy counter (heat meter or PDU register), turned into trustworthy energy steps.

Counters are unsigned registers that roll over at their width (16 or 32 bits, sometimes 64),
and meters get replaced or reset. Each new reading is classified against the previous one:

* STEP: the counter rose (or stayed): the energy is the difference.
* WRAP: the counter fell, but by exactly what a roll-over explains, and the wrapped difference is
  small (at most half the counter's range, and credible for ``max_power_w`` if given).
* REPLACED: the counter fell by something a roll-over does not explain, or rose by more than
  the power bound could have produced: a new meter, a reset, or a clock that is not the meter's
  (a sped-up simulator). The step's energy is unknown (the caller falls back to computed power
  for that interval) and a rise is reported as set aside; the new value becomes the baseline,
  so nothing already counted is counted again and the total never goes backwards.

The power bound is one rule for every counter, a heat meter's or a PDU's: the power the device
itself read at the two ends of the interval, when the caller has both (``explained_w``), else
the counter's ``max_power_w``; times the interval and a slack, plus one count (quantisation).
* AMBIGUOUS: so much time passed that the counter may have wrapped more than once (only known
  when ``max_power_w`` is given). Energy unknown, new baseline.
* FIRST: no previous reading to compare with. Energy unknown, new baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math
from typing import Any

from .errors import HeatDomainError, LedgerStateError

# Slack on the max-power plausibility test: meters quantise to whole counts and poll times jitter.
_POWER_SLACK = 1.25
# Readings are samples: between two of them the power may rise above both (a burst that starts
# and ends between polls). Twice the larger end leaves room for that and still tells a meter's
# own energy from a counter running several times faster than its power (a sped-up clock).
_READINGS_SLACK = 2.0


class CounterEvent(StrEnum):
    """How a counter reading relates to the previous one."""

    FIRST = "first"
    STEP = "step"
    WRAP = "wrap"
    REPLACED = "replaced"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """What a counter register means.

    wh_per_count: energy of one count in Wh (1000 for a register in kWh, 100 for 0.1 kWh).
    bits: register width, 16, 32 or 64; None for a counter that does not wrap (a float).
    max_power_w: the largest credible average power through the meter, if known; it lets a
        jump up from a replaced meter, and a gap too long to tell wraps apart, be recognised.
    """

    wh_per_count: float
    bits: int | None = 32
    max_power_w: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.wh_per_count) and self.wh_per_count > 0):
            raise HeatDomainError(f"wh_per_count must be > 0, got {self.wh_per_count}")
        if self.bits not in (16, 32, 64, None):
            raise HeatDomainError(f"counter bits must be 16, 32, 64 or None, got {self.bits}")
        if self.max_power_w is not None and not (
            math.isfinite(self.max_power_w) and self.max_power_w > 0
        ):
            raise HeatDomainError(f"max_power_w must be > 0 or None, got {self.max_power_w}")

    @property
    def modulus(self) -> int | None:
        """Number of distinct counter values (2**bits), or None for a non-wrapping counter."""
        return None if self.bits is None else 1 << self.bits


@dataclass(frozen=True, slots=True)
class CounterStep:
    """One classified reading: energy_wh is None when the step's energy is unknown."""

    event: CounterEvent
    energy_wh: float | None
    set_aside_wh: float = 0.0
    """A rise the power bound could not explain: energy the meter shows but nobody counts."""


class EnergyCounter:
    """Follows one counter register from reading to reading."""

    def __init__(self, spec: CounterSpec, last_raw: float | None = None) -> None:
        self.spec = spec
        self._last_raw = last_raw

    @property
    def last_raw(self) -> float | None:
        """The baseline: the last accepted raw value, or None before the first reading."""
        return self._last_raw

    def check(self, raw: float) -> None:
        """Raise HeatDomainError unless raw is a value this register can hold."""
        modulus = self.spec.modulus
        if not math.isfinite(raw) or raw < 0 or (modulus is not None and raw >= modulus):
            limit = "" if modulus is None else f" and < {modulus}"
            raise HeatDomainError(f"counter value must be finite, >= 0{limit}; got {raw}")

    def forget(self) -> None:
        """Drop the baseline (the reading was missing), so no step spans the missing reading."""
        self._last_raw = None

    def advance(
        self, raw: float, elapsed_s: float | None, explained_w: float | None = None
    ) -> CounterStep:
        """Classify a new reading taken elapsed_s after the previous one (None: unknown).

        explained_w: the largest power the device read at either end of the interval, where
        both are known; it bounds the step instead of max_power_w (see the module's rule).
        """
        self.check(raw)
        last, self._last_raw = self._last_raw, raw
        if last is None:
            return CounterStep(CounterEvent.FIRST, None)
        spec, modulus = self.spec, self.spec.modulus
        max_wh = None
        bound_w = spec.max_power_w if explained_w is None else explained_w * _READINGS_SLACK
        if bound_w is not None and elapsed_s is not None:
            max_wh = bound_w * max(elapsed_s, 0.0) / 3600 * _POWER_SLACK + spec.wh_per_count
            if modulus is not None and max_wh >= modulus * spec.wh_per_count:
                return CounterStep(CounterEvent.AMBIGUOUS, None)
        if raw >= last:
            energy = (raw - last) * spec.wh_per_count
            if max_wh is not None and energy > max_wh:
                return CounterStep(CounterEvent.REPLACED, None, set_aside_wh=energy)
            return CounterStep(CounterEvent.STEP, energy)
        if modulus is not None:
            wrapped = raw + modulus - last
            energy = wrapped * spec.wh_per_count
            if wrapped <= modulus // 2 and (max_wh is None or energy <= max_wh):
                return CounterStep(CounterEvent.WRAP, energy)
        return CounterStep(CounterEvent.REPLACED, None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (the baseline)."""
        return {"last_raw": self._last_raw}

    @classmethod
    def from_dict(cls, spec: CounterSpec, data: dict[str, Any]) -> EnergyCounter:
        """Restore a counter saved by to_dict; a baseline the register cannot hold is refused."""
        last = data.get("last_raw")
        if last is None:
            return cls(spec)
        if isinstance(last, bool) or not isinstance(last, int | float):
            raise LedgerStateError(f"counter baseline must be a number, got {last!r}")
        counter = cls(spec)
        try:
            counter.check(last)
        except HeatDomainError as err:
            raise LedgerStateError(f"saved counter baseline is invalid: {err}") from None
        counter._last_raw = last
        return counter
