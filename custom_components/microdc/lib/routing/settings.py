"""The site's routing settings: limits, timers and BACnet priorities, validated once.

BACnet priorities (ASHRAE 135, clause 19.2): 1 and 2 are life safety, 3 and 4 are free for
the site's own critical uses, 5 is critical equipment control, 6 is the minimum on/off
algorithm, 8 is the operator's manual command. microdc never writes at 1-4 (life safety is
not ours to take) nor at 6 (it would fight the device's own minimum on/off timers); comfort
writes sit below the operator's 8 so a person at the building's front end always wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
import math


class DefaultRouting(StrEnum):
    """Where heat goes when nobody asks for anything."""

    REJECT = "reject"  # to the dry cooler / outdoors
    RELINQUISH = "relinquish"  # leave the building's own controls in charge


class SettingsError(ValueError):
    """A setting out of range; ``field`` and ``code`` name it for a translated message."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.code = code


LIFE_SAFETY_PRIORITIES = range(1, 5)
MINIMUM_ON_OFF_PRIORITY = 6
OPERATOR_PRIORITY = 8


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """Everything the router and its safety layer are tuned by (times in s, temperatures in °C)."""

    exhaust_limit: float = 45.0  # rack exhaust above this: everything to reject
    supply_limit: float = 60.0  # loop supply above this: everything to reject
    hysteresis: float = 2.0  # K: a temperature trip clears at its limit minus this
    hold: float = 300.0  # a trip clears only after its clear condition held this long
    dwell: float = 600.0  # minimum time between two routing changes that safety did not force
    grace: float = 120.0  # a safety input may be unavailable this long before it trips
    confirm_timeout: float = 180.0  # a valve's feedback must confirm its command within this
    tolerance: float = 5.0  # %: how far feedback may be from the command and still confirm it
    default: DefaultRouting = DefaultRouting.REJECT
    comfort_priority: int = 12
    safety_priority: int = 5
    monitor_only: bool = False  # nothing is written, so no feedback is expected to follow

    def __post_init__(self) -> None:
        _between("exhaust_limit", self.exhaust_limit, 15.0, 90.0)
        _between("supply_limit", self.supply_limit, 15.0, 100.0)
        _between("hysteresis", self.hysteresis, 0.1, 20.0)
        _between("hold", self.hold, 0.0, 86400.0)
        _between("dwell", self.dwell, 0.0, 86400.0)
        _between("grace", self.grace, 0.0, 3600.0)
        _between("confirm_timeout", self.confirm_timeout, 1.0, 3600.0)
        _between("tolerance", self.tolerance, 0.5, 50.0)
        if not isinstance(self.default, DefaultRouting):
            raise SettingsError("default", "invalid", f"not a default routing: {self.default!r}")
        _priority("safety_priority", self.safety_priority)
        _priority("comfort_priority", self.comfort_priority)
        if self.comfort_priority <= OPERATOR_PRIORITY:
            raise SettingsError(
                "comfort_priority",
                "above_operator",
                f"{self.comfort_priority} would override the operator's manual priority 8; "
                "use 9-16",
            )
        if self.safety_priority >= self.comfort_priority:
            raise SettingsError(
                "safety_priority",
                "not_above_comfort",
                f"{self.safety_priority} must be a higher priority (a smaller number) than the "
                f"comfort priority {self.comfort_priority}",
            )


def _between(field: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(field, "invalid", f"not a number: {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(field, "out_of_range", f"{value} is not within {low}-{high}")


def _priority(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise SettingsError(field, "invalid", f"not a BACnet priority (1-16): {value!r}")
    if value in LIFE_SAFETY_PRIORITIES:
        raise SettingsError(
            field,
            "life_safety",
            f"{value} is reserved for life safety (1-4); use 5 (critical equipment) or above",
        )
    if value == MINIMUM_ON_OFF_PRIORITY:
        raise SettingsError(
            field, "minimum_on_off", "6 is the device's minimum on/off priority; use another"
        )
