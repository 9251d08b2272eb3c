"""What of the router survives a restart, as plain JSON data, checked on the way back in.

Stored: the requests (with their end times), the routing in force and when it last changed
(so the dwell carries on across a restart). Not stored: safety's state, which the first fresh
readings rebuild; a restarted router trusts no trip's clearing it did not see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

from .requests import Request, RequestError, Shares, Source, SourceKind

VERSION = 1


class StoredStateError(ValueError):
    """Stored data that is not a router's state; the message says where and what."""


@dataclass(frozen=True, slots=True)
class StoredState:
    """``routing`` None: nothing decided yet (then ``since`` is None too)."""

    requests: tuple[Request, ...] = ()
    routing: Shares | None = None
    since: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "version": VERSION,
            "requests": [
                {
                    "kind": str(r.source.kind),
                    "name": r.source.name,
                    "shares": dict(r.shares),
                    "created": r.created,
                    "ends": r.ends,
                }
                for r in self.requests
            ],
            "routing": None if self.routing is None else dict(self.routing),
            "since": self.since,
        }

    @classmethod
    def from_dict(cls, data: object) -> StoredState:
        """The state ``to_dict`` wrote; StoredStateError on anything else, nothing dropped."""
        if not isinstance(data, Mapping):
            raise StoredStateError(f"stored routing state is not a mapping: {data!r}")
        if data.get("version") != VERSION:
            raise StoredStateError(f"unknown stored routing version: {data.get('version')!r}")
        raw = data.get("requests")
        if not isinstance(raw, list):
            raise StoredStateError(f"requests: not a list: {raw!r}")
        requests = tuple(_request(f"requests[{i}]", item) for i, item in enumerate(raw))
        sources = [r.source for r in requests]
        if len(set(sources)) != len(sources):
            raise StoredStateError("requests: one source holds two requests")
        routing_raw, since = data.get("routing"), data.get("since")
        if (routing_raw is None) != (since is None):
            raise StoredStateError("routing and since: both stored, or neither")
        routing = None if routing_raw is None else _shares("routing", routing_raw, empty=True)
        return cls(
            tuple(sorted(requests, key=lambda r: (r.source.kind.rank, r.created))),
            routing,
            None if since is None else _time("since", since),
        )


def _request(where: str, item: object) -> Request:
    if not isinstance(item, Mapping):
        raise StoredStateError(f"{where}: not a mapping: {item!r}")
    try:
        source = Source(SourceKind(item.get("kind")), item.get("name"))  # type: ignore[arg-type]
    except (ValueError, RequestError) as err:
        raise StoredStateError(f"{where}: bad source: {err}") from err
    created = _time(f"{where}.created", item.get("created"))
    raw_ends = item.get("ends")
    ends = None if raw_ends is None else _time(f"{where}.ends", raw_ends)
    if ends is not None and ends <= created:
        raise StoredStateError(f"{where}.ends: {ends!r} is not after its creation")
    return Request(source, _shares(f"{where}.shares", item.get("shares")), created, ends)


def _shares(where: str, raw: object, *, empty: bool = False) -> Shares:
    if not isinstance(raw, Mapping) or (not raw and not empty):
        raise StoredStateError(f"{where}: not a mapping of destinations to shares: {raw!r}")
    for destination, share in raw.items():
        if not isinstance(destination, str) or not destination:
            raise StoredStateError(f"{where}: not a destination id: {destination!r}")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise StoredStateError(f"{where}.{destination}: not a share (0-1]: {share!r}")
    if raw and not math.isclose(math.fsum(raw.values()), 1.0, abs_tol=1e-6):
        raise StoredStateError(f"{where}: shares do not sum to 1: {dict(raw)!r}")
    return tuple(sorted((d, float(s)) for d, s in raw.items()))


def _time(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StoredStateError(f"{where}: not a time: {value!r}")
    return float(value)
