"""The simulator's BACnet/IP device: the building's hydronic controller.

One device, built from the site file's ``bacnet:`` section, served by bacpypes3 on the host and
port given. Its objects:

- analog inputs (loop supply/return temperature, loop flow, outdoor and space temperatures) and
  binary inputs (occupancy) that show model quantities; their present value is read-only unless
  the object is out of service, as on a real controller;
- commandable analog outputs (valves, 0-100 %) and a commandable binary output (the loop pump)
  with a 16-level priority array and a relinquish default; writing outside min/max present value
  is refused with value-out-of-range.

It answers Who-Is (directed, and by local broadcast where the OS delivers it), ReadProperty,
ReadPropertyMultiple, WriteProperty with priority and SubscribeCOV with notifications.

The runner calls ``sync()`` every tick: inputs take the model's quantities, and each output's
effective value (the priority array's winner, or the relinquish default) is applied to the model
through ``command_valve`` / ``command_pump`` when it changes (each call recomputes the model).
Faults read from the fault board:

- ``device_offline`` (device = the device's name): the device neither answers nor sends. When the
  fault ends the device behaves as a controller after a power cycle: its COV subscriptions are
  gone and it announces itself with an I-Am (broadcast, and sent directly to its former
  subscribers, since on loopback test ports a broadcast reaches only its own port).
- ``slow_replies`` (device = the device's name, ``delay_s``): every request is answered late.
- ``bacnet_restart`` (one-shot): the device restarts at once, as after ``device_offline`` ends
  (subscriptions gone, I-Am to everyone and to its former subscribers).
- ``valve_stuck`` (device = the valve's name): the valve keeps its position whatever is written;
  the model handles it, so the command still reaches the model (and shows in /state).

Switches for the integration's tests: ``rpm_enabled`` (off: ReadPropertyMultiple is rejected
as an unrecognized service) and ``set_segmentation()`` (off: segmentation-supported is
no-segmentation and the max APDU shrinks, so a long object-list read is aborted and must be read
element by element).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
import logging
from typing import Any, Protocol

from bacpypes3.basetypes import (  # type: ignore[import-untyped]
    BinaryPV,
    EngineeringUnits,
    Segmentation,
)
from bacpypes3.errors import PropertyError  # type: ignore[import-untyped]
from bacpypes3.local.analog import (  # type: ignore[import-untyped]
    AnalogInputObject,
    AnalogOutputObject,
)
from bacpypes3.local.binary import (  # type: ignore[import-untyped]
    BinaryInputObject,
    BinaryOutputObject,
)
from bacpypes3.local.device import DeviceObject  # type: ignore[import-untyped]
from bacpypes3.pdu import GlobalBroadcast  # type: ignore[import-untyped]
from bacpypes3.primitivedata import Null  # type: ignore[import-untyped]

from simulator.bacnet_stack import DeviceApplication, free_udp_port

_LOGGER = logging.getLogger(__name__)

OBJECT_TYPES = ("analog-input", "binary-input", "analog-output", "binary-output")
DEFAULT_VENDOR_ID = 999  # bacpypes3's identifier for sample applications; not a real vendor
SEGMENTED_MAX_APDU = 1476  # the usual BACnet/IP maximum
# With segmentation off: long enough for any one property of the demo site (its longest
# description), too short for the object list of its 22 objects, like a small controller whose
# object list outgrew its buffer. Pass 50 (the smallest legal value) for a harsher device.
UNSEGMENTED_MAX_APDU = 80


class Model(Protocol):
    """The part of simulator.model.SiteModel this device uses."""

    def quantity(self, name: str) -> float: ...

    def command_valve(self, valve: str, percent: float) -> None: ...

    def command_pump(self, on: bool) -> None: ...


class Faults(Protocol):
    """The part of simulator.faults.FaultBoard this device uses."""

    def active(self, fault: str, device: str | None = None) -> bool: ...

    def find(self, fault: str, device: str | None = None) -> Any: ...

    def add_listener(self, listener: Any) -> None: ...


class SiteFileError(ValueError):
    """The site file's bacnet section is malformed; the message names the field."""


