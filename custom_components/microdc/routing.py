"""The heat router of one site, in Home Assistant: inputs found by role, commands written.

It builds lib/routing's HeatRouter from the site's heat destinations and routing options,
evaluates it after every poll (or COV change) of a device that carries one of its inputs and
after every request change, and writes each changed valve command through the device's
coordinator, never while the site is monitor-only. The router returns the same Decision while
nothing changes, so an unchanged poll costs a few comparisons and writes nothing.

- Inputs by role across every device, as heat accounting finds its own: every point of role
  exhaust_temperature and loop_supply_temperature is a safety input.
- Reject's valves: a writable percentage point (role valve_position, or in %) that no
  destination names and that site_points.SitePoint.is_reject_valve recognises by its names
  (the dry cooler). Not "every unnamed valve": with only the stockroom configured, the tenants'
  valves would open whenever heat is rejected.
- Writes: each command at its priority; a point moved from one priority to the other is then
  released at the old one, so microdc holds one priority per point. After a BACnet write the
  priority in control is read back; a higher one (an operator at 8) is reported as overridden
  (the sensor's attribute, the logbook) and not written again until the decision changes.
- Requests and the routing survive a restart (a Store per site); after a start the decision is
  written only once every input device has been read (or the grace time has passed).
- Repairs only for what a person can act on: a valve that does not confirm, a safety input
  missing past its grace time, a temperature limit crossed, and the same limit crossed
  repeatedly (lib/routing/repeats.py: 3 trips in 24 h, kept in the Store); each cleared when
  resolved (the repeated one after 24 h without a trip of that limit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util, slugify

from . import heat_accounting
from .const import DOMAIN, SUBENTRY_HEAT_DESTINATION
from .coordinator import DeviceCoordinator
from .destination_config import HeatDestinationConfig
from .lib.devices.base import DeviceError
from .lib.heat.energy_points import number
from .lib.points import PointRef, Role, Value
from .lib.routing import (
    REJECT,
    Decision,
    Destination,
    DestinationError,
    DestinationKind,
    HeatRouter,
    Reason,
    Repeated,
    RoutingSettings,
    Source,
    SourceKind,
    StoredState,
    StoredStateError,
    Trip,
    TripHistory,
    Valve,
)
from .site_points import SitePoint

_LOGGER = logging.getLogger(__name__)

STORE_VERSION = 1
SAVE_DELAY_S = 1
EVENT_HEAT_ROUTED = "microdc_heat_routed"
EVENT_HEAT_OVERRIDDEN = "microdc_heat_overridden"
AUTOMATIC = "automatic"  # the select's option that follows the requests
USER_SOURCE = Source(SourceKind.USER, "Heat destination")
_PERCENT = frozenset({"%", "percent"})
_TEMPERATURE_TRIPS = frozenset({Reason.SAFETY_EXHAUST, Reason.SAFETY_SUPPLY})
_LIMIT_NAMES = {Reason.SAFETY_EXHAUST: "exhaust", Reason.SAFETY_SUPPLY: "supply"}


def utc_now() -> float:
    """The router's clock: Unix time, the heat ledgers' clock (tests move it)."""
    return heat_accounting.utc_timestamp()


def routing_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where a site's heat requests and routing are kept between restarts."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.routing.{entry_id}")


def option_of(destination: Destination) -> str:
    """A destination's key in the select, the actions' answers and the events: its title,
    slugified (``Tenant A`` -> ``tenant_a``); reject is ``reject``."""
    return REJECT if destination.id == REJECT else slugify(destination.name)


def site_destinations(entry: ConfigEntry[Any]) -> list[Destination]:
    """The site's heat destinations as the router wants them; a refused one is logged, left out."""
    found: list[Destination] = []
    for subentry in entry.subentries.values():
        if subentry.subentry_type != SUBENTRY_HEAT_DESTINATION:
            continue
        try:
            config = HeatDestinationConfig.from_data(subentry.data)
            feedback = {v: PointRef.parse(f) for v, f in config.feedback.items()}
            found.append(
                Destination(
                    subentry.subentry_id,
                    subentry.title,
                    DestinationKind(config.kind.value),
                    tuple(
                        Valve(
                            PointRef.parse(ref),
                            config.open_pct,
                            config.closed_pct,
                            feedback.get(ref),
                        )
                        for ref in config.valves
                    ),
                    None if config.space is None else PointRef.parse(config.space),
                    config.space_limit if config.space is not None else None,
                )
            )
        except (DestinationError, ValueError, KeyError) as err:
            _LOGGER.error(  # noqa: TRY400 - the reason is in the message
                "%s: heat destination %s not routed: %s", entry.title, subentry.title, err
            )
    return found


