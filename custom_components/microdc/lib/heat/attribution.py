"""Dividing a loop's heat between heat destinations by how far their valves are open.

Where a destination has no meter of its own, microdc assumes that the loop's flow, and so its
heat, divides between the open branches in proportion to their valves' openings. That is an
approximation: a real valve's flow is not linear in its opening, and branches differ in
resistance. It is exact in the common case of one destination open at a time. When every valve
is closed, the heat is taken to go to ``reject`` (the dry cooler), which always exists and is
where the router sends heat nobody takes.
"""

from __future__ import annotations

from collections.abc import Mapping
import math

from .errors import HeatDomainError

REJECT = "reject"
"""The heat destination that always exists: the dry cooler / outdoors."""


def shares_by_valves(valve_openings: Mapping[str, float]) -> dict[str, float]:
    """Fraction of the loop's heat going to each destination, from valve openings in %.

    The result has every destination of the mapping plus ``reject``, each in [0, 1], summing
    to 1. Openings must be finite and within 0..100 %.
    """
    for destination, opening in valve_openings.items():
        if isinstance(opening, bool) or not isinstance(opening, int | float):
            raise HeatDomainError(f"valve opening of {destination!r} must be a number")
        if not (math.isfinite(opening) and 0 <= opening <= 100):
            raise HeatDomainError(
                f"valve opening of {destination!r} must be within 0..100 %, got {opening}"
            )
    shares = dict.fromkeys(valve_openings, 0.0)
    shares.setdefault(REJECT, 0.0)
    total = math.fsum(valve_openings.values())
    if total == 0:
        shares[REJECT] = 1.0
        return shares
    for destination, opening in valve_openings.items():
        shares[destination] = opening / total
    return shares


def split_by_valves(power_w: float, valve_openings: Mapping[str, float]) -> dict[str, float]:
    """A power (W) divided between destinations by valve openings (see shares_by_valves)."""
    if not math.isfinite(power_w):
        raise HeatDomainError(f"power must be a finite number, got {power_w}")
    return {d: power_w * share for d, share in shares_by_valves(valve_openings).items()}
