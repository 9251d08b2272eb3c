"""The heat ledger: recovered energy per heat destination, from a site's circuits.

A circuit is one measured part of the loop and the heat destinations its heat can reach: the
rack's main loop (every destination, divided by valve shares), or a branch with its own meter
(one destination). Each circuit is an EnergyChannel (see channel.py for how power and counters
become energy, gaps, wraps and replaced meters). The ledger divides each interval's energy
between the circuit's destinations:

* one destination: all of it;
* several: by the trapezoid of power x share over the interval, i.e. (P0·s0 + P1·s1) / 2 · Δt
  for each destination, scaled to the interval's energy (which is the meter's when there is
  one). Without power at both ends, by the mean of the shares at both ends;
* an interval longer than the gap limit whose energy is nevertheless known (from a counter):
  to ``unattributed``, since the valves may have moved in between. It counts in captured heat,
  in neither reused nor rejected heat.

Every total only grows. to_dict() / from_dict() carry everything needed to resume after a
restart: the totals and, per circuit, the last reading, so the first interval after a restart is
neither lost (a counter covers it, or the trapezoid if within the gap limit) nor counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math
from typing import Any

from .attribution import REJECT
from .channel import EnergyChannel, Interval
from .counter import CounterSpec
from .errors import HeatDomainError, LedgerStateError

STATE_VERSION = 1
_SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Circuit:
    """A measured part of the loop: its id, the destinations it feeds, its counter if any."""

    circuit_id: str
    destinations: tuple[str, ...]
    counter: CounterSpec | None = None

    def __post_init__(self) -> None:
        if not self.circuit_id:
            raise HeatDomainError("a circuit needs a non-empty id")
        if not self.destinations:
            raise HeatDomainError(f"circuit {self.circuit_id!r} feeds no heat destination")
        if len(set(self.destinations)) != len(self.destinations):
            raise HeatDomainError(f"circuit {self.circuit_id!r} names a destination twice")


@dataclass(frozen=True, slots=True)
class CircuitReading:
    """One circuit's reading at one time; any field may be missing (None).

    power_w: the circuit's thermal power in W (computed from flow and temperatures, or the
        meter's own power register).
    counter: the raw value of the circuit's energy counter register.
    shares: fraction of the circuit's heat per destination (see shares_by_valves); required
        when the circuit feeds more than one destination.
    """

    power_w: float | None = None
    counter: float | None = None
    shares: Mapping[str, float] | None = None


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """A snapshot of the ledger's figures, energies in Wh."""

    by_destination_wh: Mapping[str, float]
    unattributed_wh: float
    computed_wh: float
    """The trapezoid cross-check, summed over circuits (equals captured heat without meters)."""
    unknown_s: float
    gap_count: int
    wraps: int
    replacements: int
    set_aside_wh: float = 0.0
    """Meter rises their power could not explain, counted from power instead (channel.py)."""
    reused_wh: float = field(init=False)
    """Heat delivered to destinations other than reject."""
    rejected_wh: float = field(init=False)
    captured_wh: float = field(init=False)
    """All heat the loop carried away from the rack: reused + rejected + unattributed."""

    def __post_init__(self) -> None:
        reused = math.fsum(e for d, e in self.by_destination_wh.items() if d != REJECT)
        rejected = self.by_destination_wh.get(REJECT, 0.0)
        object.__setattr__(self, "reused_wh", reused)
        object.__setattr__(self, "rejected_wh", rejected)
        object.__setattr__(self, "captured_wh", reused + rejected + self.unattributed_wh)


