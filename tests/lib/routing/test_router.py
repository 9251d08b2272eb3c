"""The router's rules: requests, default, shares, dwell, and how safety overrides them."""

from __future__ import annotations

import pytest

from custom_components.microdc.lib.points import PointRef
from custom_components.microdc.lib.routing import (
    REJECT,
    DefaultRouting,
    HeatRouter,
    Reason,
    RequestError,
    RoutingSettings,
    Source,
    SourceKind,
)

from .site import (
    DESTINATIONS,
    EXHAUST,
    EXHAUST_2,
    REJECT_V,
    SETTINGS,
    STOCKROOM_T,
    STOCKROOM_V,
    SUPPLY,
    TENANT_A_T,
    TENANT_A_V,
    TENANT_B_V,
    follow,
    make_router,
    nominal,
    positions,
    step,
)

USER = Source(SourceKind.USER, "Facility manager")
ACTION = Source(SourceKind.ACTION, "script.heat")
AUTOMATION = Source(SourceKind.AUTOMATION, "Tenant heating blueprint")


def test_no_request_sends_heat_to_reject_by_default() -> None:
    router = make_router()
    decision = router.evaluate(0.0, nominal())
    assert decision.reason is Reason.DEFAULT
    assert decision.shares == ((REJECT, 1.0),)
    assert positions(decision) == {
        REJECT: 100.0,
        "stockroom": 0.0,
        "tenant_a": 10.0,
        "tenant_b": 100.0,
    }
    assert decision.request is None
    assert not decision.safety
    assert {c.priority for c in decision.commands} == {12}
    assert decision.since == 0.0


def test_relinquish_default_commands_nothing() -> None:
    router = make_router(RoutingSettings(default=DefaultRouting.RELINQUISH))
    decision = router.evaluate(0.0, nominal())
    assert decision.reason is Reason.RELINQUISH
    assert decision.relinquish
    assert decision.shares == ()
    assert all(c.position is None for c in decision.commands)
    assert len(decision.commands) == 4


def test_a_request_opens_its_destination_and_closes_the_others() -> None:
    router = make_router()
    request = router.divert(USER, {"tenant_a": 1}, 0.0)
    decision = router.evaluate(0.0, nominal())
    assert decision.reason is Reason.REQUESTED
    assert decision.request is request
    assert decision.shares == (("tenant_a", 1.0),)
    assert positions(decision) == {
        REJECT: 0.0,
        "stockroom": 0.0,
        "tenant_a": 90.0,
        "tenant_b": 100.0,
    }


def test_shares_set_positions_in_proportion_between_closed_and_open() -> None:
    router = make_router()
    router.divert(ACTION, {"tenant_a": 3, "tenant_b": 1}, 0.0)
    decision = router.evaluate(0.0, nominal())
    assert decision.shares == (("tenant_a", 0.75), ("tenant_b", 0.25))
    assert decision.share("tenant_a") == 0.75
    assert decision.share("stockroom") == 0.0
    got = positions(decision)
    assert got["tenant_a"] == pytest.approx(10.0 + 0.75 * 80.0)
    assert got["tenant_b"] == pytest.approx(75.0)  # reverse acting: 100 closed, 0 open
    assert got[REJECT] == 0.0


def test_the_highest_ranked_source_wins_then_the_newest() -> None:
    router = make_router(RoutingSettings(dwell=0.0))
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    router.divert(USER, {"tenant_a": 1}, 1.0)
    router.divert(ACTION, {"tenant_b": 1}, 2.0)
    assert router.evaluate(2.0, nominal()).shares == (("tenant_a", 1.0),)
    other_user = Source(SourceKind.USER, "Night shift")
    router.divert(other_user, {"stockroom": 1}, 3.0)
    assert router.evaluate(3.0, nominal()).shares == (("stockroom", 1.0),)
    assert router.release(other_user)
    assert router.evaluate(4.0, nominal()).shares == (("tenant_a", 1.0),)
    assert router.release(USER)
    assert router.evaluate(5.0, nominal()).shares == (("tenant_b", 1.0),)
    assert not router.release(USER)
    assert router.release_all() == 2
    decision = router.evaluate(6.0, nominal())
    assert decision.reason is Reason.DEFAULT
    assert router.requests == ()


