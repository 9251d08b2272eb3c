"""A BACnet/IP device: the chosen objects as points, RPM polls, COV pushes, commands at a priority.

The poll reads every chosen object's present value and status flags with as few
ReadPropertyMultiple requests as the device allows (the transport falls back to ReadProperty).
Objects whose device accepts SubscribeCOV push their changes to the push handler at once; the
poll stays as the fallback and is what notices a device gone silent. The transport renews each
subscription before its lifetime ends and again when the device comes back (I-Am, or an answer
after a timeout); objects that failed to subscribe while the device was away are subscribed
after the next good poll.

Every command microdc writes is remembered with its priority, so ``release_all`` (on unload)
relinquishes them all and the building's own control takes over again.

statusFlags: ``fault`` makes the reading unusable (the device itself says the value is wrong);
``out-of-service``, ``overridden`` and ``in-alarm`` keep the value and travel with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
import math
from types import MappingProxyType
from typing import Any, Final

from ..points import COUNTER_ROLES, Counting, Point, Reading, Role, StatusFlags, Value, ValueKind
from ..protocols.bacnet import (
    BacnetAbortError,
    BacnetDeviceClient,
    BacnetError,
    BacnetRejectError,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    BacnetValueOutOfRangeError,
    BacnetWriteAccessDeniedError,
    CovSubscription,
    ObjectId,
    PointReading,
)
from ..protocols.bacnet_units import unit_mapping
from .bacnet_config import BacnetDeviceConfig, BacnetObjectConfig, object_key
from .base import (
    CommandJournal,
    Device,
    DeviceError,
    DeviceIdentity,
    PollReport,
    PushHandler,
    WriteRefusedError,
    check_priority,
    checked_value,
)

_LOGGER = logging.getLogger(__name__)
# How long the first poll waits for the device's I-Am (an answer on a LAN takes milliseconds;
# a device that is away costs the first poll this much more).
LIMITS_TIMEOUT_S = 1.0

# Most specific first: the reason key of each transport error.
_ERROR_REASONS: tuple[tuple[type[BacnetError], str], ...] = (
    (BacnetTimeoutError, "bacnet_timeout"),
    (BacnetRejectError, "bacnet_reject"),
    (BacnetAbortError, "bacnet_abort"),
    (BacnetWriteAccessDeniedError, "bacnet_write_access_denied"),
    (BacnetValueOutOfRangeError, "bacnet_value_out_of_range"),
    (BacnetUnknownObjectError, "bacnet_unknown_object"),
    (BacnetError, "bacnet_error"),
)
_KINDS = {"analog": ValueKind.NUMBER, "binary": ValueKind.BOOL, "multi-state": ValueKind.STATE}


def error_reason(err: BacnetError) -> str:
    """The stable reason key of a transport error (the glue translates it)."""
    return next(reason for kind, reason in _ERROR_REASONS if isinstance(err, kind))


class BacnetRequestError(DeviceError):
    """A BACnet request failed; ``cause`` is the transport's error, ``object`` its name."""

    def __init__(
        self, cause: BacnetError, object_name: str | None = None, *, reason: str | None = None
    ) -> None:
        """Take the reason from the transport's error, unless told."""
        super().__init__(str(cause), reason=reason or error_reason(cause))
        self.cause = cause
        self.object = object_name


def same_command(slot: Any, written: Value) -> bool:
    """Whether a priority array slot still holds the value written there.

    Analog values travel as 32-bit REALs: compare within a REAL's precision.
    """
    if slot is None or isinstance(slot, str) or isinstance(written, str | frozenset):
        return False
    if isinstance(written, bool) or isinstance(slot, bool):
        return bool(slot) == bool(written)
    if not isinstance(slot, int | float):
        return False
    return math.isclose(float(slot), float(written), rel_tol=1e-6, abs_tol=1e-6)


_NUMBERS: Final = (int, float)  # a tuple: a union in the call is built at every call