@dataclass(frozen=True)
class ObjectSpec:
    """One object of the device, as the site file describes it."""

    type: str
    instance: int
    name: str
    description: str
    units: str | None = None  # BACnet engineering units, e.g. degrees-celsius
    quantity: str | None = None  # the model quantity an input shows
    valve: str | None = None  # the model valve an analog output commands
    pump: str | None = None  # the model pump a binary output commands
    relinquish_default: float = 0.0
    cov_increment: float = 0.1
    min_value: float = 0.0
    max_value: float = 100.0
    cov: bool = True  # False: SubscribeCOV on this object is refused (the poll serves it)
    factor: float = 1.0  # an input shows quantity * factor (a meter's Wh as kWh: 0.001)

    @property
    def commandable(self) -> bool:
        return self.type in ("analog-output", "binary-output")


@dataclass(frozen=True)
class DeviceSpec:
    """The device: identity and objects."""

    instance: int
    name: str
    description: str = ""
    vendor_id: int = DEFAULT_VENDOR_ID
    vendor_name: str = "microdc simulator"
    model_name: str = "Hydronic controller"
    firmware_revision: str | None = None  # None: bacpypes3's own ("N/A")
    objects: tuple[ObjectSpec, ...] = field(default_factory=tuple)

    @classmethod
    def from_site(cls, section: Mapping[str, Any]) -> DeviceSpec:
        """Build the spec from the site file's ``bacnet:`` mapping, with errors naming the field.

        Keys: name, device_instance, vendor_identifier, vendor_name, model_name,
        firmware_revision, description,
        objects (a list; see ``_object_spec``).
        """
        if not isinstance(section, Mapping):
            raise SiteFileError("bacnet must be a mapping")
        raw_objects = section.get("objects")
        if not isinstance(raw_objects, Sequence) or isinstance(raw_objects, str):
            raise SiteFileError("bacnet.objects must be a list")
        objects = tuple(_object_spec(i, raw) for i, raw in enumerate(raw_objects))
        seen: set[tuple[str, int]] = set()
        for spec in objects:
            key = (spec.type, spec.instance)
            if key in seen:
                raise SiteFileError(f"bacnet.objects: duplicate {spec.type} {spec.instance}")
            seen.add(key)
        return cls(
            instance=_int(section, "device_instance", "bacnet"),
            name=_str(section, "name", "bacnet"),
            description=str(section.get("description", "")),
            vendor_id=_int(section, "vendor_identifier", "bacnet", DEFAULT_VENDOR_ID),
            vendor_name=str(section.get("vendor_name", "microdc simulator")),
            model_name=str(section.get("model_name", "Hydronic controller")),
            firmware_revision=None
            if section.get("firmware_revision") is None
            else str(section["firmware_revision"]),
            objects=objects,
        )


def _str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise SiteFileError(f"{where}.{key} must be a non-empty string")
    return value


