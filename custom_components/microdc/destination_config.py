"""A heat destination subentry's settings, typed: what kind of place it is, its valves and meter.

A heat destination is a stockroom, a tenant's space or a shared heating loop, with the valve
point(s) whose opening sends heat there and optionally a heat meter of its own on its branch.
``reject`` (the dry cooler, outdoors) always exists and is not a subentry.

For the heat router (issue 11), optionally: the space temperature point and its limit (°C), a
feedback point per valve (where the valve really is) and the valves' open and closed positions
(%). A subentry stored before these existed reads as no space, no feedback, open 100, closed 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CONF_KIND = "kind"
CONF_VALVES = "valves"
CONF_BRANCH_METER = "branch_meter"
NO_METER = "none"
# The heat router's settings of a destination (all optional).
CONF_SPACE = "space_temperature"
CONF_SPACE_LIMIT = "space_limit"
CONF_FEEDBACK = "feedback"  # valve point -> its feedback point
CONF_OPEN = "open_position"
CONF_CLOSED = "closed_position"
DEFAULT_OPEN_PCT = 100.0
DEFAULT_CLOSED_PCT = 0.0


class DestinationKind(StrEnum):
    """What kind of place a heat destination is."""

    STOCKROOM = "stockroom"
    TENANT = "tenant"
    SHARED_LOOP = "shared_loop"


@dataclass(frozen=True, slots=True)
class HeatDestinationConfig:
    """A heat destination subentry's settings."""

    kind: DestinationKind
    valves: tuple[str, ...]
    branch_meter: str | None
    space: str | None = None
    space_limit: float | None = None
    feedback: Mapping[str, str] = field(default_factory=dict)
    open_pct: float = DEFAULT_OPEN_PCT
    closed_pct: float = DEFAULT_CLOSED_PCT

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> HeatDestinationConfig:
        """Read a subentry's data."""
        meter = data.get(CONF_BRANCH_METER)
        space = data.get(CONF_SPACE) or None
        limit = data.get(CONF_SPACE_LIMIT)
        feedback = data.get(CONF_FEEDBACK) or {}
        return cls(
            kind=DestinationKind(data[CONF_KIND]),
            valves=tuple(str(v) for v in data.get(CONF_VALVES, ())),
            branch_meter=None if meter in (None, "", NO_METER) else str(meter),
            space=None if space is None else str(space),
            space_limit=None if limit is None else float(limit),
            feedback={str(v): str(f) for v, f in dict(feedback).items() if f},
            open_pct=float(data.get(CONF_OPEN, DEFAULT_OPEN_PCT)),
            closed_pct=float(data.get(CONF_CLOSED, DEFAULT_CLOSED_PCT)),
        )

    def as_data(self) -> dict[str, Any]:
        """The subentry's data."""
        data: dict[str, Any] = {
            CONF_KIND: self.kind.value,
            CONF_VALVES: list(self.valves),
            CONF_BRANCH_METER: self.branch_meter,
        }
        # The router's settings only where they say something: a destination without them
        # stores what it stored before routing existed.
        if self.space is not None:
            data[CONF_SPACE] = self.space
            data[CONF_SPACE_LIMIT] = self.space_limit
        if self.feedback:
            data[CONF_FEEDBACK] = dict(self.feedback)
        if (self.open_pct, self.closed_pct) != (DEFAULT_OPEN_PCT, DEFAULT_CLOSED_PCT):
            data[CONF_OPEN] = self.open_pct
            data[CONF_CLOSED] = self.closed_pct
        return data
