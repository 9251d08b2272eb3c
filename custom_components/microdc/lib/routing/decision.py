"""What the router decided: valve commands, shares, the reason and what safety blocks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..points import PointRef
from .requests import Request, Shares


class Reason(StrEnum):
    """Why the routing is what it is (the values are the "Heat routing" sensor's states)."""

    REQUESTED = "requested"  # the winning request
    DEFAULT = "default"  # no request: the site's default, reject
    RELINQUISH = "relinquish"  # no request: the building's own controls are in charge
    DWELL = "dwell"  # a change is due but the minimum dwell has not passed yet
    SAFETY_EXHAUST = "safety_exhaust"  # rack exhaust above its limit: everything to reject
    SAFETY_SUPPLY = "safety_supply"  # loop supply above its limit: everything to reject
    SAFETY_INPUT_LOST = "safety_input_lost"  # a safety input unavailable past the grace time
    SAFETY_SPACE = "safety_space"  # a requested destination's space at its limit
    SAFETY_VALVE = "safety_valve"  # a requested destination's valve does not confirm

    @property
    def is_safety(self) -> bool:
        """Whether safety made this decision."""
        return self in SAFETY_REASONS


SAFETY_REASONS = frozenset(
    {
        Reason.SAFETY_EXHAUST,
        Reason.SAFETY_SUPPLY,
        Reason.SAFETY_INPUT_LOST,
        Reason.SAFETY_SPACE,
        Reason.SAFETY_VALVE,
    }
)


@dataclass(frozen=True, slots=True)
class Trip:
    """One thing safety holds against: what, where, since when.

    ``destination`` None: the whole site (everything to reject). A trip naming ``reject``
    reports reject's own valve; reject is never blocked, since heat has to go somewhere.
    ``point`` is the input or valve command point that tripped.
    """

    reason: Reason
    destination: str | None
    point: PointRef | None
    since: float


@dataclass(frozen=True, slots=True)
class ValveCommand:
    """What to write to one valve, in % at a BACnet priority.

    ``position`` None: relinquish, i.e. release every priority microdc holds on the point
    (``priority`` is then the comfort one). A write at one priority after a write at the
    other relinquishes the other, so microdc holds one priority per point at a time.
    """

    destination: str
    point: PointRef
    position: float | None
    priority: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The router's answer; a new object only when something in it changed.

    ``shares``: the active destinations, summing to 1, empty when relinquishing.
    ``commands``: every valve of every destination, reject first, in destination order.
    ``since``: when the routing last changed. ``request``: the request in charge, if any
    (also while safety or the dwell overrides it). ``blocked``: destinations safety keeps
    closed now (every one but reject during a site-wide trip); ``trips`` says why.
    """

    shares: Shares
    commands: tuple[ValveCommand, ...]
    reason: Reason
    since: float
    request: Request | None
    blocked: frozenset[str]
    trips: tuple[Trip, ...]

    @property
    def relinquish(self) -> bool:
        """Whether the building's own controls are in charge (safety's closures aside)."""
        return not self.shares

    @property
    def safety(self) -> bool:
        """Whether any command is a safety write (at the safety priority)."""
        return self.reason.is_safety or bool(self.blocked)

    def share(self, destination: str) -> float:
        """The destination's share of the heat (0 if it gets none)."""
        return next((s for d, s in self.shares if d == destination), 0.0)

    def trips_for(self, destination: str) -> tuple[Trip, ...]:
        """Why safety holds the destination (site-wide trips included)."""
        return tuple(t for t in self.trips if t.destination in (None, destination))