def test_the_same_instant_goes_to_the_later_request() -> None:
    router = make_router()
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    router.divert(Source(SourceKind.AUTOMATION, "other"), {"tenant_a": 1}, 0.0)
    assert router.evaluate(0.0, nominal()).shares == (("tenant_a", 1.0),)


def test_a_new_request_replaces_its_sources_old_one() -> None:
    router = make_router()
    router.divert(ACTION, {"stockroom": 1}, 0.0)
    router.divert(ACTION, {"tenant_a": 1}, 1.0)
    assert [r.shares for r in router.requests] == [(("tenant_a", 1.0),)]


def test_an_ended_request_falls_back_to_the_one_below() -> None:
    router = make_router(RoutingSettings(dwell=0.0))
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    router.divert(USER, {"tenant_a": 1}, 0.0, ends=100.0)
    assert router.evaluate(99.9, nominal()).shares == (("tenant_a", 1.0),)
    decision = router.evaluate(100.0, nominal())
    assert decision.shares == (("stockroom", 1.0),)
    assert decision.request is not None
    assert decision.request.source == AUTOMATION
    assert len(router.requests) == 1


@pytest.mark.parametrize(
    ("weights", "ends", "code"),
    [
        ({}, None, "no_destination"),
        ({"garage": 1}, None, "unknown_destination"),
        ({"stockroom": 0}, None, "bad_weight"),
        ({"stockroom": -1}, None, "bad_weight"),
        ({"stockroom": float("nan")}, None, "bad_weight"),
        ({"stockroom": float("inf")}, None, "bad_weight"),
        ({"stockroom": True}, None, "bad_weight"),
        ({"stockroom": 1}, 10.0, "ended"),
        ({"stockroom": 1}, 5.0, "ended"),
    ],
)
def test_a_bad_request_is_refused_with_a_code(
    weights: dict[str, float], ends: float | None, code: str
) -> None:
    router = make_router()
    with pytest.raises(RequestError) as err:
        router.divert(USER, weights, 10.0, ends=ends)
    assert err.value.code == code
    assert router.requests == ()


@pytest.mark.parametrize("name", ["", "  "])
def test_a_source_needs_a_name(name: str) -> None:
    with pytest.raises(RequestError, match="name"):
        Source(SourceKind.USER, name)


# --- the dwell ---------------------------------------------------------------------------


def test_a_change_waits_for_the_dwell() -> None:
    router = make_router()
    readings = nominal()
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    first = router.evaluate(0.0, readings)
    follow(first, readings)
    router.divert(AUTOMATION, {"tenant_a": 1}, 10.0)
    held = router.evaluate(10.0, readings)
    assert held.reason is Reason.DWELL
    assert held.shares == (("stockroom", 1.0),)
    assert held.since == 0.0
    assert held.request is not None
    assert held.request.shares == (("tenant_a", 1.0),)
    assert router.evaluate(59.9, readings).reason is Reason.DWELL
    moved = router.evaluate(60.0, readings)
    assert moved.reason is Reason.REQUESTED
    assert moved.shares == (("tenant_a", 1.0),)
    assert moved.since == 60.0


def test_the_first_command_after_relinquish_does_not_wait() -> None:
    """A new site starts relinquished: the first request routes at once, the next waits."""
    router = make_router(RoutingSettings(dwell=60.0, default=DefaultRouting.RELINQUISH))
    readings = nominal()
    start = router.evaluate(0.0, readings)
    assert (start.reason, start.shares) == (Reason.RELINQUISH, ())
    router.divert(AUTOMATION, {"stockroom": 1}, 5.0)
    first = router.evaluate(5.0, readings)
    assert (first.reason, first.shares, first.since) == (
        Reason.REQUESTED,
        (("stockroom", 1.0),),
        5.0,
    )
    follow(first, readings)
    router.divert(AUTOMATION, {"tenant_a": 1}, 10.0)
    assert router.evaluate(10.0, readings).reason is Reason.DWELL


