"""Heat accounting for one site: Home Assistant glue around the heat domain's ledger.

It finds its inputs by role across the site's devices, whatever their protocol (the rack
loop's flow and temperatures or heat meter, branch meters, the valves named by the heat
destinations, the rack's IT power and energy), feeds the heat ledger and the IT energy channel
each time the device that measures them has been polled, and keeps their state in one Store per
site, restored when the site starts. No physics here: every figure comes from lib/heat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SUBENTRY_HEAT_DESTINATION
from .coordinator import DeviceCoordinator
from .destination_config import HeatDestinationConfig
from .lib.heat import (
    REJECT,
    Circuit,
    CircuitReading,
    CounterEvent,
    CounterSpec,
    HeatDomainError,
    HeatLedger,
    Interval,
    LedgerTotals,
    PeriodStart,
    energy_reuse_factor,
    recovery_ratio,
    shares_by_valves,
)
from .lib.heat.energy_points import number
from .lib.heat.inputs import ItPoints, LoopPoints
from .lib.heat.it_energy import ItEnergy
from .lib.points import PointRef
from .settings import HeatOptions

_LOGGER = logging.getLogger(__name__)

STORE_VERSION = 1
SAVE_DELAY_S = 5  # the recorder reads a fall of 10 % as a meter reset: save often
MAIN_CIRCUIT = "main"


def utc_timestamp() -> float:
    """Now, as the ledgers stamp their readings (UNIX time, s)."""
    return dt_util.utcnow().timestamp()


@dataclass(frozen=True, slots=True)
class LoopMeter:
    """A device that measures a circuit of the loop, and its points (lib/heat/inputs.py)."""

    coordinator: DeviceCoordinator
    points: LoopPoints

    @classmethod
    def find(cls, coordinator: DeviceCoordinator) -> LoopMeter | None:
        """The device as a loop meter, or None if it cannot measure heat."""
        points = LoopPoints.find(coordinator.device.points.values())
        return None if points is None else cls(coordinator, points)

    @property
    def counter(self) -> CounterSpec | None:
        return self.points.counter

    def reading(self, options: HeatOptions) -> tuple[float | None, float | None]:
        """(thermal power in W, raw energy counter) now; None where unknown."""
        if not self.coordinator.last_update_success:
            return None, None
        return self.points.reading(self.coordinator.value, options.fluid)


@dataclass(frozen=True, slots=True)
class ItMeter:
    """A device that measures the rack's electricity (one PDU of its feeds), and its points."""

    coordinator: DeviceCoordinator
    points: ItPoints

    @classmethod
    def find(cls, coordinator: DeviceCoordinator) -> ItMeter | None:
        """The device as an IT meter, or None if it measures no IT power or energy."""
        points = ItPoints.find(coordinator.device.points.values())
        return None if points is None else cls(coordinator, points)

    @property
    def counter(self) -> CounterSpec | None:
        return self.points.counter

    @property
    def device_id(self) -> str:
        return self.coordinator.subentry.subentry_id

    def reading(self) -> tuple[float | None, float | None]:
        """(IT power in W, raw energy counter) now; None where unknown."""
        if not self.coordinator.last_update_success:
            return None, None
        return self.points.reading(self.coordinator.value)


@dataclass(frozen=True, slots=True)
class Destination:
    """A heat destination as the accounting sees it: its subentry, name and inputs."""

    destination_id: str  # the subentry id: the ledger's key, stable across renames
    name: str
    config: HeatDestinationConfig


