"""One Modbus TCP gateway serving every Modbus device of the site, one unit id per device.

As an RS-485-to-TCP gateway would: one port, several unit ids. Each unit serves its profile's
points (simulator/profiles.py encodes them) from the model's current quantities, encoded afresh
on every request, so a reply always matches the model at that instant (and GET /state).

Addressing: in each table a unit answers from address 0 up to the end of its last point there;
gaps between points read as 0; beyond that, and in tables it has no points in, it replies with
exception 2 (illegal data address). Points the profile declares ``writable`` accept writes
(functions 5, 6, 15, 16) that cover them whole; the value written is served from then on and shown
in GET /state, as a real device's setpoint would be; any other write gets exception 2. Unknown unit
ids get exception 0x0B (gateway target failed to respond), as a gateway does.

Faults (simulator/faults.py): device_offline (no reply at all; the client times out),
gateway_silent (the same for every unit id: connections are accepted, nothing is answered),
slow_replies (the reply waits ``delay_s`` wall-clock seconds), exception_replies (an exception
for requests overlapping an address range, optionally one table), sensor_stuck (the point keeps
the raw value it had when the fault began), sensor_nan (the point's first ``nan`` sentinel, or an
IEEE NaN for float points), counter_near_wrap (one-shot: the counter jumps to ``margin`` raw
counts below its wrap and keeps counting from there; the jump outlives DELETE /faults, because a
real counter does not jump back).

A caveat of slow_replies: pymodbus 3.13.1 answers with the transaction id of the connection's
latest request, so a client that sends again on the same connection before a delayed reply
arrives (e.g. after its own timeout) may match the late reply to its newer request. Clients
that reconnect after a timeout, as they should, are not affected.

Requests are counted per unit id and function code (``request_counts()``), for the control API.

Built on pymodbus 3.13.1's server: a ModbusServerContext subclass answers ``async_getValues`` /
``async_setValues`` itself (pymodbus calls them per request and awaits them, which is where the
slow and silent replies happen). pymodbus 3.16 changes this datastore API.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
import logging
import math
import struct
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from simulator.faults import Fault, FaultBoard, FaultError
from simulator.model import SiteModel, UnknownQuantityError
from simulator.profiles import (
    FLOATS,
    UNSIGNED,
    Profile,
    ProfilePoint,
    encode,
    load_profile,
    nan_raw,
    raw_of_words,
    words_for_raw,
)
from simulator.site import ModbusDeviceSpec, PointSource, Site, SiteError

_LOGGER = logging.getLogger(__name__)

# Function code -> table it reads or writes.
_FC_TABLE = {1: "coil", 2: "discrete_input", 3: "holding", 4: "input"}
_FC_TABLE |= {5: "coil", 15: "coil", 6: "holding", 16: "holding", 22: "holding", 23: "holding"}
_WRITE_FCS = (5, 6, 15, 16, 22, 23)


@dataclass
class _Unit:
    """One Modbus device on the gateway."""

    spec: ModbusDeviceSpec
    profile: Profile
    points: list[tuple[ProfilePoint, PointSource]]
    table_end: dict[str, int]


class ModbusGateway:
    """The site's Modbus TCP gateway: ``await start()``, ``await stop()``."""

    def __init__(
        self,
        site: Site,
        model: SiteModel,
        faults: FaultBoard,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Load every Modbus device's profile (ProfileError on a bad profile or point key)."""
        self.host = host
        self.port = port
        self._model = model
        self._faults = faults
        self._units: dict[int, _Unit] = {}
        for spec in site.modbus_devices:
            profile = load_profile(site.profiles_dir, spec.profile)
            missing = sorted(set(profile.points) - set(spec.points))
            unknown = sorted(set(spec.points) - set(profile.points))
            if missing or unknown:
                raise SiteError(
                    f"{site.path}: modbus.devices.{spec.name} does not match profile "
                    f"{spec.profile}: missing points {missing}, unknown points {unknown}"
                )
            points = [(profile.points[key], spec.points[key]) for key in profile.points]
            table_end: dict[str, int] = {}
            for point, _ in points:
                end = point.address + point.count
                table_end[point.table] = max(table_end.get(point.table, 0), end)
            self._units[spec.unit_id] = _Unit(spec, profile, points, table_end)
        self._counts: dict[int, Counter[int]] = {}
        self.counter_offsets: dict[tuple[str, str], int] = {}
        self.written: dict[tuple[str, str], int] = {}  # (device, point) -> raw value written
        for unit in self._units.values():
            for point, source in unit.points:
                try:
                    self._encoded(point, source)
                except UnknownQuantityError as err:
                    raise SiteError(
                        f"{site.path}: modbus.devices.{unit.spec.name}.points.{point.key}: "
                        f"the model has no quantity {err}"
                    ) from None
        self._server: ModbusTcpServer | None = None
        faults.add_listener(self._on_fault)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one; ``self.port`` is then the real one)."""
        self._server = ModbusTcpServer(
            _GatewayContext(self), address=(self.host, self.port), ignore_missing_devices=True
        )
        await self._server.serve_forever(background=True)
        transport: Any = self._server.transport
        self.port = int(transport.sockets[0].getsockname()[1])
        _LOGGER.info("Modbus gateway listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Close the listener and its connections."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    # ------------------------------------------------------------------ state
    def request_counts(self) -> dict[str, Any]:
        """Requests received: per unit id and function code, per function code, and total."""
        by_function: Counter[int] = Counter()
        for counts in self._counts.values():
            by_function.update(counts)
        return {
            "by_unit": {
                str(unit): {str(fc): n for fc, n in sorted(c.items())}
                for unit, c in sorted(self._counts.items())
            },
            "by_function": {str(fc): n for fc, n in sorted(by_function.items())},
            "total": sum(by_function.values()),
        }

    def device_state(self) -> dict[str, Any]:
        """Per device: unit id, profile, and per point the raw value served and its meaning."""
        result: dict[str, Any] = {}
        for unit in self._units.values():
            points: dict[str, Any] = {}
            for point, source in unit.points:
                raw = self._raw(unit, point, source)
                points[point.key] = {"raw": raw, "value": _decoded(point, raw)}
                if point.writable:
                    points[point.key]["written"] = (unit.spec.name, point.key) in self.written
            result[unit.spec.name] = {
                "unit_id": unit.spec.unit_id,
                "profile": unit.profile.profile_id,
                "offline": self.offline(unit),
                "points": points,
            }
        return result

    # ------------------------------------------------------------------ requests
    def count(self, unit_id: int, function_code: int) -> None:
        """Count one request."""
        self._counts.setdefault(unit_id, Counter())[function_code] += 1

    def unit(self, unit_id: int) -> _Unit | None:
        """The device at a unit id, if any."""
        return self._units.get(unit_id)

    def delay_s(self, unit: _Unit) -> float:
        """How long a reply waits (slow_replies), 0 when the unit is healthy."""
        fault = self._faults.find("slow_replies", unit.spec.name)
        return float(fault.params["delay_s"]) if fault else 0.0

    def offline(self, unit: _Unit) -> bool:
        """Whether the unit is silent (device_offline, or the whole gateway: gateway_silent)."""
        return self.silent() or self._faults.active("device_offline", unit.spec.name)

    def silent(self) -> bool:
        """Whether the gateway answers nothing at all (gateway_silent)."""
        return self._faults.active("gateway_silent")

    def read(
        self, unit: _Unit, table: str, address: int, count: int
    ) -> list[int] | list[bool] | ExcCodes:
        """The values of count registers (or bits) from address, or an exception code."""
        end = address + count
        for fault in self._faults.faults():
            if fault.fault != "exception_replies" or fault.device != unit.spec.name:
                continue
            params = fault.params
            if params["table"] not in (None, table):
                continue
            if address < params["address"] + params["count"] and params["address"] < end:
                return ExcCodes(params["code"])
        if end > unit.table_end.get(table, 0):
            return ExcCodes.ILLEGAL_ADDRESS
        bits = table in ("coil", "discrete_input")
        values: list[Any] = [False if bits else 0] * count
        for point, source in unit.points:
            if point.table != table or point.address >= end:
                continue
            if point.address + point.count <= address:
                continue
            words = words_for_raw(point, self._raw(unit, point, source))
            for i, word in enumerate(words):
                at = point.address + i - address
                if 0 <= at < count:
                    values[at] = word
        return values

    def write(
        self, unit: _Unit, table: str, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        """Take a write that covers writable points whole; exception 2 for anything else."""
        end = address + len(values)
        covered = [
            point
            for point, _ in unit.points
            if point.table == table
            and point.address < end
            and address < point.address + point.count
        ]
        if not covered or any(
            not p.writable or p.address < address or p.address + p.count > end for p in covered
        ):
            return ExcCodes.ILLEGAL_ADDRESS
        for point in covered:
            start = point.address - address
            words = values[start : start + point.count]
            self.written[(unit.spec.name, point.key)] = raw_of_words(point, list(words))
            _LOGGER.info("%s: %s written", unit.spec.name, point.key)
        return None

    # ------------------------------------------------------------------ encoding and faults
    def _raw(self, unit: _Unit, point: ProfilePoint, source: PointSource) -> int:
        name = unit.spec.name
        stuck = self._faults.find("sensor_stuck", name, point=point.key)
        if stuck is not None:
            return int(stuck.memo["raw"])
        if self._faults.find("sensor_nan", name, point=point.key) is not None:
            return _nan_of(point)
        written = self.written.get((name, point.key))
        if written is not None:
            return written
        raw = self._encoded(point, source)
        offset = self.counter_offsets.get((name, point.key))
        if offset is not None:
            raw = (raw + offset) % (1 << point.width)
        return raw

    def _encoded(self, point: ProfilePoint, source: PointSource) -> int:
        constant = source.constant
        if constant is None and source.factor != 1.0 and source.quantity is not None:
            constant = self._model.quantity(source.quantity) * source.factor
        raw, _ = encode(point, self._model.quantity, source.quantity, constant)
        return raw

    def _on_fault(self, fault: Fault) -> None:
        """Check Modbus faults against the profiles and apply their start-time effects."""
        if fault.fault == "exception_replies":
            try:
                ExcCodes(fault.params["code"])
            except ValueError:
                codes = ", ".join(str(int(c)) for c in ExcCodes)
                raise FaultError(f"exception_replies: code must be one of {codes}") from None
        if fault.fault not in ("sensor_stuck", "sensor_nan", "counter_near_wrap"):
            return
        assert fault.device is not None
        unit = next(u for u in self._units.values() if u.spec.name == fault.device)
        point, source = next((p, s) for p, s in unit.points if p.key == fault.params["point"])
        if fault.fault == "sensor_stuck":
            fault.memo["raw"] = self._raw(unit, point, source)
        elif fault.fault == "sensor_nan":
            if nan_raw(point) is None and point.data_type not in FLOATS:
                raise FaultError(
                    f"point {point.key!r} of {fault.device!r} has no NaN sentinel in its profile"
                )
        else:
            if point.data_type not in UNSIGNED:
                raise FaultError(f"point {point.key!r} of {fault.device!r} is not a counter")
            key = (fault.device, point.key)
            self.counter_offsets.pop(key, None)
            raw = self._encoded(point, source)
            target = (1 << point.width) - int(fault.params["margin"])
            self.counter_offsets[key] = (target - raw) % (1 << point.width)


def _nan_of(point: ProfilePoint) -> int:
    sentinel = nan_raw(point)
    if sentinel is not None:
        return sentinel
    if point.data_type == "f32":
        return 0x7FC00000
    return 0x7FF8000000000000


def _decoded(point: ProfilePoint, raw: int) -> Any:
    """What a correct decoder makes of a raw value (None for a NaN), for GET /state."""
    if point.nan and nan_raw(point) == raw:
        return None
    if point.data_type in ("bitfield", "enum", "bool"):
        return _decoded_state(point, raw)
    if point.data_type in FLOATS:
        fmt, size = (">f", 4) if point.data_type == "f32" else (">d", 8)
        number = struct.unpack(fmt, raw.to_bytes(size, "big"))[0]
        if math.isnan(number):
            return None
        return number * point.scale + point.offset
    if point.data_type in ("s16", "s32") and raw >> (point.width - 1):
        raw -= 1 << point.width
    return raw * point.scale + point.offset


def _decoded_state(point: ProfilePoint, raw: int) -> Any:
    if point.data_type == "bitfield":
        return sorted(flag for bit, flag in point.labels.items() if raw >> bit & 1)
    if point.data_type == "enum":
        return point.labels.get(raw)
    return bool(raw)


class _GatewayContext(ModbusServerContext):
    """pymodbus's per-request hook into the gateway (see the module docstring)."""

    def __init__(self, gateway: ModbusGateway) -> None:
        # The parent's constructor builds pymodbus's own data blocks; this context has none.
        self.simdevices = []
        self._gateway = gateway

    def device_ids(self) -> list[int]:
        """Every unit id is accepted by the framer; unknown ones get a gateway exception."""
        return list(range(248))

    async def _unit(self, device_id: int, function_code: int) -> _Unit | ExcCodes:
        gateway = self._gateway
        gateway.count(device_id, function_code)
        unit = gateway.unit(device_id)
        if gateway.silent():
            raise NoSuchIdException(f"the gateway is silent (unit {device_id})")  # type: ignore[no-untyped-call]
        if unit is None:
            return ExcCodes.GATEWAY_NO_RESPONSE
        if gateway.offline(unit):
            # pymodbus sends nothing for a missing device when ignore_missing_devices is set.
            raise NoSuchIdException(f"unit {device_id} is offline")  # type: ignore[no-untyped-call]
        delay = gateway.delay_s(unit)
        if delay > 0:
            await asyncio.sleep(delay)
        return unit

    async def async_getValues(  # noqa: N802 (pymodbus's name)
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        """Answer a read (single writes call this after async_setValues, for the echo)."""
        table = _FC_TABLE.get(func_code)
        if table is None or func_code in (15, 16, 22, 23):
            return ExcCodes.ILLEGAL_FUNCTION
        if func_code in _WRITE_FCS:  # the echo of a write that async_setValues took
            unit = self._gateway.unit(device_id)
            return (
                ExcCodes.ILLEGAL_ADDRESS
                if unit is None
                else self._gateway.read(unit, table, address, count)
            )
        unit = await self._unit(device_id, func_code)
        if isinstance(unit, ExcCodes):
            return unit
        return self._gateway.read(unit, table, address, count)

    async def async_setValues(  # noqa: N802 (pymodbus's name)
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        """Take a write to writable points; refuse any other."""
        unit = await self._unit(device_id, func_code)
        if isinstance(unit, ExcCodes):
            return unit
        table = _FC_TABLE.get(func_code)
        if table is None or func_code not in _WRITE_FCS or func_code in (22, 23):
            return ExcCodes.ILLEGAL_FUNCTION
        return self._gateway.write(unit, table, address, values)
