"""The safety layer: readings in, trips and blocked destinations out; no request can override it.

- The hottest rack exhaust above its limit, or the hottest loop supply above its limit: a
  site-wide trip (everything to reject). It clears at limit - hysteresis, held for the hold time,
  and only with every such input reading.
- A safety input (exhaust, supply) unavailable for the grace time: a site-wide trip, cleared when
  every one reads again, held.
- A destination's space temperature at or above its limit: that destination blocked, clearing
  at limit - hysteresis, held. Its space temperature unavailable for the grace time: blocked.
- A commanded valve whose feedback is not within the tolerance of the command for the confirm
  timeout (measured from the command, or from when it stopped confirming): its destination
  blocked, until the feedback confirms again (its closed command, then) for the hold time.
  Reject's valves are checked and reported but never block reject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math

from ..points import PointRef
from .decision import Reason, Trip
from .destinations import REJECT, Destination
from .latch import Latch
from .settings import RoutingSettings

type Readings = Mapping[PointRef, float | None]
"""The latest numeric value of each point, None (or absent) where there is none."""


class _Watch:
    """A latch and the trip it reports while active."""

    __slots__ = ("destination", "latch", "point", "reason", "trip")

    def __init__(self, reason: Reason, destination: str | None, point: PointRef | None) -> None:
        self.reason, self.destination, self.point = reason, destination, point
        self.latch = Latch()
        self.trip: Trip | None = None

    def update(self, now: float, *, trip: bool, clear: bool, hold: float) -> bool:
        if not self.latch.update(now, trip=trip, clear=clear, hold=hold):
            return False
        since = self.latch.since
        self.trip = (
            None if since is None else Trip(self.reason, self.destination, self.point, since)
        )
        return True


class _ValveWatch(_Watch):
    """A valve's confirmation: what it was last commanded, and since when it has not confirmed."""

    __slots__ = ("commanded", "feedback", "mismatch_since")

    def __init__(self, destination: str, command: PointRef, feedback: PointRef) -> None:
        super().__init__(Reason.SAFETY_VALVE, destination, command)
        self.feedback = feedback
        self.commanded: float | None = None
        self.mismatch_since: float | None = None


