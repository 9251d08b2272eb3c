"""Requests for heat: who asks, for which destinations in which shares, until when.

The newest request of the highest-ranked source wins; one source holds one request (a new
one replaces its old one). A request that ends gives way to the next one down.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
import math

Shares = tuple[tuple[str, float], ...]
"""Destination id -> share of the heat, sorted by id, shares summing to 1 (empty: relinquish)."""


class SourceKind(StrEnum):
    """Who asks; a person at the select entity outranks an action, an action an automation."""

    USER = "user"
    ACTION = "action"
    AUTOMATION = "automation"  # automations and blueprints

    @property
    def rank(self) -> int:
        """Higher wins."""
        return _RANK[self]


_RANK = {SourceKind.USER: 3, SourceKind.ACTION: 2, SourceKind.AUTOMATION: 1}


class RequestError(ValueError):
    """A request that cannot be accepted; ``code`` names why for a translated message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Source:
    """Who asks: a kind and a name (the user's or the automation's name, the action's caller)."""

    kind: SourceKind
    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, SourceKind):
            raise RequestError("bad_source", f"not a source kind: {self.kind!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise RequestError("bad_source", "a source needs a name")


@dataclass(frozen=True, slots=True)
class Request:
    """One source's wish: ``shares`` normalised, ``created`` and ``ends`` in the router's time."""

    source: Source
    shares: Shares
    created: float
    ends: float | None = None
    sequence: int = 0  # breaks ties between requests created at the same instant

    def ended(self, now: float) -> bool:
        """Whether the request has run its course."""
        return self.ends is not None and now >= self.ends


def normalise(weights: Mapping[str, float], known: Collection[str]) -> Shares:
    """Weights (any positive numbers) as shares summing to 1; RequestError if they cannot be."""
    if not weights:
        raise RequestError("no_destination", "a request needs at least one destination")
    for destination, weight in weights.items():
        if destination not in known:
            raise RequestError("unknown_destination", f"no heat destination {destination!r}")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise RequestError(
                "bad_weight", f"{destination}: a weight must be a positive number, not {weight!r}"
            )
    total = math.fsum(weights.values())
    return tuple(sorted((d, w / total) for d, w in weights.items()))


class RequestBook:
    """The active requests, at most one per source."""

    __slots__ = ("_by_source", "_sequence")

    def __init__(self) -> None:
        self._by_source: dict[Source, Request] = {}
        self._sequence = 0

    def add(self, request: Request) -> Request:
        """Keep the request (replacing its source's previous one); it is given the next sequence."""
        self._sequence = max(self._sequence, request.sequence) + 1
        kept = Request(
            request.source, request.shares, request.created, request.ends, self._sequence
        )
        self._by_source[request.source] = kept
        return kept

    def release(self, source: Source) -> bool:
        """Drop the source's request; whether it had one."""
        return self._by_source.pop(source, None) is not None

    def release_all(self) -> int:
        """Drop every request; how many there were."""
        count = len(self._by_source)
        self._by_source.clear()
        return count

    def expire(self, now: float) -> None:
        """Drop the requests that have ended."""
        if any(r.ended(now) for r in self._by_source.values()):
            self._by_source = {s: r for s, r in self._by_source.items() if not r.ended(now)}

    def winner(self, now: float) -> Request | None:
        """The request in charge: highest-ranked source, then newest; None if there is none."""
        best: Request | None = None
        for request in self._by_source.values():
            if request.ended(now):
                continue
            if best is None or _key(request) > _key(best):
                best = request
        return best

    @property
    def requests(self) -> tuple[Request, ...]:
        """Every kept request, the winner-to-be last."""
        return tuple(sorted(self._by_source.values(), key=_key))


def _key(request: Request) -> tuple[int, float, int]:
    return (request.source.kind.rank, request.created, request.sequence)
