"""Heat destinations: where heat can go, through which valves, and how warm the space may get."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
import math

from ..points import PointRef

REJECT = "reject"
"""The id of the destination that is always there: the dry cooler, outdoors."""


class DestinationKind(StrEnum):
    """What a destination is (the reject destination is the only one of its kind)."""

    STOCKROOM = "stockroom"
    TENANT = "tenant"
    SHARED_LOOP = "shared_loop"
    REJECT = "reject"


class DestinationError(ValueError):
    """A destination or valve that cannot be routed safely; ``code`` names why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Valve:
    """One valve that routes heat to a destination.

    ``open`` and ``closed`` are the command point's positions in %; ``open`` may be below
    ``closed`` (a reverse-acting valve). ``feedback``, where there is one, reports where the
    valve really is, in the same %.
    """

    command: PointRef
    open: float = 100.0
    closed: float = 0.0
    feedback: PointRef | None = None

    def __post_init__(self) -> None:
        for name, value in (("open", self.open), ("closed", self.closed)):
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise DestinationError("bad_position", f"{self.command}: {name} is not a number")
            if not 0.0 <= value <= 100.0:
                raise DestinationError(
                    "bad_position", f"{self.command}: {name} position {value} is not 0-100 %"
                )
        if self.open == self.closed:
            raise DestinationError(
                "open_is_closed", f"{self.command}: open and closed are both {self.open} %"
            )
        if self.feedback == self.command:
            raise DestinationError(
                "feedback_is_command", f"{self.command}: feedback is the command point itself"
            )

    def position(self, share: float) -> float:
        """The command for a share of the heat: linear between closed (0) and open (1)."""
        return self.closed + share * (self.open - self.closed)


@dataclass(frozen=True, slots=True)
class Destination:
    """A place heat can go; ``space`` and ``space_limit`` (°C) go together or not at all."""

    id: str
    name: str
    kind: DestinationKind
    valves: tuple[Valve, ...] = ()
    space: PointRef | None = None
    space_limit: float | None = None

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise DestinationError("bad_id", f"a destination's id must be text: {self.id!r}")
        if (self.kind is DestinationKind.REJECT) != (self.id == REJECT):
            raise DestinationError(
                "bad_reject", f"{self.id}: only the destination {REJECT!r} is of kind reject"
            )
        if (self.space is None) != (self.space_limit is None):
            raise DestinationError(
                "space_without_limit",
                f"{self.id}: a space temperature needs its limit, and a limit its temperature",
            )
        if self.space_limit is not None:
            if self.kind is DestinationKind.REJECT:
                raise DestinationError("bad_reject", f"{REJECT}: reject has no space to protect")
            if not math.isfinite(self.space_limit) or not 5.0 <= self.space_limit <= 60.0:
                raise DestinationError(
                    "bad_space_limit", f"{self.id}: space limit {self.space_limit} is not 5-60 °C"
                )
        if self.kind is not DestinationKind.REJECT and not self.valves:
            raise DestinationError("no_valve", f"{self.id}: a destination needs a valve")


def site_destinations(destinations: Iterable[Destination]) -> tuple[Destination, ...]:
    """The site's destinations, reject first (added, valveless, if missing); checked as a whole.

    A valve point belongs to one destination: two destinations commanding one point would
    fight. A three-way diverting valve between a destination and reject is that destination's
    valve (open towards it), with reject valveless.
    """
    found = tuple(destinations)
    ids = [destination.id for destination in found]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise DestinationError("duplicate_id", f"two destinations are called {duplicate!r}")
    owner: dict[PointRef, str] = {}
    for destination in found:
        for valve in destination.valves:
            for ref in (valve.command, valve.feedback):
                if ref is None:
                    continue
                if ref in owner and (owner[ref] != destination.id or ref == valve.command):
                    raise DestinationError(
                        "shared_valve",
                        f"{ref} is a valve point of both {owner[ref]!r} and {destination.id!r}",
                    )
                owner[ref] = destination.id
    reject = [d for d in found if d.id == REJECT]
    others = tuple(d for d in found if d.id != REJECT)
    if not reject:
        reject = [Destination(REJECT, "Reject", DestinationKind.REJECT)]
    return (reject[0], *others)
