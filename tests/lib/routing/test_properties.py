"""Properties that hold whatever the sequence of requests and readings (hypothesis).

Derandomised and without an example database, so CI sees the same examples every run.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings, strategies as st

from custom_components.microdc.lib.points import PointRef
from custom_components.microdc.lib.routing import (
    REJECT,
    Decision,
    DefaultRouting,
    HeatRouter,
    Reason,
    RoutingSettings,
    Source,
    SourceKind,
)

from .site import DESTINATIONS, EXHAUST, FEEDBACK, IDS, STOCKROOM_T, SUPPLY, TENANT_A_T

SOURCES = [Source(kind, name) for kind in SourceKind for name in ("a", "b")]
VALVES = {v.command: v for d in DESTINATIONS for v in d.valves}
temperature = st.one_of(st.none(), st.floats(10.0, 70.0))
request = st.tuples(
    st.sampled_from(SOURCES),
    st.dictionaries(st.sampled_from(IDS), st.floats(0.01, 10.0), min_size=1, max_size=4),
    st.one_of(st.none(), st.floats(1.0, 500.0)),
)
action = st.one_of(
    st.tuples(st.just("divert"), request),
    st.tuples(st.just("release"), st.sampled_from(SOURCES)),
    st.tuples(st.just("release_all"), st.none()),
    st.tuples(st.just("none"), st.none()),
)
# A valve's feedback at a poll: where it was told to go, stuck somewhere, or unread.
feedback = st.one_of(st.just("follow"), st.none(), st.floats(0.0, 100.0))
poll = st.fixed_dictionaries(
    {
        "dt": st.floats(0.0, 90.0),
        "action": action,
        # Values at the edges of the limit (40 °C) and of its hysteresis band (38 °C) too.
        "exhaust": st.one_of(
            st.floats(20.0, 39.0), temperature, st.sampled_from([37.9, 38.0, 40.0, 40.01])
        ),
        "supply": st.one_of(
            st.floats(30.0, 50.0), temperature, st.sampled_from([52.9, 53.0, 55.0, 55.01])
        ),
        "stockroom": st.one_of(st.floats(15.0, 21.0), temperature),
        "tenant_a": st.one_of(st.floats(15.0, 21.0), temperature),
        "valves": st.fixed_dictionaries(dict.fromkeys(sorted(FEEDBACK), feedback)),
    }
)
SETTINGS = {
    default: RoutingSettings(
        exhaust_limit=40.0,
        supply_limit=55.0,
        hysteresis=2.0,
        hold=30.0,
        dwell=60.0,
        grace=20.0,
        confirm_timeout=15.0,
        default=default,
    )
    for default in DefaultRouting
}


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(st.lists(poll, min_size=1, max_size=40), st.sampled_from(DefaultRouting))
def test_safety_and_the_dwell_hold_for_any_sequence(
    polls: list[dict[str, Any]], default: DefaultRouting
) -> None:
    s = SETTINGS[default]
    router = HeatRouter(s, DESTINATIONS, exhaust=(EXHAUST,), supply=(SUPPLY,))
    readings: dict[PointRef, float | None] = {}
    now, last_change = 0.0, 0.0
    previous: Decision | None = None
    for p in polls:
        now += p["dt"]
        _act(router, p["action"], now)
        readings |= {
            EXHAUST: p["exhaust"],
            SUPPLY: p["supply"],
            STOCKROOM_T: p["stockroom"],
            TENANT_A_T: p["tenant_a"],
        }
        valves: dict[PointRef, float | str | None] = p["valves"]
        for point, value in valves.items():
            if value != "follow":
                readings[FEEDBACK[point]] = value  # type: ignore[assignment]
        decision = router.evaluate(now, readings)
        _check_exhaust(s, readings[EXHAUST], decision)
        # Nothing but safety changes the routing faster than the dwell, but for the first
        # command after relinquish (no valve of microdc's moves back).
        if previous is not None and decision.shares != previous.shares:
            assert now - last_change >= s.dwell or decision.reason.is_safety or not previous.shares
        if previous is None or decision.shares != previous.shares:
            last_change = now
            assert decision.since == now
        _check_valves(s, decision)
        _check_shares(decision)
        # The plant follows, where the poll says it does.
        for c in decision.commands:
            fb = FEEDBACK.get(c.point)
            if fb is not None and c.position is not None and valves.get(c.point) == "follow":
                readings[fb] = c.position
        previous = decision


def _check_exhaust(s: RoutingSettings, exhaust: float | None, decision: Decision) -> None:
    """An exhaust above its limit: all to reject, in this very evaluation."""
    if exhaust is None or exhaust <= s.exhaust_limit:
        return
    assert decision.reason is Reason.SAFETY_EXHAUST
    assert decision.shares == ((REJECT, 1.0),)
    for c in decision.commands:
        valve = VALVES[c.point]
        want = valve.open if c.destination == REJECT else valve.closed
        assert (c.position, c.priority) == (want, s.safety_priority)


def _check_valves(s: RoutingSettings, decision: Decision) -> None:
    """A blocked destination has no open valve; positions stay within closed..open."""
    assert REJECT not in decision.blocked
    assert len(decision.commands) == len(VALVES)
    for c in decision.commands:
        valve = VALVES[c.point]
        if c.destination in decision.blocked:
            assert (c.position, c.priority) == (valve.closed, s.safety_priority)
        elif c.position is not None:
            low, high = sorted((valve.closed, valve.open))
            assert low <= c.position <= high
        assert c.priority in (s.safety_priority, s.comfort_priority)


def _check_shares(decision: Decision) -> None:
    """The active shares sum to 1, unless the building's controls are in charge."""
    if decision.shares:
        assert all(share > 0 for _, share in decision.shares)
        assert math.isclose(sum(share for _, share in decision.shares), 1.0)
        assert not set(dict(decision.shares)) & decision.blocked
        return
    assert decision.reason not in (Reason.SAFETY_EXHAUST, Reason.SAFETY_SUPPLY)
    assert all(c.position is None or c.destination in decision.blocked for c in decision.commands)


def _act(router: HeatRouter, act: tuple[str, Any], now: float) -> None:
    kind, arg = act
    if kind == "divert":
        source, weights, duration = arg
        router.divert(source, weights, now, ends=None if duration is None else now + duration)
    elif kind == "release":
        router.release(arg)
    elif kind == "release_all":
        router.release_all()


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(st.lists(request, min_size=1, max_size=8), st.floats(0.0, 600.0))
def test_the_winner_is_the_newest_of_the_highest_rank(
    requests: list[tuple[Source, dict[str, float], float | None]], at: float
) -> None:
    router = HeatRouter(RoutingSettings(dwell=0.0), DESTINATIONS)
    for i, (source, weights, duration) in enumerate(requests):
        router.divert(source, weights, float(i), ends=None if duration is None else i + duration)
    live = [r for r in router.requests if not r.ended(at)]
    decision = router.evaluate(at, {})
    if not live:
        assert decision.request is None
        return
    best = max(r.source.kind.rank for r in live)
    newest = max((r for r in live if r.source.kind.rank == best), key=lambda r: r.created)
    assert decision.request == newest
