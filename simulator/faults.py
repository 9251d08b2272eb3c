"""The fault board: which injected faults are in force, checked by the model and the servers.

The control API adds faults (``POST /faults``) and clears them (``DELETE /faults``); the model
and the protocol servers ask the board whether a fault applies to them. Durations are in
simulated seconds (so ``--speed 0`` with ``POST /advance`` makes faults deterministic);
without ``duration_s`` a fault lasts until cleared.

Fault names, their ``device`` and extra parameters:

==================  ===========================================  ================================
fault               device                                       parameters
==================  ===========================================  ================================
mains_outage        (none)                                       UPS on battery, runtime falls
device_offline      Modbus device (name, profile id or unit id)  the unit / device stops answering
                    or a BACnet device (the controller or a
                    meter of bacnet_meters: name or instance)
slow_replies        as device_offline                            delay_s: wall-clock s (default 2)
exception_replies   Modbus device                                address, count (default 1),
                                                                 table (default: all),
                                                                 code (default 2, illegal address)
sensor_stuck        Modbus device                                point: keeps its current raw value
sensor_nan          Modbus device                                point: serves its NaN sentinel
counter_near_wrap   Modbus device                                point, margin (raw counts below
                                                                 the wrap, default 100); one-shot
valve_stuck         valve name (stockroom, tenant_a, ...)        the valve ignores commands
pump_failure        (none)                                       loop flow drops to zero
cooling_failure     dry_cooler (default) or room                 dry cooler fans / room AC fail
gateway_silent      (none: the Modbus gateway)                   connections are accepted, no
                                                                 request is ever answered
bacnet_restart      a BACnet device (default: the controller;    one-shot: the device
                    name or instance)                            restarts (COV table dropped,
                                                                 I-Am sent)
==================  ===========================================  ================================

``gateway_silent`` is a gateway whose serial side hangs: TCP connects succeed (the kernel
accepts them), requests get no reply at all, so a client sees timeouts, not refused
connections. ``bacnet_restart`` is what a controller does after a power cycle or a firmware
update: it forgets every COV subscription and announces itself with an I-Am; the table size
that refuses further subscriptions is a switch of the device (``POST /bacnet``
``cov_table_size``), not a fault.

Servers use ``active(fault, device)`` and ``find(fault, device, **match)``; the device passed
is the canonical name (Modbus: the site's device name, BACnet: the site's bacnet.name). The
board normalises what a client sends (``"demo_ups"``, ``2``, ``"2"`` all mean ``"ups"``).
A one-shot fault (counter_near_wrap, bacnet_restart) is handed to the listeners and not
kept on the board.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import itertools
from typing import Any

from simulator.site import Site

MODBUS_FAULTS = ("exception_replies", "sensor_stuck", "sensor_nan", "counter_near_wrap")
DEVICE_FAULTS = ("device_offline", "slow_replies")
FAULT_NAMES = (
    "mains_outage",
    *DEVICE_FAULTS,
    *MODBUS_FAULTS,
    "valve_stuck",
    "pump_failure",
    "cooling_failure",
    "gateway_silent",
    "bacnet_restart",
)
ONE_SHOT_FAULTS = ("counter_near_wrap", "bacnet_restart")
_TABLES = ("holding", "input", "coil", "discrete_input")


class FaultError(ValueError):
    """A fault request names an unknown fault, device, point or parameter."""


@dataclass
class Fault:
    """One injected fault."""

    id: int
    fault: str
    device: str | None
    started_s: float
    until_s: float | None
    params: dict[str, Any] = field(default_factory=dict)
    # Scratch space for the server that implements the fault (e.g. a stuck sensor's raw value).
    memo: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {
            "id": self.id,
            "fault": self.fault,
            "device": self.device,
            "started_s": self.started_s,
            "until_s": self.until_s,
            **self.params,
        }


class FaultBoard:
    """The faults in force; the model advances its clock (``tick``) as simulated time passes."""

    def __init__(self, site: Site) -> None:
        """Create an empty board for a site (used to check device, point and valve names)."""
        self._site = site
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.now_s = 0.0
        # Bumped whenever the set of faults changes, so the model knows to recompute.
        self.version = 0
        self._listeners: list[Callable[[Fault], None]] = []

    def add_listener(self, listener: Callable[[Fault], None]) -> None:
        """Call listener(fault) before a fault is put in force; it may raise FaultError to
        refuse it. One-shot faults (counter_near_wrap) are applied by their listener."""
        self._listeners.append(listener)

    def tick(self, now_s: float) -> None:
        """Advance the board's clock and drop faults whose duration has passed."""
        self.now_s = now_s
        kept = [f for f in self._faults if f.until_s is None or f.until_s > now_s]
        if len(kept) != len(self._faults):
            self._faults = kept
            self.version += 1

    def faults(self) -> list[Fault]:
        """The faults in force."""
        return list(self._faults)

    def active(self, fault: str, device: str | None = None) -> bool:
        """Whether a fault is in force (for this device, when one is given)."""
        return self.find(fault, device) is not None

    def find(self, fault: str, device: str | None = None, **match: Any) -> Fault | None:
        """The newest fault in force with this name (and device and parameters), or None."""
        for item in reversed(self._faults):
            if item.fault != fault:
                continue
            if device is not None and item.device not in (None, device):
                continue
            if all(item.params.get(k) == v for k, v in match.items()):
                return item
        return None

    def clear(self) -> int:
        """Clear every fault; return how many were cleared."""
        count = len(self._faults)
        self._faults = []
        self.version += 1
        return count

    def add(self, request: Any) -> Fault:
        """Check a fault request (the JSON body of POST /faults) and put it in force."""
        if not isinstance(request, dict):
            raise FaultError("a fault request is a JSON object with at least 'fault'")
        name = request.get("fault")
        if name not in FAULT_NAMES:
            raise FaultError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
        duration = request.get("duration_s")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float) or duration <= 0
        ):
            raise FaultError("duration_s must be a positive number of simulated seconds")
        known = {"fault", "device", "duration_s"} | set(_PARAMS.get(name, {}))
        unknown = sorted(set(request) - known)
        if unknown:
            raise FaultError(f"fault {name!r} takes no parameter(s) {', '.join(unknown)}")
        device = self._device(name, request.get("device"))
        params = self._params(name, device, request)
        fault = Fault(
            id=next(self._ids),
            fault=name,
            device=device,
            started_s=self.now_s,
            until_s=None if duration is None else self.now_s + float(duration),
            params=params,
        )
        # Listeners see the fault first and may refuse it with FaultError (e.g. a NaN fault
        # on a point that has no sentinel); only then is it put in force.
        for listener in self._listeners:
            listener(fault)
        if name not in ONE_SHOT_FAULTS:
            self._faults.append(fault)
        self.version += 1
        return fault

    def _device(self, name: str, device: Any) -> str | None:
        site = self._site
        if name in ("mains_outage", "pump_failure", "gateway_silent"):
            if device is not None:
                raise FaultError(f"fault {name!r} takes no device")
            return None
        if name == "cooling_failure":
            device = "dry_cooler" if device is None else device
            if device not in ("dry_cooler", "room"):
                raise FaultError("cooling_failure's device is 'dry_cooler' or 'room'")
            return str(device)
        if name == "valve_stuck":
            valves = list(site.params["destinations"])
            if device not in valves:
                raise FaultError(f"unknown valve {device!r}; valves: {', '.join(valves)}")
            return str(device)
        if name == "bacnet_restart":
            return self._bacnet_device(device)
        if device is None or isinstance(device, bool | float | list | dict):
            raise FaultError(f"fault {name!r} needs a device")
        if name in DEVICE_FAULTS:
            found = self._find_bacnet(device)
            if found is not None:
                return found
        try:
            return site.modbus_device(device).name
        except KeyError:
            names = [d.name for d in site.modbus_devices]
            if name in DEVICE_FAULTS:
                names += [d.name for d in site.bacnet_devices()]
            raise FaultError(f"unknown device {device!r}; devices: {', '.join(names)}") from None

    def _find_bacnet(self, device: Any) -> str | None:
        """The canonical name of the BACnet device named (name or instance; "bacnet" is the
        controller), or None."""
        bacnet = self._site.bacnet
        if bacnet is not None and device == "bacnet":
            return bacnet.name
        for spec in self._site.bacnet_devices():
            if device in (spec.name, spec.device_instance, str(spec.device_instance)):
                return spec.name
        return None

    def _bacnet_device(self, device: Any) -> str:
        devices = self._site.bacnet_devices()
        if not devices:
            raise FaultError("this site has no BACnet device")
        if device is None:
            return devices[0].name
        found = self._find_bacnet(device)
        if found is None:
            names = ", ".join(d.name for d in devices)
            raise FaultError(f"unknown BACnet device {device!r}; the site's: {names}")
        return found

    def _params(self, name: str, device: str | None, request: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, (kind, default) in _PARAMS.get(name, {}).items():
            value = request.get(key, default)
            if value is _REQUIRED:
                raise FaultError(f"fault {name!r} needs {key!r}")
            if value is not None and not _is_kind(value, kind):
                raise FaultError(f"fault {name!r}: {key!r} must be {kind.__name__}")
            params[key] = value
        if "point" in params and device is not None:
            points = self._site.modbus_device(device).points
            if params["point"] not in points:
                raise FaultError(
                    f"device {device!r} has no point {params['point']!r}; "
                    f"points: {', '.join(points)}"
                )
        if name == "exception_replies":
            if not 0 <= params["address"] <= 65535 or not 1 <= params["count"] <= 65536:
                raise FaultError("exception_replies: address 0..65535, count >= 1")
            if params["table"] is not None and params["table"] not in _TABLES:
                raise FaultError(f"exception_replies: table is one of {', '.join(_TABLES)}")
            if not 1 <= params["code"] <= 255:
                raise FaultError("exception_replies: code is a Modbus exception code 1..255")
        if name == "slow_replies" and not 0 <= params["delay_s"] <= 60:
            raise FaultError("slow_replies: delay_s is 0..60 (wall-clock seconds)")
        if name == "counter_near_wrap" and params["margin"] < 0:
            raise FaultError("counter_near_wrap: margin must be >= 0")
        return params


_REQUIRED = object()
_PARAMS: dict[str, dict[str, tuple[type, Any]]] = {
    "slow_replies": {"delay_s": (float, 2.0)},
    "exception_replies": {
        "address": (int, _REQUIRED),
        "count": (int, 1),
        "table": (str, None),
        "code": (int, 2),
    },
    "sensor_stuck": {"point": (str, _REQUIRED)},
    "sensor_nan": {"point": (str, _REQUIRED)},
    "counter_near_wrap": {"point": (str, _REQUIRED), "margin": (int, 100)},
}


def _is_kind(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)
