"""Settings, destinations, the latch and the stored state, each on its own."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.microdc.lib.points import PointRef
from custom_components.microdc.lib.routing import (
    REJECT,
    Destination,
    DestinationError,
    DestinationKind,
    HeatRouter,
    Reason,
    RoutingSettings,
    SettingsError,
    Source,
    SourceKind,
    StoredState,
    StoredStateError,
    Valve,
)
from custom_components.microdc.lib.routing.destinations import site_destinations
from custom_components.microdc.lib.routing.latch import Latch

from .site import DESTINATIONS, make_router, nominal, step

V = PointRef("bms", "v")
USER = Source(SourceKind.USER, "Facility manager")
AUTOMATION = Source(SourceKind.AUTOMATION, "Blueprint")


def test_default_settings_follow_the_priority_map() -> None:
    settings = RoutingSettings()
    assert (settings.safety_priority, settings.comfort_priority) == (5, 12)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"safety_priority": 1}, "safety_priority", "life_safety"),
        ({"safety_priority": 4}, "safety_priority", "life_safety"),
        ({"safety_priority": 6}, "safety_priority", "minimum_on_off"),
        ({"safety_priority": 0}, "safety_priority", "invalid"),
        ({"safety_priority": 17}, "safety_priority", "invalid"),
        ({"safety_priority": 5.0}, "safety_priority", "invalid"),
        ({"safety_priority": True}, "safety_priority", "invalid"),
        ({"comfort_priority": 3}, "comfort_priority", "life_safety"),
        ({"comfort_priority": 8}, "comfort_priority", "above_operator"),
        ({"comfort_priority": 7}, "comfort_priority", "above_operator"),
        ({"safety_priority": 12, "comfort_priority": 12}, "safety_priority", "not_above_comfort"),
        ({"safety_priority": 14, "comfort_priority": 12}, "safety_priority", "not_above_comfort"),
        ({"exhaust_limit": 120.0}, "exhaust_limit", "out_of_range"),
        ({"exhaust_limit": float("nan")}, "exhaust_limit", "out_of_range"),
        ({"exhaust_limit": "45"}, "exhaust_limit", "invalid"),
        ({"supply_limit": 5.0}, "supply_limit", "out_of_range"),
        ({"hysteresis": 0.0}, "hysteresis", "out_of_range"),
        ({"hold": -1.0}, "hold", "out_of_range"),
        ({"dwell": 1e9}, "dwell", "out_of_range"),
        ({"grace": -0.1}, "grace", "out_of_range"),
        ({"confirm_timeout": 0.0}, "confirm_timeout", "out_of_range"),
        ({"tolerance": 80.0}, "tolerance", "out_of_range"),
        ({"default": "outdoors"}, "default", "invalid"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    changes: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(SettingsError) as err:
        RoutingSettings(**changes)
    assert (err.value.field, err.value.code) == (field, code)
    assert str(err.value).startswith(f"{field}: ")


def test_valve_positions_are_linear_between_closed_and_open() -> None:
    valve = Valve(V, open=80.0, closed=20.0)
    assert [valve.position(s) for s in (0.0, 0.5, 1.0)] == [20.0, 50.0, 80.0]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: Valve(V, open=101.0), "bad_position"),
        (lambda: Valve(V, closed=-1.0), "bad_position"),
        (lambda: Valve(V, open=float("nan")), "bad_position"),
        (lambda: Valve(V, open=50.0, closed=50.0), "open_is_closed"),
        (lambda: Valve(V, feedback=V), "feedback_is_command"),
        (lambda: Destination("", "x", DestinationKind.TENANT, (Valve(V),)), "bad_id"),
        (lambda: Destination("x", "x", DestinationKind.REJECT), "bad_reject"),
        (lambda: Destination(REJECT, "x", DestinationKind.TENANT, (Valve(V),)), "bad_reject"),
        (lambda: Destination("x", "x", DestinationKind.TENANT), "no_valve"),
        (
            lambda: Destination("x", "x", DestinationKind.TENANT, (Valve(V),), space=V),
            "space_without_limit",
        ),
        (
            lambda: Destination("x", "x", DestinationKind.TENANT, (Valve(V),), space_limit=22.0),
            "space_without_limit",
        ),
        (
            lambda: Destination(
                "x", "x", DestinationKind.TENANT, (Valve(V),), PointRef("b", "t"), 80.0
            ),
            "bad_space_limit",
        ),
        (
            lambda: Destination(REJECT, "r", DestinationKind.REJECT, (), PointRef("b", "t"), 20.0),
            "bad_reject",
        ),
    ],
)
def test_bad_destinations_are_refused(make: Any, code: str) -> None:
    with pytest.raises(DestinationError) as err:
        make()
    assert err.value.code == code


def test_the_site_always_has_reject_first() -> None:
    tenant = Destination("t", "T", DestinationKind.TENANT, (Valve(V),))
    found = site_destinations([tenant])
    assert [d.id for d in found] == [REJECT, "t"]
    assert found[0].valves == ()
    assert site_destinations(reversed(DESTINATIONS))[0].id == REJECT


def test_two_destinations_cannot_share_a_valve_or_an_id() -> None:
    a = Destination("a", "A", DestinationKind.TENANT, (Valve(V),))
    b = Destination("b", "B", DestinationKind.TENANT, (Valve(V),))
    with pytest.raises(DestinationError) as err:
        site_destinations([a, b])
    assert err.value.code == "shared_valve"
    c = Destination("c", "C", DestinationKind.TENANT, (Valve(PointRef("x", "y"), feedback=V),))
    with pytest.raises(DestinationError):
        site_destinations([a, c])
    with pytest.raises(DestinationError) as err:
        site_destinations([a, a])
    assert err.value.code == "duplicate_id"


def test_the_latch_sets_at_once_and_clears_after_the_hold() -> None:
    latch = Latch()
    assert not latch.update(0.0, trip=False, clear=True, hold=10.0)
    assert latch.update(1.0, trip=True, clear=False, hold=10.0)
    assert (latch.active, latch.since) == (True, 1.0)
    assert not latch.update(2.0, trip=True, clear=False, hold=10.0)
    assert latch.since == 1.0
    assert not latch.update(3.0, trip=False, clear=False, hold=10.0)  # in the band
    assert not latch.update(4.0, trip=False, clear=True, hold=10.0)
    assert not latch.update(13.9, trip=False, clear=True, hold=10.0)
    assert latch.update(14.0, trip=False, clear=True, hold=10.0)
    assert (latch.active, latch.since) == (False, None)


def test_the_latch_with_no_hold_clears_at_the_first_clear_reading() -> None:
    latch = Latch()
    latch.update(0.0, trip=True, clear=False, hold=0.0)
    assert latch.update(0.0, trip=False, clear=True, hold=0.0)


# --- stored state ------------------------------------------------------------------------


def test_requests_routing_and_the_dwell_survive_a_restart() -> None:
    router = make_router()
    readings = nominal()
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    router.divert(USER, {"tenant_a": 1, "tenant_b": 3}, 1.0, ends=5000.0)
    step(router, 10.0, readings)
    data = router.state().to_dict()
    assert data["routing"] == {"tenant_a": 0.25, "tenant_b": 0.75}
    restarted = make_router()
    assert restarted.restore(StoredState.from_dict(data), 20.0) == ()
    assert [r.source for r in restarted.requests] == [AUTOMATION, USER]
    restarted.release(USER)
    # The stockroom is due but the dwell since 10 s holds it, across the restart.
    held = step(restarted, 30.0, readings)
    assert held.reason is Reason.DWELL
    assert held.shares == (("tenant_a", 0.25), ("tenant_b", 0.75))
    assert held.since == 10.0
    assert step(restarted, 70.0, readings).shares == (("stockroom", 1.0),)


def test_restore_reports_what_it_drops() -> None:
    router = make_router()
    router.divert(AUTOMATION, {"stockroom": 1}, 0.0)
    router.divert(USER, {"tenant_a": 1}, 0.0, ends=100.0)
    router.evaluate(0.0, nominal())
    state = StoredState.from_dict(router.state().to_dict())
    fewer = HeatRouter(RoutingSettings(), [d for d in DESTINATIONS if d.id != "stockroom"])
    dropped = fewer.restore(state, 200.0)
    assert [(d.request and d.request.source, d.why) for d in dropped] == [
        (AUTOMATION, "unknown_destination"),
        (USER, "ended"),
    ]
    assert fewer.requests == ()
    gone = HeatRouter(RoutingSettings(), [d for d in DESTINATIONS if d.id != "tenant_a"])
    router.release(AUTOMATION)
    assert [d.why for d in gone.restore(router.state(), 50.0)] == ["unknown_destination"] * 2


def test_an_empty_store_restores_an_undecided_router() -> None:
    state = StoredState.from_dict(StoredState().to_dict())
    assert state == StoredState()


def _stored(**changes: Any) -> dict[str, Any]:
    request = {"kind": "user", "name": "x", "shares": {"stockroom": 1.0}, "created": 0.0}
    data: dict[str, Any] = {
        "version": 1,
        "requests": [request | {"ends": None}],
        "routing": {"stockroom": 1.0},
        "since": 0.0,
    }
    if "request" in changes:
        data["requests"] = [request | changes.pop("request")]
    return data | changes


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "not a mapping"),
        (_stored(version=2), "version"),
        (_stored(requests={}), "requests"),
        (_stored(requests=[1]), "requests[0]"),
        (_stored(request={"kind": "robot"}), "requests[0]: bad source"),
        (_stored(request={"name": ""}), "requests[0]: bad source"),
        (_stored(request={"created": "now"}), "requests[0].created"),
        (_stored(request={"ends": -1.0}), "requests[0].ends"),
        (_stored(request={"ends": float("inf")}), "requests[0].ends"),
        (_stored(request={"shares": {}}), "requests[0].shares"),
        (_stored(request={"shares": {"a": 0.5}}), "do not sum to 1"),
        (_stored(request={"shares": {"a": 0}}), "requests[0].shares.a"),
        (_stored(request={"shares": {"": 1.0}}), "not a destination id"),
        (_stored(request={"shares": {"a": True}}), "requests[0].shares.a"),
        (_stored(routing=None), "both stored, or neither"),
        (_stored(since=None), "both stored, or neither"),
        (_stored(routing=[1]), "routing"),
        (
            _stored(
                requests=[
                    {"kind": "user", "name": "x", "shares": {"a": 1.0}, "created": 0.0},
                    {"kind": "user", "name": "x", "shares": {"b": 1.0}, "created": 1.0},
                ]
            ),
            "two requests",
        ),
    ],
)
def test_bad_stored_data_is_refused_saying_where(data: object, where: str) -> None:
    with pytest.raises(StoredStateError, match=where.replace("[", r"\[").replace("]", r"\]")):
        StoredState.from_dict(data)


def test_relinquishing_is_stored_as_an_empty_routing() -> None:
    data = _stored(routing={})
    assert StoredState.from_dict(data).routing == ()