def _finite(value: Any) -> float | None:
    """An analog present value as a float; None for NaN, infinities, a peer's 300-digit
    unsigned or anything not a number."""
    if not isinstance(value, _NUMBERS) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def state_options(obj: BacnetObjectConfig) -> tuple[str, ...]:
    """A multi-state object's states, in order (state 1 first)."""
    if obj.state_texts:
        return tuple(obj.state_texts)
    return tuple(str(number) for number in range(1, 17))  # no texts: the numbers themselves


# Decimals worth showing of a BACnet analog value, by its unit: a REAL carries noise far below
# what a sensor resolves (a 1.4 m³/h flow shown as "1 m³/h" hides the reading; "1.4000001"
# shows the noise). Units not listed show as Home Assistant's default.
DISPLAY_PRECISION: dict[str, int] = {
    "°C": 1,
    "°F": 1,
    "K": 1,
    "%": 0,
    "m³/h": 2,
    "L/s": 2,
    "L/min": 1,
    "m³/s": 3,
    "W": 0,
    "kW": 2,
    "kWh": 1,
    "MWh": 3,
    "Pa": 0,
    "kPa": 1,
    "bar": 2,
}


def object_point(obj: BacnetObjectConfig) -> Point:
    """The point an object is: its kind, unit and device class from its BACnet type and units."""
    kind = _KINDS.get(obj.kind, ValueKind.NUMBER)
    mapping = unit_mapping(obj.units) if kind is ValueKind.NUMBER else None
    role = next((r for r in Role if r.value == obj.role), None)
    minimum, maximum = obj.min_value, obj.max_value
    if kind is ValueKind.NUMBER and obj.commandable and mapping and mapping.unit == "%":
        # A commandable percentage (a valve) without limits of its own: 0..100.
        minimum = 0.0 if minimum is None else minimum
        maximum = 100.0 if maximum is None else maximum
    state_class = None
    if kind is ValueKind.NUMBER:
        energy = mapping is not None and mapping.device_class == "energy"
        state_class = "total_increasing" if energy else "measurement"
    return Point(
        key=obj.key,
        kind=kind,
        role=role,
        name=obj.display_name,
        unit=None if mapping is None else mapping.unit,
        device_class=None if mapping is None else mapping.device_class,
        precision=None if mapping is None else DISPLAY_PRECISION.get(mapping.unit or ""),
        state_class=state_class,
        options=state_options(obj) if kind is ValueKind.STATE else (),
        minimum=minimum,
        maximum=maximum,
        writable=obj.commandable,
        # A BACnet energy object is a float in its unit: it never wraps.
        counting=Counting(1.0, None) if role in COUNTER_ROLES else None,
    )


