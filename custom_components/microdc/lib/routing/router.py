"""The heat router: requests, the dwell and the safety layer in; one Decision out.

``evaluate`` is the only place time moves: the glue calls it after every poll and after every
request change, with a clock that survives restarts (Unix time). It allocates a new Decision
only when something in it changed, so an unchanged poll costs a few comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..points import PointRef
from .decision import Decision, Reason, Trip, ValveCommand
from .destinations import REJECT, Destination, site_destinations
from .requests import Request, RequestBook, RequestError, Shares, Source, normalise
from .safety import Readings, SafetyLayer
from .settings import DefaultRouting, RoutingSettings
from .state import StoredState

ALL_TO_REJECT: Shares = ((REJECT, 1.0),)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A stored request (or, with ``request`` None, the stored routing) not restored, and why."""

    request: Request | None
    why: str  # "ended", "unknown_destination"


class HeatRouter:
    """One site's router; not thread-safe (the glue calls it from Home Assistant's loop)."""

    __slots__ = (
        "_book",
        "_decision",
        "_ids",
        "_routing",
        "_safety",
        "_since",
        "destinations",
        "settings",
    )

    def __init__(
        self,
        settings: RoutingSettings,
        destinations: Iterable[Destination],
        *,
        exhaust: Sequence[PointRef] = (),
        supply: Sequence[PointRef] = (),
    ) -> None:
        self.settings = settings
        self.destinations = site_destinations(destinations)
        self._ids = frozenset(d.id for d in self.destinations)
        self._book = RequestBook()
        self._safety = SafetyLayer(settings, self.destinations, exhaust, supply)
        self._routing: Shares | None = None  # None: nothing decided yet
        self._since: float | None = None  # when the routing last changed
        self._decision: Decision | None = None

    # --- requests ------------------------------------------------------------------------

    def divert(
        self,
        source: Source,
        weights: Mapping[str, float],
        now: float,
        *,
        ends: float | None = None,
    ) -> Request:
        """Ask for heat to go to ``weights``' destinations (shares in proportion), until ``ends``.

        Replaces the source's previous request; RequestError if the request is not valid.
        """
        if ends is not None and not ends > now:
            raise RequestError("ended", f"the request would end at {ends}, before it starts")
        shares = normalise(weights, self._ids)
        return self._book.add(Request(source, shares, now, ends))

    def release(self, source: Source) -> bool:
        """Drop the source's request; whether it had one."""
        return self._book.release(source)

    def release_all(self) -> int:
        """Drop every request; how many there were."""
        return self._book.release_all()

    @property
    def requests(self) -> tuple[Request, ...]:
        """The kept requests, lowest-ranked first (ended ones go at the next evaluation)."""
        return self._book.requests

    @property
    def decision(self) -> Decision | None:
        """The last evaluation's decision."""
        return self._decision

    # --- evaluation ----------------------------------------------------------------------

    def evaluate(self, now: float, readings: Readings) -> Decision:
        """Decide for ``now`` from the latest ``readings`` (every point the glue knows)."""
        book, safety = self._book, self._safety
        book.expire(now)
        safety.update(now, readings)
        request = book.winner(now)
        desired, base = self._desired(request)
        target, target_reason = self._safe(desired)
        current = self._routing
        if self._since is not None and now < self._since:
            self._since = now  # the clock went back: the dwell starts again, never shortens
        if current is None or self._since is None:
            routing, reason = target, target_reason or base
        elif target == current:
            routing, reason = current, target_reason or base
        elif not current or now - self._since >= self.settings.dwell:
            # From relinquish (microdc commands nothing, the building's controls are in
            # charge) the first command moves no valve of microdc's back and forth: no dwell.
            routing, reason = target, target_reason or base
        else:
            kept, kept_reason = self._safe(current)
            # Only safety moves the routing within the dwell, and only as far as it must.
            routing, reason = (kept, kept_reason or Reason.DWELL)
        if routing != current:
            self._routing, self._since = routing, now
        return self._decide(now, routing, reason, request)

    def _desired(self, request: Request | None) -> tuple[Shares, Reason]:
        if request is not None:
            return request.shares, Reason.REQUESTED
        if self.settings.default is DefaultRouting.RELINQUISH:
            return (), Reason.RELINQUISH
        return ALL_TO_REJECT, Reason.DEFAULT

    def _safe(self, shares: Shares) -> tuple[Shares, Reason | None]:
        """The routing safety allows instead of ``shares``, and the reason if it differs.

        A blocked destination's share goes to reject, not to the other destinations: they
        were asked for their share, no more, and only reject can take any amount of heat.
        Relinquishing stays relinquishing; the blocked destinations' valves are closed anyway.
        """
        safety = self._safety
        if safety.site_trip is not None:
            return ALL_TO_REJECT, safety.site_trip.reason
        blocked = safety.blocked
        if not blocked:
            return shares, None
        if not shares:
            return shares, _first_reason(safety.trips, blocked)
        moved = sum(share for d, share in shares if d in blocked)
        if not moved:
            return shares, None
        kept = {d: share for d, share in shares if d not in blocked}
        kept[REJECT] = kept.get(REJECT, 0.0) + moved
        hit = frozenset(d for d, _ in shares if d in blocked)
        return tuple(sorted(kept.items())), _first_reason(safety.trips, hit)

    def _decide(
        self, now: float, routing: Shares, reason: Reason, request: Request | None
    ) -> Decision:
        safety = self._safety
        blocked, trips = safety.blocked, safety.trips
        last = self._decision
        if (
            last is not None
            and last.shares == routing
            and last.reason is reason
            and last.request is request
            and last.blocked == blocked
            and last.trips == trips
            and last.since == self._since
        ):
            return last
        s = self.settings
        shares = dict(routing)
        commands: list[ValveCommand] = []
        for destination in self.destinations:
            did = destination.id
            held = did in blocked
            safe_write = held or (did == REJECT and reason.is_safety)
            priority = s.safety_priority if safe_write else s.comfort_priority
            share = shares.get(did, 0.0)
            for valve in destination.valves:
                if held:
                    position: float | None = valve.closed
                elif not routing:
                    position = None
                else:
                    position = valve.position(share)
                commands.append(
                    ValveCommand(
                        did,
                        valve.command,
                        position,
                        s.comfort_priority if position is None else priority,
                    )
                )
                safety.commanded(now, valve.command, position)
        since = now if self._since is None else self._since
        self._decision = Decision(routing, tuple(commands), reason, since, request, blocked, trips)
        return self._decision

    # --- what survives a restart ---------------------------------------------------------

    def state(self) -> StoredState:
        """What to store: the requests, the routing and when it last changed."""
        return StoredState(self._book.requests, self._routing, self._since)

    def restore(self, state: StoredState, now: float) -> tuple[Dropped, ...]:
        """Take back stored state (replacing the current one); what could not be, and why.

        A request for a destination the site no longer has is dropped, not rerouted: the
        glue tells the user. Restored, the router decides afresh at its next evaluation.
        """
        dropped: list[Dropped] = []
        self._book.release_all()
        for request in state.requests:
            if request.ended(now):
                dropped.append(Dropped(request, "ended"))
            elif any(d not in self._ids for d, _ in request.shares):
                dropped.append(Dropped(request, "unknown_destination"))
            else:
                self._book.add(request)
        self._routing, self._since, self._decision = None, None, None
        if state.routing is not None and state.since is not None:
            if all(d in self._ids for d, _ in state.routing):
                self._routing, self._since = state.routing, min(state.since, now)
            else:
                dropped.append(Dropped(None, "unknown_destination"))
        return tuple(dropped)


def _first_reason(trips: tuple[Trip, ...], destinations: frozenset[str]) -> Reason | None:
    return next((t.reason for t in trips if t.destination in destinations), None)