class SiteHeatAccounting:
    """The heat ledger and the IT energy of one site, fed by its device coordinators."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        coordinators: Mapping[str, DeviceCoordinator],
    ) -> None:
        """Find the inputs among the site's devices (by subentry id); nothing is read or
        restored until async_start()."""
        self.hass = hass
        self._sources = dict(coordinators)
        self.entry = entry
        self.options = HeatOptions.from_entry(entry)
        self._coordinators = dict(coordinators)
        self.destinations = [
            Destination(s.subentry_id, s.title, HeatDestinationConfig.from_data(s.data))
            for s in entry.subentries.values()
            if s.subentry_type == SUBENTRY_HEAT_DESTINATION
        ]
        branch = {d.config.branch_meter: d for d in self.destinations if d.config.branch_meter}
        self.branch_meters: dict[str, LoopMeter] = {}
        for device_id, destination in branch.items():
            found = device_id in self._coordinators and LoopMeter.find(
                self._coordinators[device_id]
            )
            if found:
                self.branch_meters[destination.destination_id] = found
            else:
                _LOGGER.warning(
                    "%s: the branch meter of %s measures no heat; the destination shares "
                    "the loop's heat by valve opening instead",
                    entry.title,
                    destination.name,
                )
        self.main_meter = next(
            (
                meter
                for device_id, c in self._coordinators.items()
                if device_id not in branch and (meter := LoopMeter.find(c)) is not None
            ),
            None,
        )
        # Every device that measures the rack's IT power counts: a dual-feed rack draws its
        # power through two PDUs, and its IT energy is the sum of theirs.
        self.it_meters = [
            m for c in self._coordinators.values() if (m := ItMeter.find(c)) is not None
        ]
        self.shared = tuple(
            d.destination_id
            for d in self.destinations
            if d.destination_id not in self.branch_meters
        )
        self.circuits = [
            Circuit(
                MAIN_CIRCUIT,
                (*self.shared, REJECT),
                None if self.main_meter is None else self.main_meter.counter,
            ),
            *(
                Circuit(destination_id, (destination_id,), meter.counter)
                for destination_id, meter in self.branch_meters.items()
            ),
        ]
        self.ledger = HeatLedger(self.circuits, self.options.max_gap_s)
        self.it = self._new_it_energy()
        self.today: PeriodStart | None = None
        self._store = heat_store(hass, entry.entry_id)
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._told_set_aside: set[str] = set()  # channels whose set-aside energy was logged

    def _it_counters(self) -> dict[str, CounterSpec | None]:
        return {m.device_id: m.counter for m in self.it_meters}

    def _new_it_energy(self) -> ItEnergy:
        return ItEnergy(self.options.max_gap_s, self._it_counters())

    def _restore_it(self, saved: Mapping[str, Any]) -> ItEnergy:
        """The saved IT energy: per device, or the single channel of microdc 0.1.0."""
        max_gap, counters = self.options.max_gap_s, self._it_counters()
        if "it_meters" in saved:
            return ItEnergy.from_dict(max_gap, counters, saved["it_meters"])
        return ItEnergy.from_single_channel(max_gap, counters, saved["it"])

    @property
    def it_total_wh(self) -> float:
        """The rack's IT energy: every IT device's, summed."""
        return self.it.total_wh

    @property
    def it_power_w(self) -> float | None:
        """The rack's IT power now (W): every IT device's, summed; None while one is unknown."""
        return self.it.site_power_w()

    def it_meter_names(self) -> list[str]:
        """The devices whose IT energy the site sums, by name."""
        return [m.coordinator.subentry.title for m in self.it_meters]

    # --- lifecycle ---------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore the saved state, take the current readings, follow the coordinators."""
        saved = await self._store.async_load()
        if saved is not None:
            self._restore(saved)
        watched: dict[DeviceCoordinator, list[Callable[[], None]]] = {}
        if self.main_meter is not None:
            watched.setdefault(self.main_meter.coordinator, []).append(self._record_main)
        for destination_id, meter in self.branch_meters.items():
            watched.setdefault(meter.coordinator, []).append(
                partial(self._record_branch, destination_id, meter)
            )
        for it_meter in self.it_meters:
            watched.setdefault(it_meter.coordinator, []).append(partial(self._record_it, it_meter))
        for coordinator, handlers in watched.items():

            @callback
            def _updated(handlers: list[Callable[[], None]] = handlers) -> None:
                for handler in handlers:
                    handler()
                self._changed()

            self._unsubscribe.append(coordinator.async_add_listener(_updated))
            if coordinator.last_update_success and coordinator.data is not None:
                for handler in handlers:
                    handler()
        self._changed()

    async def async_stop(self) -> None:
        """Stop following the coordinators and save now."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._store.async_save(self._as_dict())

    def _restore(self, saved: Mapping[str, Any]) -> None:
        max_gap = self.options.max_gap_s
        try:
            ledger = HeatLedger.from_dict(self.circuits, max_gap, saved["ledger"])
            it = self._restore_it(saved)
        except (KeyError, TypeError, HeatDomainError) as err:
            _LOGGER.error(  # noqa: TRY400 - the reason is in the message; no traceback helps
                "%s: the saved heat accounting cannot be used (%s); counting starts again",
                self.entry.title,
                err,
            )
            return
        self.ledger, self.it = ledger, it
        today = saved.get("today")
        if isinstance(today, dict):
            try:
                self.today = PeriodStart(
                    str(today["period"]),
                    float(today["reused_wh"]),
                    float(today["data_centre_wh"]),
                )
            except KeyError, TypeError, ValueError:
                self.today = None

    def _as_dict(self) -> dict[str, Any]:
        today = self.today
        return {
            "ledger": self.ledger.to_dict(),
            "it_meters": self.it.to_dict(),
            "today": None
            if today is None
            else {
                "period": today.period,
                "reused_wh": today.reused_wh,
                "data_centre_wh": today.data_centre_wh,
            },
        }

    # --- readings ----------------------------------------------------------------------

    def openings(self) -> dict[str, float] | None:
        """Valve opening (%) per shared destination; None while any valve is unknown.

        A destination opened by several valves (e.g. in its supply and return) is as open as
        its most closed valve.
        """
        openings: dict[str, float] = {}
        for destination in self.destinations:
            if destination.destination_id not in self.shared:
                continue
            values = [self._point_value(ref) for ref in destination.config.valves]
            known = [v for v in values if v is not None]
            if not known or len(known) != len(values):
                return None
            openings[destination.destination_id] = min(max(min(known), 0.0), 100.0)
        return openings

    def _point_value(self, ref: str) -> float | None:
        try:
            device_id, key = PointRef.parse(ref)
        except ValueError:
            return None
        source = self._sources.get(device_id)
        if source is None or not source.last_update_success:
            return None
        return number(source.value(key))

    def _now(self) -> float:
        return utc_timestamp()

    def _record(self, circuit_id: str, reading: CircuitReading) -> None:
        try:
            intervals = self.ledger.record(self._now(), {circuit_id: reading})
        except HeatDomainError as err:
            _LOGGER.warning("%s: heat reading skipped: %s", self.entry.title, err)
            return
        interval = intervals.get(circuit_id)
        if interval is not None:
            self._tell_set_aside(f"heat circuit {circuit_id}", interval)

    def _tell_set_aside(self, channel: str, interval: Interval) -> None:
        """Log the first counter step of a channel that its power could not explain; the
        diagnostics keep the running figure (set_aside_wh)."""
        if interval.counter_event is not CounterEvent.REPLACED or channel in self._told_set_aside:
            return
        self._told_set_aside.add(channel)
        _LOGGER.warning(
            "%s: the %s counter stepped by more than its device's power explains (a replaced "
            "or reset meter, or a sped-up clock); that step is set aside and counted from "
            "power. Later ones are not logged; the diagnostics show the energy set aside",
            self.entry.title,
            channel,
        )

    def _record_main(self) -> None:
        assert self.main_meter is not None
        openings = self.openings()
        if openings is None:
            _LOGGER.debug("%s: a valve is unknown; heat reading skipped", self.entry.title)
            return
        try:
            power, counter = self.main_meter.reading(self.options)
        except HeatDomainError as err:
            _LOGGER.warning("%s: heat reading skipped: %s", self.entry.title, err)
            return
        self._record(MAIN_CIRCUIT, CircuitReading(power, counter, shares_by_valves(openings)))

    def _record_branch(self, destination_id: str, meter: LoopMeter) -> None:
        try:
            power, counter = meter.reading(self.options)
        except HeatDomainError as err:
            _LOGGER.warning("%s: heat reading skipped: %s", self.entry.title, err)
            return
        self._record(destination_id, CircuitReading(power, counter))

    def _record_it(self, meter: ItMeter) -> None:
        power, counter = meter.reading()
        try:
            interval = self.it.advance(meter.device_id, self._now(), power, counter)
            if interval is not None:
                self._tell_set_aside(f"IT energy of {meter.coordinator.subentry.title}", interval)
        except HeatDomainError as err:
            _LOGGER.warning("%s: IT energy reading skipped: %s", self.entry.title, err)

    @callback
    def _changed(self) -> None:
        totals = self.ledger.totals()
        period = dt_util.now().date().isoformat()
        if self.today is None or self.today.period != period:
            self.today = PeriodStart(period, totals.reused_wh, self.it_total_wh)
        self._store.async_delay_save(self._as_dict, SAVE_DELAY_S)
        for listener in list(self._listeners):
            listener()

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call listener after each update; returns the function that removes it."""
        self._listeners.append(listener)

        @callback
        def _remove() -> None:
            self._listeners.remove(listener)

        return _remove

    # --- figures -----------------------------------------------------------------------

    def diagnostics(self) -> dict[str, Any]:
        """Which inputs were found, the ledger's own figures and its saved state."""
        totals = self.totals
        main = self.main_meter
        return {
            "main_meter": None if main is None else main.coordinator.subentry.subentry_id,
            "branch_meters": {
                d: m.coordinator.subentry.subentry_id for d, m in self.branch_meters.items()
            },
            "it_meters": [m.device_id for m in self.it_meters],
            "it_energy_wh": {d: c.total_wh for d, c in self.it.channels.items()},
            "it_retired_wh": self.it.retired_wh,
            "shared_destinations": list(self.shared),
            "openings_pct": self.openings(),
            "unattributed_wh": totals.unattributed_wh,
            "computed_wh": totals.computed_wh,
            "captured_wh": totals.captured_wh,
            "unknown_s": totals.unknown_s,
            "gap_count": totals.gap_count,
            "wraps": totals.wraps,
            "replacements": totals.replacements,
            "set_aside_wh": totals.set_aside_wh,
            "it_set_aside_wh": self.it.set_aside_wh,
            "it_unknown_s": self.it.unknown_s,
            "erf_above_100_because": self.erf_above_100_because(),
            "state": self._as_dict(),
        }

    @property
    def totals(self) -> LedgerTotals:
        return self.ledger.totals()

    @property
    def available(self) -> bool:
        """True while the loop's heat is measured."""
        meters = [m for m in (self.main_meter, *self.branch_meters.values()) if m is not None]
        return any(m.coordinator.last_update_success for m in meters)

    def recovered_power_w(self) -> float | None:
        """Heat the loop carries away from the rack now, wherever it goes, reject included (W)."""
        if not self.available:
            return None
        return sum(self.ledger.power_by_destination_w().values())

    def reused_power_w(self) -> float | None:
        """Heat going to destinations other than reject now (W)."""
        if not self.available:
            return None
        power = self.ledger.power_by_destination_w()
        return sum(p for d, p in power.items() if d != REJECT)

    def erf(self) -> float | None:
        """Energy Reuse Factor since the start of accounting (fraction)."""
        return energy_reuse_factor(self.totals.reused_wh, self.it_total_wh)

    def erf_above_100_because(self) -> list[str] | None:
        """Why ERF reads above 100 % (None while it does not): reused heat cannot exceed the
        electricity that made it, so some input is missing or was set aside."""
        erf = self.erf()
        if erf is None or erf <= 1:
            return None
        reasons = []
        if self.it.set_aside_wh > 0:
            reasons.append("it_energy_set_aside")  # counted from power over those intervals
        if self.it.unknown_s > 0:
            reasons.append("it_energy_unknown")  # a PDU was unread for longer than the gap
        if any(p is None for p in self.it.power_w.values()):
            reasons.append("it_meter_unavailable")
        if self.totals.set_aside_wh > 0:
            reasons.append("heat_set_aside")
        return reasons or ["meters_disagree"]

    def erf_today(self) -> float | None:
        """Energy Reuse Factor since local midnight (fraction)."""
        if self.today is None:
            return None
        return self.today.energy_reuse_factor(self.totals.reused_wh, self.it_total_wh)

    def recovery_ratio_now(self) -> float | None:
        """Recovered thermal power / IT power now (fraction): how much of the rack's heat the
        loop captures, wherever it then goes."""
        recovered = self.recovered_power_w()
        if recovered is None or self.it_power_w is None:
            return None
        return recovery_ratio(recovered, self.it_power_w)


def heat_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where a site's heat ledger is kept between restarts."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.heat.{entry_id}")