class SafetyLayer:
    """Keeps every watch's state between evaluations; ``update`` once per evaluation."""

    __slots__ = (
        "_all",
        "_exhaust",
        "_global",
        "_input",
        "_missing",
        "_settings",
        "_spaces",
        "_supply",
        "_tracked",
        "_valves",
        "_watches",
        "blocked",
        "site_trip",
        "trips",
    )

    def __init__(
        self,
        settings: RoutingSettings,
        destinations: Sequence[Destination],
        exhaust: Sequence[PointRef],
        supply: Sequence[PointRef],
    ) -> None:
        self._settings = settings
        self._exhaust = tuple(exhaust)
        self._supply = tuple(supply)
        self._missing: dict[PointRef, float] = {}
        # Site-wide watches, in the order their reason wins.
        self._global = (
            _Watch(Reason.SAFETY_EXHAUST, None, None),
            _Watch(Reason.SAFETY_SUPPLY, None, None),
            _Watch(Reason.SAFETY_INPUT_LOST, None, None),
        )
        self._input = self._exhaust + self._supply
        self._spaces: list[tuple[_Watch, _Watch, PointRef, float]] = [
            (
                _Watch(Reason.SAFETY_SPACE, d.id, d.space),
                _Watch(Reason.SAFETY_INPUT_LOST, d.id, d.space),
                d.space,
                d.space_limit,
            )
            for d in destinations
            if d.space is not None and d.space_limit is not None
        ]
        # Every input whose absence is timed against the grace time.
        self._tracked = (*self._input, *(space[2] for space in self._spaces))
        self._valves: dict[PointRef, _ValveWatch] = {
            v.command: _ValveWatch(d.id, v.command, v.feedback)
            for d in destinations
            for v in d.valves
            if v.feedback is not None
        }
        self._watches: tuple[_Watch, ...] = (
            *self._global,
            *(w for space in self._spaces for w in space[:2]),
            *self._valves.values(),
        )
        self.trips: tuple[Trip, ...] = ()
        self.site_trip: Trip | None = None  # the site-wide trip that wins, if any
        self.blocked: frozenset[str] = frozenset()  # destinations safety holds closed
        self._all = frozenset(d.id for d in destinations if d.id != REJECT)

    def commanded(self, now: float, point: PointRef, position: float | None) -> None:
        """The router now commands ``point`` to ``position`` (None: relinquished, not checked)."""
        watch = self._valves.get(point)
        if watch is None or watch.commanded == position:
            return
        watch.commanded = position
        # A new command starts its confirm timeout now.
        watch.mismatch_since = None if position is None else now

    def update(self, now: float, readings: Readings) -> bool:
        """Advance every watch to ``now``; whether any trip set or cleared."""
        s = self._settings
        self._track_missing(now, readings)
        changed = False
        exhaust, exhaust_all = _hottest(self._exhaust, readings)
        supply, supply_all = _hottest(self._supply, readings)
        exhaust_w, supply_w, input_w = self._global
        changed |= exhaust_w.update(
            now,
            trip=exhaust is not None and exhaust > s.exhaust_limit,
            clear=exhaust_all and (exhaust is None or exhaust <= s.exhaust_limit - s.hysteresis),
            hold=s.hold,
        )
        changed |= supply_w.update(
            now,
            trip=supply is not None and supply > s.supply_limit,
            clear=supply_all and (supply is None or supply <= s.supply_limit - s.hysteresis),
            hold=s.hold,
        )
        changed |= input_w.update(
            now,
            trip=any(self._lost(now, ref) for ref in self._input),
            clear=exhaust_all and supply_all,
            hold=s.hold,
        )
        for high, lost, ref, limit in self._spaces:
            value = _read(readings, ref)
            changed |= high.update(
                now,
                trip=value is not None and value >= limit,
                clear=value is not None and value <= limit - s.hysteresis,
                hold=s.hold,
            )
            changed |= lost.update(
                now, trip=self._lost(now, ref), clear=value is not None, hold=s.hold
            )
        for valve in self._valves.values():
            changed |= self._confirm(now, valve, _read(readings, valve.feedback))
        if changed:
            self._collect()
        return changed

    def _track_missing(self, now: float, readings: Readings) -> None:
        missing = self._missing
        for ref in self._tracked:
            if _read(readings, ref) is None:
                if ref not in missing or now < missing[ref]:
                    missing[ref] = now
            else:
                missing.pop(ref, None)

    def _lost(self, now: float, ref: PointRef) -> bool:
        since = self._missing.get(ref)
        return since is not None and now - since >= self._settings.grace

    def _confirm(self, now: float, valve: _ValveWatch, feedback: float | None) -> bool:
        s = self._settings
        if valve.commanded is None or s.monitor_only:
            # Nothing written, so nothing to confirm: a trip clears after the hold.
            valve.mismatch_since = None
            return valve.update(now, trip=False, clear=True, hold=s.hold)
        confirmed = feedback is not None and abs(feedback - valve.commanded) <= s.tolerance
        if confirmed:
            valve.mismatch_since = None
        elif valve.mismatch_since is None or now < valve.mismatch_since:
            valve.mismatch_since = now
        since = valve.mismatch_since
        return valve.update(
            now,
            trip=since is not None and now - since >= s.confirm_timeout,
            clear=confirmed,
            hold=s.hold,
        )

    def _collect(self) -> None:
        self.trips = tuple(w.trip for w in self._watches if w.trip is not None)
        self.site_trip = next((w.trip for w in self._global if w.trip is not None), None)
        if self.site_trip is not None:
            self.blocked = self._all
        else:
            self.blocked = frozenset(
                t.destination
                for t in self.trips
                if t.destination is not None and t.destination != REJECT
            )


def _hottest(refs: Sequence[PointRef], readings: Readings) -> tuple[float | None, bool]:
    """The highest reading of ``refs`` (None if none reads) and whether every one reads."""
    hottest: float | None = None
    every = True
    for ref in refs:
        value = _read(readings, ref)
        if value is None:
            every = False
        elif hottest is None or value > hottest:
            hottest = value
    return hottest, every


def _read(readings: Readings, ref: PointRef) -> float | None:
    """The reading, None where it is absent or not a number (NaN counts as unavailable)."""
    value = readings.get(ref)
    return None if value is None or math.isnan(value) else value
