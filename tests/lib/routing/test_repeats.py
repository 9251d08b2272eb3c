"""A temperature limit crossed repeatedly: counted per limit in a window, resolved after one
window without a trip, and kept across a restart as plain data."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from custom_components.microdc.lib.routing import (
    REPEAT_COUNT,
    REPEAT_WINDOW_S,
    Reason,
    TripHistory,
)

DAY = REPEAT_WINDOW_S
EXHAUST, SUPPLY = Reason.SAFETY_EXHAUST, Reason.SAFETY_SUPPLY


def test_three_trips_in_a_day_are_a_pattern_two_are_not() -> None:
    history = TripHistory()
    assert (REPEAT_COUNT, REPEAT_WINDOW_S) == (3, 86400.0)
    assert history.record(EXHAUST, 100.0)
    assert history.record(EXHAUST, 5000.0)
    assert not history.record(EXHAUST, 5000.0)  # the same trip seen again: one trip
    assert history.repeated(6000.0) == {}
    assert history.record(SUPPLY, 6000.0)  # another limit counts apart
    assert history.repeated(6000.0) == {}
    assert history.record(EXHAUST, 80000.0)
    found = history.repeated(80000.0)
    assert list(found) == [EXHAUST]
    assert (found[EXHAUST].count, found[EXHAUST].last) == (3, 80000.0)


def test_trips_spread_wider_than_the_window_are_no_pattern() -> None:
    history = TripHistory()
    for at in (0.0, 0.6 * DAY, 1.2 * DAY):
        history.record(EXHAUST, at)
    assert history.repeated(1.2 * DAY) == {}


def test_a_pattern_resolves_after_a_whole_window_without_a_trip() -> None:
    history = TripHistory()
    for at in (0.0, 600.0, 1200.0):
        history.record(EXHAUST, at)
    assert history.clears_at() is None  # nothing reported yet
    assert history.repeated(1200.0)[EXHAUST].count == 3
    assert history.clears_at() == 1200.0 + DAY
    # The first two age out, one trip is left in the window: still reported, at its peak.
    assert history.repeated(DAY + 900.0)[EXHAUST].count == 3
    history.record(EXHAUST, DAY + 1000.0)  # another trip: the day starts again
    assert history.clears_at() == 2 * DAY + 1000.0
    assert EXHAUST in history.repeated(2 * DAY + 999.0)
    assert history.repeated(2 * DAY + 1000.0) == {}
    assert history.clears_at() is None
    # Resolved means forgotten: a new pattern needs three trips again.
    history.record(EXHAUST, 3 * DAY)
    assert history.repeated(3 * DAY) == {}


def test_it_survives_a_restart_and_bad_data_is_left_out() -> None:
    history = TripHistory()
    for at in (10.0, 20.0, 30.0):
        history.record(SUPPLY, at)
    history.repeated(30.0)
    back = TripHistory.from_dict(json.loads(json.dumps(history.to_dict())))
    assert back.repeated(40.0)[SUPPLY].count == 3
    assert back.clears_at() == 30.0 + DAY
    for bad in (None, [], {"safety_supply": "x"}, {"safety_supply": {"trips": ["a", True]}}):
        assert TripHistory.from_dict(bad).repeated(0.0) == {}


def _pattern(trips: list[float]) -> bool:
    """The rule, spelt out: since the last gap of a whole window between two trips, some
    window held `count` trips."""
    run: list[float] = []
    for at in trips:
        if run and at - run[-1] >= DAY:
            run = []
        run.append(at)
    return any(sum(t - DAY < u <= t for u in run) >= REPEAT_COUNT for t in run)


@given(st.lists(st.floats(min_value=0, max_value=5 * DAY), max_size=12))
def test_reported_exactly_when_the_rule_says(times: list[float]) -> None:
    """Asked at every trip, the history reports the limit exactly when the rule does."""
    history = TripHistory()
    seen: list[float] = []
    for at in sorted(set(times)):
        history.record(EXHAUST, at)
        seen.append(at)
        assert (EXHAUST in history.repeated(at)) == _pattern(seen)