def _int(raw: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 4194303:
        raise SiteFileError(f"{where}.{key} must be an integer 0..4194302")
    return value


def _object_spec(index: int, raw: Any) -> ObjectSpec:
    where = f"bacnet.objects[{index}]"
    if not isinstance(raw, Mapping):
        raise SiteFileError(f"{where} must be a mapping")
    object_type = raw.get("type")
    if object_type not in OBJECT_TYPES:
        raise SiteFileError(f"{where}.type must be one of {', '.join(OBJECT_TYPES)}")
    units = raw.get("units")
    if units is not None:
        try:
            EngineeringUnits(units)
        except ValueError as err:
            raise SiteFileError(f"{where}.units: {units!r} is not a BACnet unit") from err
    spec = ObjectSpec(
        type=object_type,
        instance=_int(raw, "instance", where),
        name=_str(raw, "name", where),
        description=str(raw.get("description", "")),
        units=units,
        quantity=raw.get("quantity"),
        valve=raw.get("valve"),
        pump=None if raw.get("pump") is None else str(raw["pump"]),
        relinquish_default=_number(
            raw.get("relinquish_default", 0.0), f"{where}.relinquish_default"
        ),
        cov_increment=float(raw.get("cov_increment", 0.1)),
        min_value=float(raw.get("min", 0.0)),
        max_value=float(raw.get("max", 100.0)),
        cov=bool(raw.get("cov", True)),
        factor=_number(raw.get("factor", 1.0), f"{where}.factor"),
    )
    if spec.type.endswith("input") and not spec.quantity:
        raise SiteFileError(f"{where}: an input needs the model quantity it shows")
    if spec.type == "analog-output" and not spec.valve:
        raise SiteFileError(f"{where}: an analog output needs the valve it commands")
    if spec.type == "binary-output" and not spec.pump:
        raise SiteFileError(f"{where}: a binary output needs the pump it commands")
    return spec


def _number(value: Any, where: str) -> float:
    """A number, or a binary state (active/inactive) as 1/0."""
    if value in ("active", "inactive"):
        return 1.0 if value == "active" else 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SiteFileError(f"{where} must be a number or active/inactive")
    return float(value)


def _is_present_value(obj: Any, attr: Any) -> bool:
    """Whether a write_property attr (a name or a PropertyIdentifier) means present-value."""
    if isinstance(attr, int):
        attr = obj._property_identifier_class(attr).attr
    return bool(attr == "presentValue")


class _SensorMixin:
    """Inputs: present value is read-only unless out of service (clause 12.2.4, 12.6.4)."""

    async def write_property(
        self, attr: Any, value: Any, index: Any = None, priority: Any = None
    ) -> None:
        if _is_present_value(self, attr) and not self.outOfService:  # type: ignore[attr-defined]
            raise PropertyError("writeAccessDenied")
        await super().write_property(attr, value, index, priority)  # type: ignore[misc]


class _SensorAnalogInput(_SensorMixin, AnalogInputObject):  # type: ignore[misc]
    pass


class _SensorBinaryInput(_SensorMixin, BinaryInputObject):  # type: ignore[misc]
    pass


class _ValveOutput(AnalogOutputObject):  # type: ignore[misc]
    """A valve command: refuses values outside min/max present value."""

    async def write_property(
        self, attr: Any, value: Any, index: Any = None, priority: Any = None
    ) -> None:
        if _is_present_value(self, attr) and not isinstance(value, Null):
            number = float(value)
            if not self.minPresValue <= number <= self.maxPresValue:
                raise PropertyError("valueOutOfRange")
        await super().write_property(attr, value, index, priority)


def _build_object(spec: ObjectSpec) -> Any:
    common: dict[str, Any] = {
        "objectIdentifier": (spec.type, spec.instance),
        "objectName": spec.name,
        "description": spec.description,
        "outOfService": False,
    }
    if spec.type == "analog-input":
        return _SensorAnalogInput(
            **common,
            presentValue=0.0,
            units=spec.units or "no-units",
            covIncrement=spec.cov_increment,
        )
    if spec.type == "binary-input":
        return _SensorBinaryInput(
            **common, presentValue="inactive", polarity="normal", eventState="normal"
        )
    if spec.type == "analog-output":
        return _ValveOutput(
            **common,
            presentValue=spec.relinquish_default,
            relinquishDefault=spec.relinquish_default,
            units=spec.units or "percent",
            minPresValue=spec.min_value,
            maxPresValue=spec.max_value,
            covIncrement=spec.cov_increment,
        )
    return BinaryOutputObject(
        **common,
        presentValue="active" if spec.relinquish_default else "inactive",
        relinquishDefault="active" if spec.relinquish_default else "inactive",
        polarity="normal",
        eventState="normal",
    )


def _plain(value: Any, binary: bool) -> float | bool | None:
    """A present value or priority array slot as JSON-friendly Python (binary: active = True)."""
    if value is None or isinstance(value, Null):
        return None
    if binary:
        # A binary slot holds a plain enumerated 0/1, a present value a BinaryPV.
        return int(value) == int(BinaryPV.active)
    return float(value)


def _slot(priority_value: Any, binary: bool) -> float | bool | None:
    if priority_value.null is not None:
        return None
    return _plain(getattr(priority_value, priority_value._choice), binary)


class BacnetDevice:
    """The simulator's BACnet controller: ``await start()``, ``sync()`` each tick, ``close()``."""

    def __init__(
        self,
        spec: DeviceSpec,
        model: Model,
        faults: Faults,
        host: str = "127.0.0.1",
        port: int = 47808,
    ) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self._model = model
        self._faults = faults
        self._app: DeviceApplication | None = None
        self._objects: dict[ObjectSpec, Any] = {}
        self._was_offline = False
        self._segmented = True
        # The command last handed to the model per output, so sync() passes only changes.
        self._applied: dict[ObjectSpec, float | bool] = {}
        self.restarts = 0
        faults.add_listener(self._on_fault)

    def _on_fault(self, fault: Any) -> None:
        # A restart of another of the site's BACnet devices (a meter) is not this one's.
        mine = fault.device in (None, self.spec.name)
        if fault.fault == "bacnet_restart" and mine and self._app is not None:
            self._restart()

    @property
    def device_instance(self) -> int:
        return self.spec.instance

    @property
    def address(self) -> str:
        """The device's BACnet/IP address as host:port."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Open the UDP socket and publish the objects. Needs a running event loop."""
        if self.port == 0:
            self.port = free_udp_port(self.host)
        device_object = DeviceObject(
            objectIdentifier=("device", self.spec.instance),
            objectName=self.spec.name,
            description=self.spec.description,
            vendorIdentifier=self.spec.vendor_id,
            vendorName=self.spec.vendor_name,
            modelName=self.spec.model_name,
            **(
                {}
                if self.spec.firmware_revision is None
                else {"firmwareRevision": self.spec.firmware_revision}
            ),
            maxApduLengthAccepted=SEGMENTED_MAX_APDU,
            segmentationSupported=Segmentation.segmentedBoth,
        )
        self._app = DeviceApplication(
            device_object, self.host, self.port, self._is_online, self._reply_delay_s
        )
        for spec in self.spec.objects:
            obj = _build_object(spec)
            self._app.add_object(obj)
            self._objects[spec] = obj
            if not spec.cov:
                self._app.cov_refused.add((spec.type, spec.instance))
        await self._wait_bound()
        self.sync()
        _LOGGER.info("BACnet device %s listening on %s", self.spec.instance, self.address)

    async def _wait_bound(self) -> None:
        assert self._app is not None
        server = self._app.link.server
        for task in server._transport_tasks:
            await task
        await server._local_transport_ready.wait()

    def close(self) -> None:
        if self._app is not None:
            # Cancels the subscriptions' lifetime timers along with them.
            self._app.drop_subscriptions()
            self._app.close()
            self._app = None

    @property
    def app(self) -> DeviceApplication:
        if self._app is None:
            raise RuntimeError("the BACnet device is not started")
        return self._app

    def _is_online(self) -> bool:
        return not self._faults.active("device_offline", self.spec.name)

    def _reply_delay_s(self) -> float:
        fault = self._faults.find("slow_replies", self.spec.name)
        return float(fault.params.get("delay_s", 2.0)) if fault is not None else 0.0

    # --- the runner's tick ------------------------------------------------------------

    def sync(self, only: Collection[str] | None = None) -> None:
        """Show the model's quantities and apply the outputs' effective commands to it.

        only: the quantities that changed (None: all). A fleet's control API sets a few of
        thousands; showing every object again would hold the simulator for tens of ms before
        the changed object's COV notification leaves, and a latency benchmark would measure that.
        """
        if self._app is None:
            return
        offline = not self._is_online()
        if self._was_offline and not offline:
            self._restart()
        self._was_offline = offline
        for spec, obj in self._objects.items():
            if only is not None and spec.quantity is not None and spec.quantity not in only:
                continue
            if spec.type == "analog-input" and spec.quantity:
                obj.presentValue = float(self._model.quantity(spec.quantity)) * spec.factor
            elif spec.type == "binary-input" and spec.quantity:
                active = bool(self._model.quantity(spec.quantity))
                obj.presentValue = BinaryPV.active if active else BinaryPV.inactive
            elif spec.type == "analog-output" and spec.valve:
                # Stuck valves too: the model keeps them still but shows the real command.
                percent = float(obj.presentValue)
                if self._applied.get(spec) != percent:
                    self._model.command_valve(spec.valve, percent)
                    self._applied[spec] = percent
            elif spec.type == "binary-output" and spec.pump:
                on = bool(obj.presentValue == BinaryPV.active)
                if self._applied.get(spec) != on:
                    self._model.command_pump(on)
                    self._applied[spec] = on

    def _restart(self) -> None:
        """Back from offline: a power-cycled controller forgets subscriptions and says I-Am."""
        app = self.app
        self.restarts += 1
        former_subscribers = app.subscribers()
        app.drop_subscriptions()
        app.i_am(GlobalBroadcast())
        for address in former_subscribers:
            app.i_am(address)

    # --- switches for the integration's tests -----------------------------------------

    @property
    def rpm_enabled(self) -> bool:
        return bool(self.app.rpm_enabled)

    @rpm_enabled.setter
    def rpm_enabled(self, enabled: bool) -> None:
        self.app.rpm_enabled = enabled

    @property
    def segmentation_enabled(self) -> bool:
        return self._segmented

    def set_segmentation(self, enabled: bool, max_apdu: int = UNSEGMENTED_MAX_APDU) -> None:
        """Turn segmentation on (max APDU 1476) or off (no-segmentation, ``max_apdu`` bytes).

        With it off, any response longer than ``max_apdu`` is aborted with
        segmentation-not-supported, as a small controller does.
        """
        device_object = self.app.device_object
        self._segmented = enabled
        if enabled:
            device_object.segmentationSupported = Segmentation.segmentedBoth
            device_object.maxApduLengthAccepted = SEGMENTED_MAX_APDU
        else:
            device_object.segmentationSupported = Segmentation.noSegmentation
            device_object.maxApduLengthAccepted = max_apdu

    # --- what the control API shows ---------------------------------------------------

    def priority_arrays(self) -> dict[str, dict[str, Any]]:
        """Each commandable object's command state, keyed by valve name (or ``pump``)."""
        result: dict[str, dict[str, Any]] = {}
        for spec, obj in self._objects.items():
            if not spec.commandable:
                continue
            current = obj.currentCommandPriority
            binary = spec.type.startswith("binary")
            key = spec.valve if spec.valve else "pump"
            result[key] = {
                "object": f"{spec.type},{spec.instance}",
                "name": spec.name,
                "present_value": _plain(obj.presentValue, binary),
                "relinquish_default": _plain(obj.relinquishDefault, binary),
                "current_command_priority": (
                    None if current is None or current.null is not None else int(current.unsigned)
                ),
                "priority_array": [_slot(obj.priorityArray[i], binary) for i in range(16)],
                "stuck": bool(spec.valve and self._faults.active("valve_stuck", spec.valve)),
            }
        return result

    def request_counts(self) -> dict[str, int]:
        """Requests received per service since start (who-is, read-property, ...)."""
        return dict(self.app.request_counts)

    def object_state(self) -> list[dict[str, Any]]:
        """Every object's identity and present value, for GET /state."""
        return [
            {
                "object": f"{spec.type},{spec.instance}",
                "name": spec.name,
                "present_value": _plain(obj.presentValue, spec.type.startswith("binary")),
                "units": spec.units,
            }
            for spec, obj in self._objects.items()
        ]