def test_going_back_within_the_dwell_is_no_change() -> None:
    router = make_router()
    router.divert(USER, {"stockroom": 1}, 0.0)
    router.evaluate(0.0, nominal())
    router.divert(USER, {"tenant_a": 1}, 5.0)
    assert router.evaluate(5.0, nominal()).reason is Reason.DWELL
    router.divert(USER, {"stockroom": 1}, 6.0)
    decision = router.evaluate(6.0, nominal())
    assert decision.reason is Reason.REQUESTED
    assert decision.since == 0.0


def test_an_unchanged_evaluation_returns_the_same_decision() -> None:
    router = make_router()
    readings = nominal()
    first = router.evaluate(0.0, readings)
    follow(first, readings)
    assert router.evaluate(1.0, readings) is first
    assert router.decision is first


def test_a_clock_that_goes_back_restarts_the_dwell() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"stockroom": 1}, 1000.0)
    follow(router.evaluate(1000.0, readings), readings)
    router.divert(USER, {"tenant_a": 1}, 500.0)
    assert router.evaluate(500.0, readings).reason is Reason.DWELL
    assert router.evaluate(559.0, readings).reason is Reason.DWELL
    assert router.evaluate(560.0, readings).reason is Reason.REQUESTED


# --- safety over requests and the dwell --------------------------------------------------


def test_exhaust_above_its_limit_sends_everything_to_reject_at_once() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    follow(router.evaluate(0.0, readings), readings)
    readings[EXHAUST] = 40.0  # at the limit: not above it
    assert router.evaluate(1.0, readings).reason is Reason.REQUESTED
    readings[EXHAUST] = 40.1
    decision = router.evaluate(2.0, readings)  # within the dwell: safety does not wait
    assert decision.reason is Reason.SAFETY_EXHAUST
    assert decision.shares == ((REJECT, 1.0),)
    assert positions(decision) == {
        REJECT: 100.0,
        "stockroom": 0.0,
        "tenant_a": 10.0,
        "tenant_b": 100.0,
    }
    assert decision.blocked == {"stockroom", "tenant_a", "tenant_b"}
    assert decision.safety
    assert {c.priority for c in decision.commands} == {5}
    (trip,) = decision.trips
    assert (trip.reason, trip.destination, trip.since) == (Reason.SAFETY_EXHAUST, None, 2.0)
    assert decision.trips_for("tenant_a") == (trip,)


def test_the_hottest_exhaust_counts() -> None:
    router = HeatRouter(SETTINGS, DESTINATIONS, exhaust=(EXHAUST, EXHAUST_2))
    readings = nominal() | {EXHAUST_2: 41.0}
    assert router.evaluate(0.0, readings).reason is Reason.SAFETY_EXHAUST


def test_an_exhaust_trip_clears_with_hysteresis_after_the_hold_then_the_dwell() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    follow(router.evaluate(0.0, readings), readings)
    readings[EXHAUST] = 45.0
    follow(router.evaluate(100.0, readings), readings)
    readings[EXHAUST] = 38.5  # below the limit, not below limit - hysteresis
    assert router.evaluate(200.0, readings).reason is Reason.SAFETY_EXHAUST
    readings[EXHAUST] = 38.0
    assert router.evaluate(210.0, readings).reason is Reason.SAFETY_EXHAUST
    readings[EXHAUST] = 38.1  # back into the band: the hold starts again
    assert router.evaluate(230.0, readings).reason is Reason.SAFETY_EXHAUST
    readings[EXHAUST] = 37.0
    assert router.evaluate(240.0, readings).reason is Reason.SAFETY_EXHAUST
    assert router.evaluate(269.9, readings).reason is Reason.SAFETY_EXHAUST
    # Trip cleared at 270 (held 30 s); the dwell from the trip at 100 is long over.
    decision = router.evaluate(270.0, readings)
    assert decision.reason is Reason.REQUESTED
    assert decision.shares == (("tenant_a", 1.0),)
    assert decision.blocked == frozenset()
    assert decision.trips == ()


