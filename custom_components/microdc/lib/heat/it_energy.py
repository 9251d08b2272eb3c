"""The rack's IT energy, summed over every device that measures it (pure: no I/O).

A rack fed by two PDUs (A and B feeds, the norm in server rooms) draws its power through both:
its IT energy is the sum of theirs. Each device has its own channel (its own counter baseline,
wraps and gaps), so a counter that wraps or a reading that is missing on one feed never touches
the other's energy. A device that is no longer configured keeps its energy in retired_wh, so the
site's total never goes backwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .channel import EnergyChannel, Interval
from .counter import CounterSpec
from .errors import LedgerStateError


class ItEnergy:
    """IT energy per measuring device (keyed by its subentry id) and their sum."""

    def __init__(self, max_gap_s: float, counters: Mapping[str, CounterSpec | None]) -> None:
        """counters: per device, in the site's order, its energy counter (None: power only)."""
        self.max_gap_s = max_gap_s
        self._counters = dict(counters)
        self.channels = {d: EnergyChannel(max_gap_s, c) for d, c in counters.items()}
        self.power_w: dict[str, float | None] = dict.fromkeys(counters)
        self.retired_wh = 0.0
        """Energy counted by devices no longer configured: kept, never counted again."""

    @property
    def total_wh(self) -> float:
        """All IT energy counted, every device's and the retired devices'."""
        return self.retired_wh + sum(c.total_wh for c in self.channels.values())

    @property
    def wraps(self) -> int:
        """Counter roll-overs, all devices together."""
        return sum(c.wraps for c in self.channels.values())

    @property
    def replacements(self) -> int:
        """Counter jumps no roll-over explains (a replaced or reset meter), all devices."""
        return sum(c.replacements for c in self.channels.values())

    @property
    def set_aside_wh(self) -> float:
        """Counter rises their device's power could not explain, all devices (counted from
        power instead)."""
        return sum(c.set_aside_wh for c in self.channels.values())

    @property
    def unknown_s(self) -> float:
        """Time no device's energy was known for, summed over devices."""
        return sum(c.unknown_s for c in self.channels.values())

    def site_power_w(self) -> float | None:
        """The rack's IT power now: the sum of every device's, None while one is unknown
        (half a dual-feed rack is no reading of the rack)."""
        powers = list(self.power_w.values())
        if not powers or any(p is None for p in powers):
            return None
        return sum(p for p in powers if p is not None)

    def advance(
        self, device_id: str, time_s: float, power_w: float | None, counter_raw: float | None
    ) -> Interval | None:
        """One device's reading; None when it has neither power nor counter."""
        self.power_w[device_id] = power_w
        if power_w is None and counter_raw is None:
            return None
        return self.channels[device_id].advance(time_s, power_w, counter_raw)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {
            "channels": {d: c.to_dict() for d, c in self.channels.items()},
            "retired_wh": self.retired_wh,
        }

    @classmethod
    def from_dict(
        cls, max_gap_s: float, counters: Mapping[str, CounterSpec | None], data: Any
    ) -> ItEnergy:
        """Restore a state saved by to_dict; a saved device not configured now is retired."""
        if not isinstance(data, dict) or not isinstance(data.get("channels"), dict):
            raise LedgerStateError("saved IT energy has no channels")
        restored = cls(max_gap_s, counters)
        retired = data.get("retired_wh", 0.0)
        if isinstance(retired, bool) or not isinstance(retired, int | float) or retired < 0:
            raise LedgerStateError(f"retired_wh must be a number >= 0, got {retired!r}")
        restored.retired_wh = float(retired)
        for device_id, saved in data["channels"].items():
            restored._restore_channel(device_id, saved)
        return restored

    @classmethod
    def from_single_channel(
        cls, max_gap_s: float, counters: Mapping[str, CounterSpec | None], data: Any
    ) -> ItEnergy:
        """Restore the one IT channel saved by microdc 0.1.0.

        0.1.0 counted only the site's first IT device: its channel (total and counter baseline)
        goes on as that device's; with no IT device configured now, its total is retired.
        """
        if not isinstance(data, dict):
            raise LedgerStateError("saved IT energy is not a channel")
        restored = cls(max_gap_s, counters)
        first = next(iter(counters), None)
        if first is None:
            restored.retired_wh = EnergyChannel.from_dict(max_gap_s, None, data).total_wh
        else:
            restored._restore_channel(first, data)
        return restored

    def _restore_channel(self, device_id: str, saved: Any) -> None:
        if not isinstance(saved, dict):
            raise LedgerStateError(f"saved IT channel {device_id} is not a mapping")
        if device_id in self._counters:
            self.channels[device_id] = EnergyChannel.from_dict(
                self.max_gap_s, self._counters[device_id], saved
            )
        else:
            self.retired_wh += EnergyChannel.from_dict(self.max_gap_s, None, saved).total_wh