class BacnetDevice(Device):
    """One BACnet device, read through the shared network's client."""

    def __init__(
        self,
        client: BacnetDeviceClient,
        config: BacnetDeviceConfig,
        *,
        name: str,
        journal: CommandJournal | None = None,
        watch_priority: int | None = None,
    ) -> None:
        """Nothing is sent until the first poll.

        journal: this site's record of its commands. After a restart (Home Assistant does not
        unload a site when it stops) the valves it commanded still hold them: on the first good
        poll the commands the journal lists and the device still holds are adopted, so that an
        unload or a release gives them back; a command at watch_priority that this site did not
        write (another site, another client) is logged and left alone.
        """
        self.client = client
        self.config = config
        self.name = name
        self._objects: dict[str, BacnetObjectConfig] = {obj.key: obj for obj in config.objects}
        self._keys: dict[ObjectId, str] = {obj.object_id: obj.key for obj in config.objects}
        self.points: Mapping[str, Point] = MappingProxyType(
            {obj.key: object_point(obj) for obj in config.objects}
        )
        self._journal = journal
        self._watch_priority = watch_priority
        self._adopted = journal is None
        self._held: dict[str, set[int]] = {}  # point key -> priorities microdc holds it at
        self.subscriptions: dict[ObjectId, CovSubscription] = {}
        self.cov_refused: dict[ObjectId, str] = {}  # the device's answer to SubscribeCOV
        self._push: PushHandler | None = None
        self._subscribe_task: asyncio.Task[None] | None = None
        self._last: dict[str, Reading] = {}
        # Each object's last answer and its Reading: an unchanged answer is not turned into
        # a new Reading (most of a controller's values do not change between polls).
        self._decoded: dict[ObjectId, tuple[PointReading, Reading]] = {}
        self._limits_asked = False

    @property
    def identity(self) -> DeviceIdentity:
        """The vendor and model the device object gave when the device was added; devices
        added before microdc read them (or that do not say) are known by their instance."""
        said = self.config.identity
        return DeviceIdentity(
            (said and said.vendor_name) or "BACnet",
            (said and said.model_name) or f"BACnet/IP device {self.config.device_instance}",
            sw_version=None if said is None else said.software,
        )

    @property
    def releases(self) -> bool:
        """Commandable objects have a priority array: null at a priority gives it back."""
        return True

    @property
    def held(self) -> frozenset[str]:
        """Points microdc commands at some priority and has not relinquished."""
        return frozenset(key for key, priorities in self._held.items() if priorities)

    def held_priorities(self, key: str) -> frozenset[int]:
        """The priorities microdc holds a point at."""
        return frozenset(self._held.get(key, ()))

    def set_push_handler(self, handler: PushHandler | None) -> None:
        """Where COV changes go."""
        self._push = handler

    def object_name(self, key: str) -> str:
        """The object's name, for messages."""
        obj = self._objects.get(key)
        return key if obj is None else obj.name

    def _reading(self, raw: PointReading) -> Reading:
        last = self._decoded.get(raw.object_id)
        if last is not None and last[0] == raw:
            return last[1]
        reading = self._new_reading(raw)
        self._decoded[raw.object_id] = (raw, reading)
        return reading

    def _new_reading(self, raw: PointReading) -> Reading:
        flags = raw.status_flags
        points_flags = (
            None
            if flags is None
            else StatusFlags(flags.in_alarm, flags.fault, flags.overridden, flags.out_of_service)
        )
        if raw.error is not None:
            return Reading(None, points_flags, str(raw.error))
        if flags is not None and flags.fault:
            return Reading(None, points_flags, "the device flags the object in fault")
        value = self._value(raw.object_id, raw.present_value)
        if value is None:
            # No value, or one that is not of the object's kind (a string for an analog
            # input, NaN, state 9 of 3): unavailable, and the reason kept for diagnostics.
            shown = repr(raw.present_value)[:40]
            return Reading(None, points_flags, f"no usable present value: {shown}")
        return Reading(value, points_flags)

    def _value(self, object_id: ObjectId, value: Any) -> Value | None:
        obj = self._objects.get(self._keys.get(object_id, ""))
        if obj is None or value is None:
            return None
        match obj.kind:
            case "multi-state":
                options = state_options(obj)
                if isinstance(value, int) and not isinstance(value, bool):
                    return options[value - 1] if 1 <= value <= len(options) else None
                return None
            case "binary":
                return value if isinstance(value, bool) else None
            case _:
                return _finite(value)

    def _readings(self, raw: Mapping[ObjectId, PointReading]) -> dict[str, Reading]:
        return {
            self._keys[object_id]: self._reading(reading)
            for object_id, reading in raw.items()
            if object_id in self._keys
        }

    async def poll(self) -> PollReport:
        """Read every object once, adopt commands found at microdc's priority, subscribe COV."""
        if not self._limits_asked:
            # Once, before any COV subscription exists (an I-Am renews subscriptions).
            self._limits_asked = True
            try:
                await self.client.learn_limits(LIMITS_TIMEOUT_S)
            except BacnetError as err:
                _LOGGER.debug("%s: max APDU not learnt: %s", self.name, err)
        try:
            raw = await self.client.read_present_values(self.config.object_ids)
        except BacnetError as err:
            raise BacnetRequestError(err, reason="bacnet_poll_failed") from err
        readings = self._readings(raw)
        self._last = readings
        if not self._adopted:
            await self._adopt_commands()
        if self.config.cov and self._subscribe_task is None and self._unsubscribed():
            self._subscribe_task = asyncio.create_task(
                self._subscribe_missing(), name=f"{self.name} COV subscriptions"
            )
        return PollReport(readings=MappingProxyType(readings))

    async def _adopt_commands(self) -> None:
        journal = self._journal
        assert journal is not None  # _adopted is True without one
        recorded = journal.recorded()
        commandable = [obj for obj in self.config.objects if obj.commandable]
        try:
            arrays = await self.client.read_properties(
                [(obj.object_id, ("priority-array",)) for obj in commandable]
            )
        except BacnetError as err:
            _LOGGER.debug("%s: priority arrays not read: %s", self.name, err)
            return
        self._adopted = True  # once, after the first good read
        foreign: list[str] = []
        for obj in commandable:
            raw = arrays.get((obj.object_id, "priority-array"))
            slots = raw if isinstance(raw, tuple) else ()
            for priority, value in recorded.get(obj.key, {}).items():
                slot = slots[priority - 1] if len(slots) >= priority else None
                if same_command(slot, value):
                    self._held.setdefault(obj.key, set()).add(priority)
                else:
                    # Relinquished or overwritten by someone else while this site was away.
                    await journal.async_forgotten(obj.key, priority)
            watch = self._watch_priority
            held_here = watch in self._held.get(obj.key, ())
            if watch is not None and len(slots) >= watch and slots[watch - 1] is not None:
                foreign.extend([] if held_here else [obj.name])
        if self.held:
            _LOGGER.info(
                "%s: microdc holds commands on %s",
                self.name,
                ", ".join(sorted(self.object_name(key) for key in self.held)),
            )
        if foreign:
            _LOGGER.info(
                "%s: priority %s of %s holds a command this site did not write; left alone",
                self.name,
                self._watch_priority,
                ", ".join(sorted(foreign)),
            )

    def _unsubscribed(self) -> list[ObjectId]:
        return [
            oid
            for oid in self.config.object_ids
            if oid not in self.subscriptions and oid not in self.cov_refused
        ]

    async def _subscribe_missing(self) -> None:
        try:
            for object_id in self._unsubscribed():
                try:
                    self.subscriptions[object_id] = await self.client.subscribe_cov(
                        object_id, self._on_cov, lifetime_s=self.config.cov_lifetime_s
                    )
                except BacnetTimeoutError:
                    return  # away again: the next good poll tries the rest
                except BacnetError as err:
                    # The device does not do COV for this object: the poll serves it.
                    self.cov_refused[object_id] = str(err)
        finally:
            self._subscribe_task = None

    def _on_cov(self, raw: PointReading) -> None:
        key = self._keys.get(raw.object_id)
        if key is None:
            return
        reading = self._reading(raw)
        self._last[key] = reading
        if self._push is not None:
            self._push({key: reading})

    def _object(self, key: str) -> BacnetObjectConfig:
        obj = self._objects.get(key)
        if obj is None:
            raise WriteRefusedError(f"{self.name} has no object {key}", reason="not_writable")
        return obj

    async def _reread(self, obj: BacnetObjectConfig) -> Reading:
        """The object's value after a command, without waiting for the poll or a notification."""
        try:
            raw = await self.client.read_present_values([obj.object_id])
        except BacnetError as err:
            _LOGGER.debug("%s: reading %s after a write failed: %s", self.name, obj.name, err)
            return self._last.get(obj.key, Reading(None, error=str(err)))
        reading = self._readings(raw).get(obj.key, Reading(None))
        self._last[obj.key] = reading
        return reading

    async def write(self, key: str, value: Value, *, priority: int) -> Reading:
        """Command an object at a priority; a refusal is a DeviceError."""
        obj = self._object(key)
        check_priority(priority)
        checked = checked_value(self.points[key], value)
        encoded: float | bool | int
        if isinstance(checked, str):
            encoded = state_options(obj).index(checked) + 1
        elif isinstance(checked, bool):
            encoded = checked
        else:
            encoded = float(checked) if isinstance(checked, float | int) else 0.0
        try:
            await self.client.write_present_value(obj.object_id, encoded, priority)
        except BacnetError as err:
            raise BacnetRequestError(err, obj.name) from err
        self._held.setdefault(key, set()).add(priority)
        if self._journal is not None:
            await self._journal.async_written(key, priority, encoded)
        return await self._reread(obj)

    async def release(self, key: str, *, priority: int) -> Reading:
        """Write null at the priority: the next priority (or the default) takes over."""
        obj = self._object(key)
        check_priority(priority)
        try:
            await self.client.relinquish(obj.object_id, priority)
        except BacnetError as err:
            raise BacnetRequestError(err, obj.name) from err
        self._held.get(key, set()).discard(priority)
        if self._journal is not None:
            await self._journal.async_forgotten(key, priority)
        return await self._reread(obj)

    async def priority_in_control(self, key: str) -> int | None:
        """The lowest-numbered slot of the object's priority array that holds a command.

        ASHRAE 135 clause 19.2: that slot's value is the present value. None: every slot is
        empty and the relinquish default is in control.
        """
        obj = self._object(key)
        if not obj.commandable:
            return None
        try:
            arrays = await self.client.read_properties([(obj.object_id, ("priority-array",))])
        except BacnetError as err:
            raise BacnetRequestError(err, obj.name) from err
        raw = arrays.get((obj.object_id, "priority-array"))
        if isinstance(raw, BacnetError):
            raise BacnetRequestError(raw, obj.name)
        slots = raw if isinstance(raw, tuple) else ()
        return next((index + 1 for index, slot in enumerate(slots) if slot is not None), None)

    async def release_all(self) -> None:
        """Relinquish every command held; a failure is logged and the command kept."""
        for key in sorted(self._held):
            for priority in sorted(self._held[key]):
                obj = self._objects[key]
                try:
                    await self.client.relinquish(obj.object_id, priority)
                except BacnetError as err:
                    _LOGGER.warning(
                        "%s: could not relinquish %s at priority %d: %s",
                        self.name,
                        obj.name,
                        priority,
                        err,
                    )
                else:
                    self._held[key].discard(priority)
                    if self._journal is not None:
                        await self._journal.async_forgotten(key, priority)

    async def close(self) -> None:
        """Stop subscribing and close the client (its subscriptions are cancelled with it)."""
        task = self._subscribe_task
        # A subscription round still running would subscribe again after the client closed.
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._push = None
        await self.client.close()
        self.subscriptions.clear()

    def diagnostics(self) -> dict[str, Any]:
        """The device's objects, commands and COV state (the glue redacts the address)."""
        info = self.client.info
        return {
            "address": self.config.address,
            "device_instance": self.config.device_instance,
            "available": self.client.available,
            "rpm_supported": self.client.rpm_supported,
            "max_apdu": None if info is None else info.max_apdu,
            "segmentation": None if info is None else info.segmentation,
            "held_commands": {
                str(self._objects[key].object_id): sorted(priorities)
                for key, priorities in sorted(self._held.items())
                if priorities
            },
            "objects": [
                {
                    "object": str(obj.object_id),
                    "key": object_key(obj.object_id),
                    "name": obj.name,
                    "units": obj.units,
                    "commandable": obj.commandable,
                    "role": obj.role,
                    "present_value": None
                    if (reading := self._last.get(obj.key)) is None
                    else reading.value,
                    "cov": _cov_state(
                        self.subscriptions.get(obj.object_id), self.cov_refused.get(obj.object_id)
                    ),
                }
                for obj in self.config.objects
            ],
        }


def _cov_state(subscription: CovSubscription | None, refused: str | None) -> dict[str, Any]:
    if subscription is None:
        return {"subscribed": False, "refused": refused}
    return {
        "subscribed": True,
        "active": subscription.active,
        "lifetime_s": subscription.lifetime_s,
        "notifications": subscription.notifications,
        "last_error": None if subscription.last_error is None else str(subscription.last_error),
    }