class HeatLedger:
    """Recovered heat per destination for one site."""

    def __init__(self, circuits: Sequence[Circuit], max_gap_s: float) -> None:
        ids = [c.circuit_id for c in circuits]
        if len(set(ids)) != len(ids):
            raise HeatDomainError(f"circuit ids must be unique, got {ids}")
        seen: dict[str, str] = {}
        for circuit in circuits:
            for destination in circuit.destinations:
                if destination in seen:
                    raise HeatDomainError(
                        f"destination {destination!r} is fed by circuits "
                        f"{seen[destination]!r} and {circuit.circuit_id!r}; each destination "
                        "must belong to one circuit"
                    )
                seen[destination] = circuit.circuit_id
        if not (math.isfinite(max_gap_s) and max_gap_s > 0):
            raise HeatDomainError(f"max_gap_s must be > 0, got {max_gap_s}")
        self.max_gap_s = max_gap_s
        self._circuits = {c.circuit_id: c for c in circuits}
        self._channels = {c.circuit_id: EnergyChannel(max_gap_s, c.counter) for c in circuits}
        self._shares: dict[str, dict[str, float] | None] = dict.fromkeys(self._circuits)
        self._by_destination = dict.fromkeys((REJECT, *seen), 0.0)
        self._unattributed = 0.0

    @property
    def circuits(self) -> tuple[Circuit, ...]:
        """The circuits, as configured."""
        return tuple(self._circuits.values())

    def channel(self, circuit_id: str) -> EnergyChannel:
        """A circuit's channel, for its own figures (computed_wh, wraps, unknown_s, ...)."""
        try:
            return self._channels[circuit_id]
        except KeyError:
            raise HeatDomainError(f"unknown circuit {circuit_id!r}") from None

    def record(self, time_s: float, readings: Mapping[str, CircuitReading]) -> dict[str, Interval]:
        """Account for the readings taken at time_s (a UNIX timestamp in s), per circuit id.

        A circuit left out (its device is offline) is not advanced; its next reading covers the
        whole interval, within the gap rules. Every reading is checked before anything changes:
        on HeatDomainError the ledger is exactly as it was.
        """
        checked: dict[str, dict[str, float] | None] = {}
        for circuit_id, reading in readings.items():
            circuit = self._circuits.get(circuit_id)
            if circuit is None:
                raise HeatDomainError(
                    f"unknown circuit {circuit_id!r}; known: {', '.join(self._circuits)}"
                )
            self._channels[circuit_id].check(time_s, reading.power_w, reading.counter)
            checked[circuit_id] = _checked_shares(circuit, reading.shares)
        intervals: dict[str, Interval] = {}
        for circuit_id, reading in readings.items():
            if reading.power_w is None and reading.counter is None:
                continue  # nothing measured: the circuit's last good reading stays the baseline
            interval = self._channels[circuit_id].advance(time_s, reading.power_w, reading.counter)
            self._attribute(self._circuits[circuit_id], interval, checked[circuit_id])
            self._shares[circuit_id] = checked[circuit_id]
            intervals[circuit_id] = interval
        return intervals

    def _attribute(
        self, circuit: Circuit, interval: Interval, end_shares: dict[str, float] | None
    ) -> None:
        energy = interval.energy_wh
        if not energy:
            return
        if len(circuit.destinations) == 1:
            self._by_destination[circuit.destinations[0]] += energy
            return
        start_shares = self._shares[circuit.circuit_id]
        if not interval.within_gap_limit or start_shares is None or end_shares is None:
            self._unattributed += energy
            return
        p0, p1 = interval.start_power_w, interval.end_power_w
        if p0 is None or p1 is None or p0 + p1 == 0:
            p0 = p1 = 1.0  # no power profile: the shares' mean
        weights = {
            d: p0 * start_shares.get(d, 0.0) + p1 * end_shares.get(d, 0.0)
            for d in circuit.destinations
        }
        total = math.fsum(weights.values())
        for destination, weight in weights.items():
            self._by_destination[destination] += energy * weight / total

    def power_by_destination_w(self) -> dict[str, float]:
        """The latest power per destination (W): each circuit's last power times its shares.

        Circuits whose last reading had no power contribute nothing; whether a value is too old
        to show is the caller's decision (it knows its devices' availability). A circuit with
        several destinations but no known split (restored after its valves were reconfigured,
        until its next reading) counts as ``reject``, as when every valve is closed: its heat
        is still recovered, but none of it is claimed as reused.
        """
        power = dict.fromkeys(self._by_destination, 0.0)
        for circuit_id, circuit in self._circuits.items():
            last = self._channels[circuit_id].last_power_w
            if last is None:
                continue
            shares = self._shares[circuit_id]
            if shares is None:
                only = circuit.destinations[0] if len(circuit.destinations) == 1 else REJECT
                shares = {only: 1.0}
            for destination, share in shares.items():
                power[destination] += last * share
        return power

    def totals(self) -> LedgerTotals:
        """The ledger's figures now."""
        channels = self._channels.values()
        return LedgerTotals(
            by_destination_wh=dict(self._by_destination),
            unattributed_wh=self._unattributed,
            computed_wh=math.fsum(c.computed_wh for c in channels),
            unknown_s=math.fsum(c.unknown_s for c in channels),
            gap_count=sum(c.gap_count for c in channels),
            wraps=sum(c.wraps for c in channels),
            replacements=sum(c.replacements for c in channels),
            set_aside_wh=math.fsum(c.set_aside_wh for c in channels),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state; from_dict() with the same circuits resumes exactly."""
        return {
            "version": STATE_VERSION,
            "by_destination_wh": dict(self._by_destination),
            "unattributed_wh": self._unattributed,
            "circuits": {
                cid: {**channel.to_dict(), "shares": self._shares[cid]}
                for cid, channel in self._channels.items()
            },
        }

    @classmethod
    def from_dict(
        cls, circuits: Sequence[Circuit], max_gap_s: float, data: Mapping[str, Any]
    ) -> HeatLedger:
        """Restore a ledger saved by to_dict, under the site's current configuration.

        Totals of destinations no longer configured are kept (they never vanish); new circuits
        and destinations start from nothing. Raises LedgerStateError for unusable data.
        """
        ledger = cls(circuits, max_gap_s)
        if data.get("version") != STATE_VERSION:
            raise LedgerStateError(f"unsupported ledger state version {data.get('version')!r}")
        totals = data.get("by_destination_wh")
        if not isinstance(totals, dict):
            raise LedgerStateError("ledger state lacks by_destination_wh")
        for destination, energy in totals.items():
            ledger._by_destination[str(destination)] = _energy(destination, energy)
        ledger._unattributed = _energy("unattributed_wh", data.get("unattributed_wh", 0.0))
        saved_circuits = data.get("circuits", {})
        if not isinstance(saved_circuits, dict):
            raise LedgerStateError("ledger state's circuits must be a mapping")
        for circuit_id, saved in saved_circuits.items():
            circuit = ledger._circuits.get(circuit_id)
            if circuit is None or not isinstance(saved, dict):
                continue  # a circuit that no longer exists: its energy is already in the totals
            ledger._channels[circuit_id] = EnergyChannel.from_dict(
                max_gap_s, circuit.counter, saved
            )
            try:
                ledger._shares[circuit_id] = _checked_shares(circuit, saved.get("shares"))
            except HeatDomainError:
                ledger._shares[circuit_id] = None  # valves reconfigured: split unknown
        return ledger


def _energy(name: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LedgerStateError(f"saved energy of {name!r} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise LedgerStateError(f"saved energy of {name!r} must be finite and >= 0, got {value}")
    return float(value)


def _checked_shares(
    circuit: Circuit, shares: Mapping[str, float] | None
) -> dict[str, float] | None:
    """The shares normalised to sum to 1, or None for a one-destination circuit."""
    if len(circuit.destinations) == 1:
        return None
    if shares is None:
        raise HeatDomainError(
            f"circuit {circuit.circuit_id!r} feeds several destinations: its reading needs shares"
        )
    unknown = set(shares) - set(circuit.destinations)
    if unknown:
        raise HeatDomainError(
            f"shares name destinations {sorted(unknown)} that circuit {circuit.circuit_id!r} "
            "does not feed"
        )
    for destination, share in shares.items():
        if isinstance(share, bool) or not isinstance(share, int | float):
            raise HeatDomainError(f"share of {destination!r} must be a number, got {share!r}")
        if not (math.isfinite(share) and share >= 0):
            raise HeatDomainError(f"share of {destination!r} must be >= 0, got {share}")
    total = math.fsum(shares.values())
    if abs(total - 1) > _SHARE_TOLERANCE:
        raise HeatDomainError(f"shares must sum to 1, got {total}")
    return {d: shares.get(d, 0.0) / total for d in circuit.destinations}