def test_after_a_short_trip_the_dwell_holds_reject() -> None:
    router = make_router(RoutingSettings(hold=0.0, dwell=60.0))
    readings = nominal()
    router.divert(USER, {"stockroom": 1}, 0.0)
    follow(router.evaluate(0.0, readings), readings)
    readings[EXHAUST] = 46.0
    assert router.evaluate(100.0, readings).reason is Reason.SAFETY_EXHAUST
    readings[EXHAUST] = 30.0
    held = router.evaluate(110.0, readings)
    assert held.reason is Reason.DWELL
    assert held.shares == ((REJECT, 1.0),)
    assert {c.priority for c in held.commands} == {12}
    assert router.evaluate(160.0, readings).shares == (("stockroom", 1.0),)


def test_supply_above_its_limit_trips_the_site() -> None:
    router = make_router()
    readings = nominal() | {SUPPLY: 55.5}
    router.divert(USER, {"stockroom": 1}, 0.0)
    decision = router.evaluate(0.0, readings)
    assert decision.reason is Reason.SAFETY_SUPPLY
    assert decision.share(REJECT) == 1.0


def test_exhaust_wins_over_supply_as_the_reason() -> None:
    router = make_router()
    decision = router.evaluate(0.0, nominal() | {SUPPLY: 60.0, EXHAUST: 50.0})
    assert decision.reason is Reason.SAFETY_EXHAUST
    assert {t.reason for t in decision.trips} == {Reason.SAFETY_EXHAUST, Reason.SAFETY_SUPPLY}


def test_a_lost_safety_input_trips_after_the_grace_time() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"stockroom": 1}, 0.0)
    follow(router.evaluate(0.0, readings), readings)
    readings[SUPPLY] = None
    assert router.evaluate(10.0, readings).reason is Reason.REQUESTED
    assert router.evaluate(29.9, readings).reason is Reason.REQUESTED
    decision = router.evaluate(30.0, readings)
    assert decision.reason is Reason.SAFETY_INPUT_LOST
    assert decision.share(REJECT) == 1.0
    follow(decision, readings)
    readings[SUPPLY] = 45.0
    assert router.evaluate(40.0, readings).reason is Reason.SAFETY_INPUT_LOST
    # Cleared after the 30 s hold; the dwell since the trip at 30 s ends at 90 s.
    assert router.evaluate(70.0, readings).reason is Reason.DWELL
    assert router.evaluate(90.0, readings).shares == (("stockroom", 1.0),)


def test_an_input_back_within_the_grace_time_restarts_it() -> None:
    router = make_router()
    readings = nominal()
    step(router, 0.0, readings)
    readings[EXHAUST] = None
    step(router, 10.0, readings)
    readings[EXHAUST] = 30.0
    step(router, 15.0, readings)
    readings[EXHAUST] = None
    assert step(router, 34.0, readings).reason is Reason.DEFAULT
    assert step(router, 53.9, readings).reason is Reason.DEFAULT  # lost since 34 s
    assert step(router, 54.0, readings).reason is Reason.SAFETY_INPUT_LOST


def test_an_absent_or_nan_reading_counts_as_unavailable() -> None:
    router = make_router(RoutingSettings(grace=0.0))
    readings = nominal()
    del readings[EXHAUST]
    assert router.evaluate(0.0, readings).reason is Reason.SAFETY_INPUT_LOST
    router = make_router(RoutingSettings(grace=0.0))
    assert router.evaluate(0.0, nominal() | {SUPPLY: float("nan")}).reason is (
        Reason.SAFETY_INPUT_LOST
    )


def test_an_over_temperature_trips_even_while_another_exhaust_is_lost() -> None:
    router = HeatRouter(SETTINGS, DESTINATIONS, exhaust=(EXHAUST, EXHAUST_2))
    readings = nominal() | {EXHAUST_2: None, EXHAUST: 41.0}
    assert router.evaluate(0.0, readings).reason is Reason.SAFETY_EXHAUST
    # The trip does not clear while one exhaust is unread.
    readings[EXHAUST] = 20.0
    assert router.evaluate(100.0, readings).reason is Reason.SAFETY_EXHAUST


