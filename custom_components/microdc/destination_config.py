"""A heat destination subentry's settings, typed: what kind of place it is, its valves and meter.

A heat destination is a stockroom, a tenant's space or a shared heating loop, with the valve
point(s) whose opening sends heat there and optionally a heat meter of its own on its branch.
``reject`` (the dry cooler, outdoors) always exists and is not a subentry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CONF_KIND = "kind"
CONF_VALVES = "valves"
CONF_BRANCH_METER = "branch_meter"
NO_METER = "none"


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

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> HeatDestinationConfig:
        """Read a subentry's data."""
        meter = data.get(CONF_BRANCH_METER)
        return cls(
            kind=DestinationKind(data[CONF_KIND]),
            valves=tuple(str(v) for v in data.get(CONF_VALVES, ())),
            branch_meter=None if meter in (None, "", NO_METER) else str(meter),
        )

    def as_data(self) -> dict[str, Any]:
        """The subentry's data."""
        return {
            CONF_KIND: self.kind.value,
            CONF_VALVES: list(self.valves),
            CONF_BRANCH_METER: self.branch_meter,
        }