def reject_valves(
    coordinators: Mapping[str, DeviceCoordinator], named: set[PointRef]
) -> tuple[Valve, ...]:
    """Reject's valves: writable % points no destination names that are the dry cooler's."""
    valves: list[Valve] = []
    for device_id, coordinator in coordinators.items():
        for point in coordinator.device.points.values():
            ref = PointRef(device_id, point.key)
            site_point = SitePoint(
                device_id, coordinator.subentry.title, point.key, point.role, point.unit, point.name
            )
            if (
                point.writable
                and ref not in named
                and (point.role is Role.VALVE_POSITION or point.unit in _PERCENT)
                and site_point.is_reject_valve
            ):
                valves.append(Valve(ref))
    return tuple(valves)


class SiteRouting:
    """One site's heat router, its inputs, its writes, its stored requests and its repairs."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        coordinators: Mapping[str, DeviceCoordinator],
        settings: RoutingSettings,
    ) -> None:
        """Build the router; nothing is read, restored or written until async_start()."""
        self.hass, self.entry, self.settings = hass, entry, settings
        self._coordinators = dict(coordinators)
        destinations = site_destinations(entry)
        named = {
            ref for d in destinations for v in d.valves for ref in (v.command, v.feedback) if ref
        }
        reject = Destination(
            REJECT, "Reject", DestinationKind.REJECT, reject_valves(coordinators, named)
        )
        self.exhaust = self._by_role(Role.EXHAUST_TEMPERATURE)
        self.supply = self._by_role(Role.LOOP_SUPPLY_TEMPERATURE)
        self.router = HeatRouter(
            settings, [reject, *destinations], exhaust=self.exhaust, supply=self.supply
        )
        self.destinations = self.router.destinations
        self.options = {option_of(d): d.id for d in self.destinations}
        self._names = {d.id: option_of(d) for d in self.destinations}
        self._inputs: list[PointRef] = sorted(
            {
                *self.exhaust,
                *self.supply,
                *(d.space for d in self.destinations if d.space is not None),
                *(
                    r
                    for d in self.destinations
                    for v in d.valves
                    for r in (v.command, v.feedback)
                    if r
                ),
            }
        )
        self.routed: frozenset[PointRef] = frozenset(
            v.command for d in self.destinations for v in d.valves
        )
        self._valve_of = {v.command: d.id for d in self.destinations for v in d.valves}
        self.decision: Decision | None = None
        self.overridden: dict[PointRef, int] = {}  # point -> the higher priority in control
        self._applied: dict[PointRef, tuple[float | None, int]] = {}
        self._held: dict[PointRef, int] = {}  # the priority routing holds each point at
        self._ready = False
        self._started = 0.0
        self._store = routing_store(hass, entry.entry_id)
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._writer: asyncio.Task[None] | None = None
        self._dirty = False
        self._issues: set[str] = set()
        self._refused: set[PointRef] = set()  # points not writable: told once
        self._end_timer: CALLBACK_TYPE | None = None  # fires at the next request's end
        self._end_at: float | None = None
        self.history = TripHistory()  # temperature trips, for the "crossed repeatedly" repair
        self._repeats: dict[str, int] = {}  # its issues raised -> the count they show
        self._repeats_clear_at: float | None = None

    def _by_role(self, role: Role) -> tuple[PointRef, ...]:
        return tuple(
            PointRef(device_id, point.key)
            for device_id, c in self._coordinators.items()
            for point in c.device.points.values()
            if point.role is role
        )

    @property
    def monitor_only(self) -> bool:
        """Whether microdc never writes on this site."""
        return self.settings.monitor_only

    def _now(self) -> float:
        return utc_now()

    # --- lifecycle -----------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore the requests, follow the input devices, decide once."""
        self._started = self._now()
        saved = await self._store.async_load()
        if saved is not None:
            self.history = TripHistory.from_dict(saved.get("limit_trips"))
            try:
                dropped = self.router.restore(StoredState.from_dict(saved), self._now())
            except StoredStateError as err:
                _LOGGER.error(  # noqa: TRY400 - the reason is in the message
                    "%s: stored heat requests not usable (%s)", self.entry.title, err
                )
            else:
                for item in dropped:
                    _LOGGER.warning(
                        "%s: a stored heat request was not restored (%s): %s",
                        self.entry.title,
                        item.why,
                        item.request,
                    )
        self._update_repeats(self._started)  # a pattern stored before the restart
        devices = {ref.device for ref in self._inputs}
        for device_id in sorted(devices):
            coordinator = self._coordinators.get(device_id)
            if coordinator is not None:
                self._unsubscribe.append(
                    coordinator.async_add_listener(
                        lambda c=coordinator: self._on_update(c)  # type: ignore[misc]
                    )
                )
        self.evaluate()

    async def async_stop(self) -> None:
        """Stop following, finish a write in flight, relinquish what routing commanded."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._cancel_end_timer()
        writer, self._writer = self._writer, None
        if writer is not None:
            self._dirty = False
            await asyncio.gather(writer, return_exceptions=True)
        await self.async_relinquish_all()
        await self._store.async_save(self._stored())
        for issue_id in [*self._issues, *self._repeats]:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()
        self._repeats.clear()

    async def async_relinquish_all(self) -> None:
        """Give back every command routing holds (the building's controls take over)."""
        for ref, priority in sorted(self._held.items()):
            coordinator = self._coordinators.get(ref.device)
            if coordinator is None:
                continue
            try:
                await coordinator.async_release(ref.key, priority=priority)
            except HomeAssistantError as err:
                _LOGGER.warning("%s: could not relinquish %s: %s", self.entry.title, ref, err)
                continue
            del self._held[ref]
        self._applied.clear()

    # --- requests ------------------------------------------------------------------------

    def refuses_manual_write(self, ref: PointRef, value: Value) -> bool:
        """Whether safety forbids a person's direct write to a valve the router routes.

        Opening a destination's valve while safety keeps that destination closed, or moving
        reject's valve off open while a site-wide trip sends everything there, would route
        heat where a limit says no; any other write is the engineer's, and the router's next
        change writes over it.
        """
        decision = self.decision
        if ref not in self.routed or decision is None:
            return False
        destination = self._valve_of[ref]
        valve = next(v for d in self.destinations for v in d.valves if v.command == ref)
        if isinstance(value, bool):
            position = valve.open if value else valve.closed
        elif isinstance(value, int | float):
            position = float(value)
        else:
            return False
        if destination == REJECT:
            site_wide = any(trip.destination is None for trip in decision.trips)
            return site_wide and abs(position - valve.open) > 1e-6
        return destination in decision.blocked and abs(position - valve.closed) > 1e-6

    def destination_id(self, name: str) -> str | None:
        """A destination by its option key, title or subentry id (None: not this site's)."""
        wanted = name.strip()
        if wanted in self.options:
            return self.options[wanted]
        for destination in self.destinations:
            if wanted in (destination.id, destination.name) or (
                wanted.casefold() == destination.name.casefold()
            ):
                return destination.id
        return self.options.get(slugify(wanted))

    def divert(self, source: Source, weights: Mapping[str, float], ends: float | None) -> None:
        """Place a request (RequestError if the router refuses it) and act on it."""
        self.router.divert(source, weights, self._now(), ends=ends)
        self._requests_changed()

    def release(self, source: Source | None) -> int:
        """Drop one source's request, or every request; how many went."""
        count = self.router.release_all() if source is None else int(self.router.release(source))
        self._requests_changed()
        return count

    def release_named(self, name: str) -> int:
        """Drop the requests of every source of this name (whatever its kind)."""
        count = sum(
            self.router.release(request.source)
            for request in self.router.requests
            if request.source.name == name
        )
        self._requests_changed()
        return count

    def _stored(self) -> dict[str, Any]:
        """What the Store keeps: the router's state and the temperature trips of the window."""
        return {**self.router.state().to_dict(), "limit_trips": self.history.to_dict()}

    def _requests_changed(self) -> None:
        self._store.async_delay_save(self._stored, SAVE_DELAY_S)
        self.evaluate()

    # --- evaluation ----------------------------------------------------------------------

    def readings(self) -> dict[PointRef, float | None]:
        """Every input's latest number; None where its device was not read."""
        values: dict[PointRef, float | None] = {}
        for ref in self._inputs:
            coordinator = self._coordinators.get(ref.device)
            ok = coordinator is not None and coordinator.last_update_success
            values[ref] = number(coordinator.value(ref.key)) if ok and coordinator else None
        return values

    @callback
    def _on_update(self, coordinator: DeviceCoordinator) -> None:
        self._check_overrides(coordinator)
        self.evaluate()

    @callback
    def evaluate(self) -> Decision:
        """Decide now; write, fire the event, raise or clear repairs if anything changed."""
        now = self._now()
        decision = self.router.evaluate(now, self.readings())
        self._arm_end_timer()
        if not self._ready:
            self._ready = now - self._started >= self.settings.grace or all(
                c.last_update_success and c.data is not None
                for c in (self._coordinators.get(r.device) for r in self._inputs)
                if c is not None
            )
        if self._repeats_clear_at is not None and now >= self._repeats_clear_at:
            self._update_repeats(now)
        if decision is self.decision:
            if self._ready and not self._writing and self._behind():
                self._schedule_write()
            return decision
        old, self.decision = self.decision, decision
        if old is None or (old.shares, old.reason) != (decision.shares, decision.reason):
            self._fire_routed(old, decision)
            self._store.async_delay_save(self._stored, SAVE_DELAY_S)
        self._update_issues(decision)
        self._record_trips(decision, now)
        if self._ready:
            self._schedule_write()
        for listener in list(self._listeners):
            listener()
        return decision

    def _arm_end_timer(self) -> None:
        """Evaluate again when the next request ends, whether or not an input is polled then."""
        ends = min((r.ends for r in self.router.requests if r.ends is not None), default=None)
        if ends == self._end_at:
            return
        self._cancel_end_timer()
        self._end_at = ends
        if ends is not None:
            self._end_timer = async_track_point_in_utc_time(
                self.hass, self._on_end, dt_util.utc_from_timestamp(ends)
            )

    def _cancel_end_timer(self) -> None:
        if self._end_timer is not None:
            self._end_timer()
        self._end_timer, self._end_at = None, None

    @callback
    def _on_end(self, _fired: datetime) -> None:
        # Should the router's clock not have reached the end yet, the evaluation keeps the
        # request and arms the timer again.
        self._end_timer, self._end_at = None, None
        self.evaluate()

    def _behind(self) -> bool:
        """Whether a command of the decision has not been written yet (after start, a retry)."""
        decision = self.decision
        if decision is None or self.monitor_only:
            return False
        return any(
            self._applied.get(c.point) != (c.position, c.priority)
            and c.point not in self._refused
            and not (c.position is None and c.point not in self._held)
            for c in decision.commands
        )

    def shares_named(self, decision: Decision | None) -> dict[str, float]:
        """A decision's shares by option key."""
        if decision is None:
            return {}
        return {self._names.get(d, d): round(s, 4) for d, s in decision.shares}

    def _fire_routed(self, old: Decision | None, new: Decision) -> None:
        request = new.request
        self.hass.bus.async_fire(
            EVENT_HEAT_ROUTED,
            {
                "config_entry_id": self.entry.entry_id,
                "site": self.entry.title,
                "old": self.shares_named(old),
                "new": self.shares_named(new),
                "reason": new.reason.value,
                "source": None if request is None else request.source.name,
            },
        )

    # --- writes --------------------------------------------------------------------------

    def _schedule_write(self) -> None:
        if self.monitor_only:
            return
        self._dirty = True
        if not self._writing:
            # Eager: the task may finish before it is assigned, hence _writing, not None.
            self._writer = self.hass.async_create_background_task(
                self._write_loop(), f"{self.entry.title} heat routing writes"
            )

    @property
    def _writing(self) -> bool:
        return self._writer is not None and not self._writer.done()

    async def _write_loop(self) -> None:
        while self._dirty:
            self._dirty = False
            if self.decision is not None:
                await self._write(self.decision)

    async def _write(self, decision: Decision) -> None:
        # The valves that take heat go first (make before break: the loop never loses its way
        # out, and the valve asked for moves without waiting for the others); then the valves
        # that close or are given back. Each point's release of its other priority and the
        # read-backs follow once every command is out: they only confirm.
        after: list[tuple[DeviceCoordinator, PointRef, int, int | None]] = []
        for command in sorted(decision.commands, key=lambda c: decision.share(c.destination) <= 0):
            ref, position, priority = command.point, command.position, command.priority
            if self._applied.get(ref) == (position, priority) or ref in self._refused:
                continue
            coordinator = self._coordinators.get(ref.device)
            point = None if coordinator is None else coordinator.device.points.get(ref.key)
            if coordinator is None or point is None or not point.writable:
                self._refused.add(ref)
                _LOGGER.warning(
                    "%s: valve %s is not a writable point; heat routing cannot move it",
                    self.entry.title,
                    ref,
                )
                continue
            try:
                if position is None:
                    held = self._held.pop(ref, None)
                    if held is not None:
                        await coordinator.async_release(ref.key, priority=held)
                else:
                    await coordinator.async_write(ref.key, position, priority=priority)
                    before = self._held.get(ref)
                    self._held[ref] = priority
                    after.append((coordinator, ref, priority, before))
            except HomeAssistantError as err:
                _LOGGER.warning(
                    "%s: heat routing write to %s failed: %s", self.entry.title, ref, err
                )
                continue
            self._applied[ref] = (position, priority)
        for coordinator, ref, priority, before in after:
            if before is not None and before != priority:
                # One priority per point: the other one goes back.
                try:
                    await coordinator.async_release(ref.key, priority=before)
                except HomeAssistantError as err:
                    _LOGGER.warning(
                        "%s: heat routing could not release %s at %d: %s",
                        self.entry.title,
                        ref,
                        before,
                        err,
                    )
                    self._applied.pop(ref, None)  # written again, and released, next time
            await self._read_back(coordinator, ref, priority)

    async def _read_back(self, coordinator: DeviceCoordinator, ref: PointRef, ours: int) -> None:
        """Which priority is in control after our write; a higher one is an override."""
        try:
            in_control = await coordinator.device.priority_in_control(ref.key)
        except DeviceError as err:
            _LOGGER.debug("%s: priority of %s not read: %s", self.entry.title, ref, err)
            return
        self._note_control(ref, in_control, ours)

    def _note_control(self, ref: PointRef, in_control: int | None, ours: int) -> None:
        # Our own other priority is no override: a poll that lands while a valve moves from
        # comfort to safety sees the new safety command before the write has recorded it.
        own = (self.settings.safety_priority, self.settings.comfort_priority)
        if in_control is not None and in_control < ours and in_control not in own:
            if self.overridden.get(ref) != in_control:
                self.overridden[ref] = in_control
                self._fire_overridden(ref, in_control)
                for listener in list(self._listeners):
                    listener()
        elif self.overridden.pop(ref, None) is not None:
            for listener in list(self._listeners):
                listener()

    def _fire_overridden(self, ref: PointRef, priority: int) -> None:
        coordinator = self._coordinators.get(ref.device)
        point = None if coordinator is None else coordinator.device.points.get(ref.key)
        name = ref.key if point is None or point.name is None else point.name
        _LOGGER.info(
            "%s: %s is held at priority %d, above heat routing's; left alone",
            self.entry.title,
            name,
            priority,
        )
        self.hass.bus.async_fire(
            EVENT_HEAT_OVERRIDDEN,
            {
                "config_entry_id": self.entry.entry_id,
                "site": self.entry.title,
                "point": name,
                "destination": self._names.get(self._valve_of.get(ref, REJECT), REJECT),
                "priority": priority,
            },
        )

    @callback
    def _check_overrides(self, coordinator: DeviceCoordinator) -> None:
        """A polled valve that no longer shows our command: someone above us wrote it."""
        if not coordinator.device.releases:
            return
        device_id = coordinator.subentry.subentry_id
        for ref, priority in list(self._held.items()):
            if ref.device != device_id:
                continue
            applied = self._applied.get(ref)
            value = number(coordinator.value(ref.key))
            if applied is None or applied[0] is None or value is None:
                continue
            differs = abs(value - applied[0]) > self.settings.tolerance
            if differs == (ref in self.overridden):
                continue
            self.hass.async_create_background_task(
                self._read_back(coordinator, ref, priority), f"{self.entry.title} read-back"
            )

    # --- repairs -------------------------------------------------------------------------

    def _update_issues(self, decision: Decision) -> None:
        wanted: dict[str, tuple[str, dict[str, str]]] = {}
        for trip in decision.trips:
            issue = self._issue_for(trip)
            if issue is not None:
                wanted.setdefault(issue[0], (issue[1], issue[2]))
        for issue_id in self._issues - set(wanted):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for issue_id, (key, placeholders) in wanted.items():
            if issue_id not in self._issues:
                self._raise_issue(issue_id, key, placeholders)
        self._issues = set(wanted)

    def _record_trips(self, decision: Decision, now: float) -> None:
        new = [
            trip
            for trip in decision.trips
            if trip.reason in _TEMPERATURE_TRIPS and self.history.record(trip.reason, trip.since)
        ]
        if new:
            self._store.async_delay_save(self._stored, SAVE_DELAY_S)
            self._update_repeats(now)

    def _update_repeats(self, now: float) -> None:
        """Raise, update or clear the "limit crossed repeatedly" repairs."""
        found = self.history.repeated(now)
        self._repeats_clear_at = self.history.clears_at()
        wanted = {f"routing_repeated_{self.entry.entry_id}_{r.value}": found[r] for r in found}
        for issue_id in set(self._repeats) - set(wanted):
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            del self._repeats[issue_id]
        for issue_id, repeated in wanted.items():
            if self._repeats.get(issue_id) == repeated.count:
                continue
            self._repeats[issue_id] = repeated.count
            self._raise_issue(
                issue_id,
                f"routing_{_LIMIT_NAMES[repeated.reason]}_limit_repeated",
                self._repeat_placeholders(repeated),
            )

    def _raise_issue(self, issue_id: str, key: str, placeholders: dict[str, str]) -> None:
        """A repair a person can act on (raised again: its text follows the new figures)."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders=placeholders,
        )

    def _repeat_placeholders(self, repeated: Repeated) -> dict[str, str]:
        refs = self.exhaust if repeated.reason is Reason.SAFETY_EXHAUST else self.supply
        return {
            "site": self.entry.title,
            "point": ", ".join(self.point_name(ref) for ref in refs),
            "limit": f"{self._limit(repeated.reason):g}",
            "count": str(repeated.count),
            "hours": f"{self.history.window / 3600:g}",
        }

    def _limit(self, reason: Reason) -> float:
        if reason is Reason.SAFETY_EXHAUST:
            return self.settings.exhaust_limit
        return self.settings.supply_limit

    def _issue_for(self, trip: Trip) -> tuple[str, str, dict[str, str]] | None:
        entry_id = self.entry.entry_id
        point = "" if trip.point is None else self.point_name(trip.point)
        site = {"site": self.entry.title, "point": point}
        if trip.reason in _TEMPERATURE_TRIPS:
            # A site-wide trip names no point: name the site's points of that role.
            refs = self.exhaust if trip.reason is Reason.SAFETY_EXHAUST else self.supply
            return (
                f"routing_limit_{entry_id}_{trip.reason.value}",
                "routing_limit_crossed",
                {
                    **site,
                    "point": ", ".join(self.point_name(ref) for ref in refs),
                    "limit": f"{self._limit(trip.reason):g}",
                },
            )
        if trip.reason is Reason.SAFETY_INPUT_LOST:
            return (f"routing_input_lost_{entry_id}", "routing_input_lost", site)
        if trip.reason is Reason.SAFETY_VALVE and trip.destination is not None:
            name = self._names.get(trip.destination, trip.destination)
            return (
                f"routing_valve_{entry_id}_{trip.destination}",
                "routing_valve_not_confirming",
                {**site, "destination": name},
            )
        return None  # a warm space is the router doing its job: nothing to repair

    def point_name(self, ref: PointRef) -> str:
        """A point as a person knows it: its device and name."""
        coordinator = self._coordinators.get(ref.device)
        if coordinator is None:
            return str(ref)
        point = coordinator.device.points.get(ref.key)
        name = ref.key if point is None or point.name is None else point.name
        return f"{coordinator.subentry.title}: {name}"

    # --- for entities --------------------------------------------------------------------

    @callback
    def async_add_listener(self, listener: CALLBACK_TYPE) -> Callable[[], None]:
        """Call listener after each change of the decision or an override."""
        self._listeners.append(listener)

        @callback
        def _remove() -> None:
            self._listeners.remove(listener)

        return _remove

    def user_choice(self) -> str:
        """The select's option: the user's request's single destination, else automatic."""
        for request in self.router.requests:
            if request.source == USER_SOURCE and len(request.shares) == 1:
                return self._names.get(request.shares[0][0], AUTOMATIC)
        return AUTOMATIC

    def name_of(self, destination_id: str) -> str:
        """A destination's option key."""
        return self._names.get(destination_id, destination_id)

    def blocked_named(self, decision: Decision) -> dict[str, list[str]]:
        """Blocked destinations (option keys) and why."""
        return {
            self._names.get(d, d): sorted({t.reason.value for t in decision.trips_for(d)})
            for d in sorted(decision.blocked)
        }
