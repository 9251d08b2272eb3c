"""Temperature limits crossed again and again: a pattern for a person, not only for the router.

One exhaust or supply trip is the safety layer doing its job. ``count`` trips of the same limit
within ``window`` seconds say that something keeps giving the rack more heat than its cooling
takes (a failing fan or pump, a dry cooler that cannot keep up, an automation sending heat
where nobody takes it): that is reported until a whole window has passed without a trip of
that limit. Pure, with the router's clock; the glue keeps it across restarts as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

from .decision import Reason

REPEAT_COUNT = 3
REPEAT_WINDOW_S = 86400.0
LIMIT_REASONS = (Reason.SAFETY_EXHAUST, Reason.SAFETY_SUPPLY)


@dataclass(frozen=True, slots=True)
class Repeated:
    """A limit crossed repeatedly: ``count`` trips in the busiest window, the latest at ``last``."""

    reason: Reason
    count: int
    last: float


class TripHistory:
    """When each temperature limit tripped, kept for one window."""

    __slots__ = ("_peak", "_times", "count", "window")

    def __init__(self, *, count: int = REPEAT_COUNT, window: float = REPEAT_WINDOW_S) -> None:
        self.count, self.window = count, window
        self._times: dict[Reason, list[float]] = {reason: [] for reason in LIMIT_REASONS}
        self._peak: dict[Reason, int] = dict.fromkeys(LIMIT_REASONS, 0)

    def record(self, reason: Reason, since: float) -> bool:
        """A trip of ``reason`` that set at ``since``; whether it is one not seen before."""
        times = self._times.get(reason)
        if times is None or since in times:
            return False
        self._forget(reason, since)
        times.append(since)
        times.sort()
        return True

    def repeated(self, now: float) -> dict[Reason, Repeated]:
        """The limits crossed repeatedly, as of ``now`` (trips older than the window forgotten)."""
        found: dict[Reason, Repeated] = {}
        for reason, times in self._times.items():
            self._forget(reason, now)
            if not times:
                continue
            self._peak[reason] = max(self._peak[reason], sum(now - t < self.window for t in times))
            if self._peak[reason] >= self.count:
                found[reason] = Repeated(reason, self._peak[reason], times[-1])
        return found

    def _forget(self, reason: Reason, now: float) -> None:
        times = self._times[reason]
        # A trip "after" now (the clock went back) is kept: forgetting it could hide a pattern.
        times[:] = [t for t in times if now - t < self.window]
        if not times:
            self._peak[reason] = 0  # a whole window without a trip: resolved

    def clears_at(self) -> float | None:
        """When, without another trip, the last pattern reported will have resolved."""
        ends = [
            times[-1] + self.window
            for reason, times in self._times.items()
            if times and self._peak[reason] >= self.count
        ]
        return min(ends, default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            reason.value: {"trips": list(self._times[reason]), "peak": self._peak[reason]}
            for reason in LIMIT_REASONS
        }

    @classmethod
    def from_dict(cls, data: object, **settings: Any) -> TripHistory:
        """What to_dict wrote; anything unreadable is left out (a history only informs)."""
        history = cls(**settings)
        if not isinstance(data, Mapping):
            return history
        for reason in LIMIT_REASONS:
            item = data.get(reason.value)
            if not isinstance(item, Mapping):
                continue
            trips = item.get("trips")
            if isinstance(trips, list):
                history._times[reason] = sorted(
                    float(t)
                    for t in trips
                    if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)
                )
            peak = item.get("peak")
            if isinstance(peak, int) and not isinstance(peak, bool) and peak >= 0:
                history._peak[reason] = peak
        return history
