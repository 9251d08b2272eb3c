"""A small site for the routing tests: reject, a stockroom and two tenants, and their points."""

from __future__ import annotations

from collections.abc import Mapping

from custom_components.microdc.lib.points import PointRef
from custom_components.microdc.lib.routing import (
    REJECT,
    Decision,
    Destination,
    DestinationKind,
    HeatRouter,
    RoutingSettings,
    Valve,
)

EXHAUST = PointRef("rack", "exhaust")
EXHAUST_2 = PointRef("rack2", "exhaust")
SUPPLY = PointRef("meter", "supply")
STOCKROOM_T = PointRef("bms", "stockroom_t")
TENANT_A_T = PointRef("bms", "tenant_a_t")
REJECT_V = Valve(PointRef("bms", "reject_cmd"), feedback=PointRef("bms", "reject_fb"))
STOCKROOM_V = Valve(PointRef("bms", "stock_cmd"), feedback=PointRef("bms", "stock_fb"))
TENANT_A_V = Valve(PointRef("bms", "a_cmd"), 90.0, 10.0, PointRef("bms", "a_fb"))
# A reverse-acting valve without feedback: 0 % is open.
TENANT_B_V = Valve(PointRef("bms", "b_cmd"), open=0.0, closed=100.0)

DESTINATIONS = (
    Destination(REJECT, "Reject", DestinationKind.REJECT, (REJECT_V,)),
    Destination(
        "stockroom", "Stockroom", DestinationKind.STOCKROOM, (STOCKROOM_V,), STOCKROOM_T, 24.0
    ),
    Destination("tenant_a", "Tenant A", DestinationKind.TENANT, (TENANT_A_V,), TENANT_A_T, 23.0),
    Destination("tenant_b", "Tenant B", DestinationKind.TENANT, (TENANT_B_V,)),
)
IDS = tuple(d.id for d in DESTINATIONS)
FEEDBACK = {v.command: v.feedback for d in DESTINATIONS for v in d.valves if v.feedback}

# Fast timers so the tests read in seconds.
SETTINGS = RoutingSettings(
    exhaust_limit=40.0,
    supply_limit=55.0,
    hysteresis=2.0,
    hold=30.0,
    dwell=60.0,
    grace=20.0,
    confirm_timeout=15.0,
    tolerance=5.0,
)


def make_router(settings: RoutingSettings = SETTINGS) -> HeatRouter:
    return HeatRouter(settings, DESTINATIONS, exhaust=(EXHAUST,), supply=(SUPPLY,))


def nominal() -> dict[PointRef, float | None]:
    """Every safety input comfortably within its limit."""
    return {EXHAUST: 30.0, SUPPLY: 45.0, STOCKROOM_T: 20.0, TENANT_A_T: 20.0}


def follow(
    decision: Decision,
    readings: dict[PointRef, float | None],
    stuck: Mapping[PointRef, float | None] | None = None,
) -> Decision:
    """The valves move where they were told (a relinquished one stays where it was), except
    the ``stuck`` ones (by command point), whose feedback reads the given value."""
    for command in decision.commands:
        feedback = FEEDBACK.get(command.point)
        if feedback is None:
            continue
        if stuck and command.point in stuck:
            readings[feedback] = stuck[command.point]
        elif command.position is not None:
            readings[feedback] = command.position
    return decision


def step(
    router: HeatRouter,
    now: float,
    readings: dict[PointRef, float | None],
    stuck: Mapping[PointRef, float | None] | None = None,
) -> Decision:
    """One poll: the stuck valves read their value, the router evaluates, the others follow."""
    for point, value in (stuck or {}).items():
        readings[FEEDBACK[point]] = value
    return follow(router.evaluate(now, readings), readings, stuck)


def positions(decision: Decision) -> Mapping[str, float | None]:
    """Each destination's first valve's commanded position."""
    return {d: next(c.position for c in decision.commands if c.destination == d) for d in IDS}
