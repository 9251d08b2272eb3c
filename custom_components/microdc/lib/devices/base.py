"""The Device interface: one thing on the network that microdc talks to, whatever its protocol.

The glue holds one coordinator per Device and never looks behind this interface: a role makes
the same entity, and heat accounting and the router find the same inputs, whether the point is
a Modbus register or a BACnet object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..points import Point, Reading, Role, Value, ValueKind

# BACnet reserves priorities 1-4 for life safety and critical plant interlocks; no supervisory
# software, microdc included, writes there (DESIGN.md, Safety first).
LOWEST_RESERVED_PRIORITY = 4
HIGHEST_PRIORITY = 16

type PushHandler = Callable[[Mapping[str, Reading]], None]


class CommandJournal(Protocol):
    """Where a device notes the commands it writes for one site, kept across restarts.

    A BACnet priority array slot does not say who wrote it: two sites (or microdc and another
    client) at the same priority look alike. The journal lets a site adopt after a restart, and
    so later relinquish, only what it wrote itself.
    """

    def recorded(self) -> Mapping[str, Mapping[int, Value]]:
        """Point key -> priority -> value this site wrote and has not given back."""
        ...

    async def async_written(self, key: str, priority: int, value: Value) -> None:
        """Note a command (saved at once: a crash right after must not make it anonymous)."""
        ...

    async def async_forgotten(self, key: str, priority: int) -> None:
        """Forget a command that was given back or overwritten."""
        ...


class DeviceError(Exception):
    """A device could not be read or written.

    ``reason`` is a stable key the glue turns into a translated message; the text says what
    happened for the log.
    """

    reason = "communication_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        """Keep the message; reason overrides the class's own."""
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class WriteRefusedError(DeviceError):
    """microdc refuses the write itself: not a writable point, a value out of its range."""

    reason = "write_refused"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What the device registry shows of a device."""

    manufacturer: str
    model: str
    model_id: str | None = None
    # The software the device reports of itself (a device with a firmware point says it in
    # every poll instead).
    sw_version: str | None = None


@dataclass(frozen=True, slots=True)
class PollReport:
    """One poll's readings by point key, and what it cost (None where a protocol does not say)."""

    readings: Mapping[str, Reading]
    requests: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Value | None]:
        """The values alone, for callers that do not need status flags."""
        return {key: reading.value for key, reading in self.readings.items()}


def check_priority(priority: int) -> None:
    """Refuse a priority microdc must never write at (1-4) or one BACnet does not have."""
    if not LOWEST_RESERVED_PRIORITY < priority <= HIGHEST_PRIORITY:
        raise WriteRefusedError(
            f"priority {priority} is not one microdc writes at "
            f"({LOWEST_RESERVED_PRIORITY + 1}-{HIGHEST_PRIORITY})",
            reason="priority_not_allowed",
        )


def checked_value(point: Point, value: Value) -> Value:
    """The value to write to a point, or WriteRefusedError saying why it cannot be written."""
    if not point.writable:
        raise WriteRefusedError(f"{point.key} is not writable", reason="not_writable")
    match point.kind:
        case ValueKind.BOOL if isinstance(value, bool):
            return value
        case ValueKind.STATE if isinstance(value, str) and value in point.options:
            return value
        case ValueKind.NUMBER if isinstance(value, int | float) and not isinstance(value, bool):
            if value != value or value in (float("inf"), float("-inf")):  # noqa: PLR0124 - NaN
                raise WriteRefusedError(f"{point.key}: {value} is not a number", reason="bad_value")
            low, high = point.minimum, point.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                raise WriteRefusedError(
                    f"{point.key}: {value} is outside {low}..{high}", reason="out_of_range"
                )
            return value
    raise WriteRefusedError(
        f"{point.key}: {value!r} is not a {point.kind} value", reason="bad_value"
    )


class Device(ABC):
    """One device: its points, how to read them, write them and give commands back."""

    name: str
    points: Mapping[str, Point]

    @property
    @abstractmethod
    def identity(self) -> DeviceIdentity:
        """Manufacturer and model, for the device registry."""

    @property
    def releases(self) -> bool:
        """Whether a command can be given back (a priority array to relinquish)."""
        return False

    @property
    def held(self) -> frozenset[str]:
        """Points microdc has commanded and not given back (empty for protocols with no
        priority array)."""
        return frozenset()

    def set_push_handler(self, handler: PushHandler | None) -> None:  # noqa: B027
        """Where the device delivers changes between polls (nothing by default)."""

    @abstractmethod
    async def poll(self) -> PollReport:
        """Read every point once; DeviceError when the device cannot be read."""

    @abstractmethod
    async def write(self, key: str, value: Value, *, priority: int) -> Reading:
        """Command a point and return its reading afterwards; DeviceError on refusal."""

    async def release(self, key: str, *, priority: int) -> Reading | None:
        """Give a command back so the building's own control takes over (no-op by default:
        a Modbus register keeps the last value written; there is nothing to relinquish)."""
        return None

    async def priority_in_control(self, key: str) -> int | None:
        """The priority whose command the point follows now (None: no priority array, or
        none holds it, so its default is in control); DeviceError if it cannot be read."""
        return None

    async def release_all(self) -> None:  # noqa: B027
        """Give back every command microdc holds (on unload and on release)."""

    @abstractmethod
    async def close(self) -> None:
        """Stop and free the device's share of its connection."""

    def firmware(self, report: PollReport | None) -> str | None:
        """The firmware version a poll read (its firmware role point), if any."""
        if report is None:
            return None
        key = next((p.key for p in self.points.values() if p.role is Role.FIRMWARE_VERSION), None)
        reading = None if key is None else report.readings.get(key)
        return None if reading is None or reading.value is None else str(reading.value)

    def diagnostics(self) -> dict[str, Any]:
        """What the diagnostics download shows of the device (the glue redacts addresses)."""
        return {}