def test_a_site_without_safety_inputs_watches_none() -> None:
    router = HeatRouter(SETTINGS, DESTINATIONS)
    readings: dict[PointRef, float | None] = {}
    router.divert(USER, {"tenant_b": 1}, 0.0)
    step(router, 0.0, readings)
    decision = step(router, 1000.0, readings)
    # No exhaust or supply point: no site-wide trip; the unread spaces block their destinations.
    assert decision.reason is Reason.REQUESTED
    assert decision.blocked == {"stockroom", "tenant_a"}
    assert {t.reason for t in decision.trips} == {Reason.SAFETY_INPUT_LOST}


def test_a_warm_space_blocks_only_its_destination_and_its_share_goes_to_reject() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"stockroom": 1, "tenant_b": 1}, 0.0)
    step(router, 0.0, readings)
    readings[STOCKROOM_T] = 24.0  # at the limit: blocked
    decision = step(router, 5.0, readings)
    assert decision.reason is Reason.SAFETY_SPACE
    assert decision.shares == ((REJECT, 0.5), ("tenant_b", 0.5))
    assert decision.blocked == {"stockroom"}
    got = positions(decision)
    assert got["stockroom"] == STOCKROOM_V.closed
    assert got["tenant_b"] == pytest.approx(50.0)
    assert got[REJECT] == pytest.approx(50.0)
    priorities = {c.destination: c.priority for c in decision.commands}
    assert priorities == {REJECT: 5, "stockroom": 5, "tenant_a": 12, "tenant_b": 12}
    (trip,) = decision.trips_for("stockroom")
    assert (trip.reason, trip.point) == (Reason.SAFETY_SPACE, STOCKROOM_T)
    # It clears at 22 °C, held 30 s, and the dwell from 5 s is over by then.
    readings[STOCKROOM_T] = 22.5
    assert step(router, 100.0, readings).blocked == {"stockroom"}
    readings[STOCKROOM_T] = 22.0
    assert step(router, 110.0, readings).blocked == {"stockroom"}
    decision = step(router, 140.0, readings)
    assert decision.blocked == frozenset()
    assert decision.shares == (("stockroom", 0.5), ("tenant_b", 0.5))


def test_a_warm_space_not_requested_is_blocked_but_changes_no_routing() -> None:
    router = make_router()
    readings = nominal() | {TENANT_A_T: 30.0}
    router.divert(USER, {"stockroom": 1}, 0.0)
    decision = router.evaluate(0.0, readings)
    assert decision.reason is Reason.REQUESTED
    assert decision.blocked == {"tenant_a"}
    assert decision.safety
    a = next(c for c in decision.commands if c.destination == "tenant_a")
    assert (a.position, a.priority) == (TENANT_A_V.closed, 5)


def test_a_request_for_a_warm_space_goes_to_reject() -> None:
    router = make_router()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    decision = router.evaluate(0.0, nominal() | {TENANT_A_T: 23.5})
    assert decision.reason is Reason.SAFETY_SPACE
    assert decision.shares == ((REJECT, 1.0),)


def test_a_lost_space_temperature_blocks_its_destination_after_the_grace_time() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    step(router, 0.0, readings)
    readings[TENANT_A_T] = None
    assert step(router, 10.0, readings).reason is Reason.REQUESTED
    assert step(router, 29.9, readings).reason is Reason.REQUESTED
    decision = step(router, 30.0, readings)
    assert decision.reason is Reason.SAFETY_INPUT_LOST
    assert decision.blocked == {"tenant_a"}
    assert decision.trips[0].destination == "tenant_a"


def test_relinquishing_still_closes_a_blocked_destination() -> None:
    router = make_router(RoutingSettings(default=DefaultRouting.RELINQUISH))
    decision = router.evaluate(0.0, nominal() | {TENANT_A_T: 25.0})
    assert decision.relinquish
    assert decision.reason is Reason.SAFETY_SPACE
    by_destination = {c.destination: (c.position, c.priority) for c in decision.commands}
    assert by_destination == {
        REJECT: (None, 12),
        "stockroom": (None, 12),
        "tenant_a": (TENANT_A_V.closed, 5),
        "tenant_b": (None, 12),
    }


def test_relinquishing_gives_way_to_a_site_trip() -> None:
    router = make_router(RoutingSettings(default=DefaultRouting.RELINQUISH))
    decision = router.evaluate(0.0, nominal() | {EXHAUST: 50.0})
    assert decision.shares == ((REJECT, 1.0),)
    assert positions(decision)[REJECT] == 100.0


def test_a_valve_that_does_not_confirm_blocks_its_destination_after_the_timeout() -> None:
    router = make_router()
    readings = nominal()
    valve = STOCKROOM_V.command
    router.divert(USER, {"stockroom": 1}, 0.0)
    decision = step(router, 0.0, readings, {valve: 0.0})
    assert positions(decision)["stockroom"] == 100.0
    # Within the tolerance just before the timeout: confirmed.
    assert step(router, 14.0, readings, {valve: 96.0}).reason is Reason.REQUESTED
    assert step(router, 20.0, readings, {valve: 30.0}).reason is Reason.REQUESTED  # stuck
    assert step(router, 34.9, readings, {valve: 30.0}).reason is Reason.REQUESTED
    decision = step(router, 35.0, readings, {valve: 30.0})
    assert decision.reason is Reason.SAFETY_VALVE
    assert decision.blocked == {"stockroom"}
    assert decision.shares == ((REJECT, 1.0),)
    assert positions(decision)["stockroom"] == 0.0
    (trip,) = decision.trips
    assert (trip.destination, trip.point) == ("stockroom", STOCKROOM_V.command)
    # Still stuck at 30 %: it never confirms closed, so it stays blocked.
    assert step(router, 1000.0, readings, {valve: 30.0}).blocked == {"stockroom"}
    # Freed, it confirms closed; after the hold the request is served again.
    assert step(router, 1001.0, readings, {valve: 0.0}).blocked == {"stockroom"}
    decision = step(router, 1031.0, readings)
    assert decision.blocked == frozenset()
    assert decision.shares == (("stockroom", 1.0),)


def test_a_valve_without_any_feedback_reading_never_confirms() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    step(router, 0.0, readings, {TENANT_A_V.command: None})
    assert step(router, 14.9, readings, {TENANT_A_V.command: None}).blocked == frozenset()
    assert step(router, 15.0, readings, {TENANT_A_V.command: None}).blocked == {"tenant_a"}


def test_a_valve_that_stops_confirming_later_is_caught() -> None:
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_a": 1}, 0.0)
    step(router, 0.0, readings)
    assert step(router, 100.0, readings).reason is Reason.REQUESTED
    valve = TENANT_A_V.command
    assert step(router, 110.0, readings, {valve: 50.0}).reason is Reason.REQUESTED
    assert step(router, 124.9, readings, {valve: 50.0}).reason is Reason.REQUESTED
    assert step(router, 125.0, readings, {valve: 50.0}).reason is Reason.SAFETY_VALVE


def test_reject_s_valve_is_reported_but_never_blocked() -> None:
    router = make_router()
    readings = nominal()
    stuck = {REJECT_V.command: 0.0}
    step(router, 0.0, readings, stuck)
    decision = step(router, 20.0, readings, stuck)
    assert decision.blocked == frozenset()
    assert decision.reason is Reason.DEFAULT
    assert positions(decision)[REJECT] == 100.0
    assert [(t.reason, t.destination) for t in decision.trips] == [(Reason.SAFETY_VALVE, REJECT)]


def test_monitor_only_expects_no_valve_to_follow() -> None:
    router = make_router(RoutingSettings(monitor_only=True, confirm_timeout=1.0))
    router.divert(USER, {"stockroom": 1}, 0.0)
    router.evaluate(0.0, nominal())
    decision = router.evaluate(1000.0, nominal())
    assert decision.reason is Reason.REQUESTED
    assert decision.trips == ()


def test_a_relinquished_valve_is_not_checked() -> None:
    router = make_router(RoutingSettings(default=DefaultRouting.RELINQUISH))
    router.evaluate(0.0, nominal())
    assert router.evaluate(1000.0, nominal()).trips == ()


def test_valves_without_feedback_are_not_checked() -> None:
    assert TENANT_B_V.feedback is None
    router = make_router()
    readings = nominal()
    router.divert(USER, {"tenant_b": 1}, 0.0)
    follow(router.evaluate(0.0, readings), readings)
    assert router.evaluate(1000.0, readings).trips == ()
