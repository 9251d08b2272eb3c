"""A fleet: many simulated devices in one process, for scale benchmarks (plant-room size).

``python -m simulator --fleet FILE`` serves a fleet file instead of a site: several Modbus TCP
gateways (one port each, many unit ids behind each, as RS-485 gateways in a plant room) and
several BACnet/IP controllers (one UDP port each). There is no thermal model: every point shows
a named *fleet quantity*, a number held here, so a benchmark knows every value it should see and
can change one through the control API. The demo site and its model are untouched by this mode.

A fleet file (YAML)::

    name: Plant room
    profiles_dir: profiles          # where the devices' profiles are (relative to the file);
                                    # default: the integration's built-in profiles
    quantities: {q1: 20.5, ...}     # every fleet quantity and its starting value
    vary: {q1: 0.5, ...}            # optional: these follow a slow sine of this amplitude
    vary_period_s: 300              # ... with this period in simulated seconds
    gateways:                       # each: modbus.devices as in a site file
      - devices: {meter-01: {unit_id: 1, profile: ID, points: {KEY: QUANTITY or {value: N}}}}
    bacnet:                         # each: the bacnet section of a site file, plus
      - {name, device_instance, objects: [...]}  # per object ``cov: false`` to refuse COV

Objects are inputs (analog-input, binary-input) whose ``quantity`` is a fleet quantity.

The ready line is ``{"ready": true, "fleet": NAME, "modbus": [{"host", "port"}, ...],
"bacnet": [{"host", "port", "device_instance"}, ...], "control": {"host", "port"}}``.
The control API: ``GET /state`` (quantities, and requests per gateway and per controller),
``POST /quantities`` ``{"values": {NAME: N}}`` sets quantities and shows them on the BACnet
objects at once (their COV notifications go out before the reply), ``POST /speed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
import contextlib
from dataclasses import dataclass
import json
import logging
import math
from pathlib import Path
from typing import Any

from aiohttp import web
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the environment

from simulator.control import serve
from simulator.faults import FaultBoard
from simulator.modbus_server import ModbusGateway
from simulator.model import UnknownQuantityError
from simulator.site import PROFILES_DIR, Site, SiteError, _modbus_devices

_LOGGER = logging.getLogger(__name__)

TICK_S = 0.5


class FleetModel:
    """The fleet's quantities: what SiteModel offers the servers, without the physics."""

    def __init__(self, values: dict[str, float], vary: dict[str, float], period_s: float) -> None:
        """Start every quantity at its value; the varying ones move with time."""
        self.base = dict(values)
        self.values = dict(values)
        self.vary = dict(vary)
        self.period_s = period_s
        self.time_s = 0.0

    def quantity(self, name: str) -> float:
        """A quantity's value (UnknownQuantityError for a name the fleet does not have)."""
        try:
            return self.values[name]
        except KeyError:
            raise UnknownQuantityError(name) from None

    def set(self, name: str, value: float) -> None:
        """Set a quantity (it stops varying: the caller wants this value seen)."""
        self.quantity(name)
        self.values[name] = self.base[name] = float(value)
        self.vary.pop(name, None)

    def step(self, seconds: float) -> None:
        """Advance time; the varying quantities follow their sine."""
        self.time_s += seconds
        phase = math.sin(2 * math.pi * self.time_s / self.period_s)
        for name, amplitude in self.vary.items():
            self.values[name] = round(self.base[name] + amplitude * phase, 3)

    def command_valve(self, valve: str, percent: float) -> None:
        """A fleet has no valves (BacnetDevice calls this only for outputs)."""

    def command_pump(self, on: bool) -> None:
        """A fleet has no pump."""


@dataclass(frozen=True)
class Fleet:
    """A parsed fleet file."""

    name: str
    path: Path
    profiles_dir: Path
    quantities: dict[str, float]
    vary: dict[str, float]
    vary_period_s: float
    gateways: tuple[Site, ...]  # one Site (Modbus devices only) per gateway
    bacnet: tuple[dict[str, Any], ...]  # each a site file's bacnet section


def load_fleet(path: str | Path) -> Fleet:
    """Read and check a fleet file (SiteError naming the file and field)."""
    fleet_path = Path(path)
    try:
        raw = yaml.safe_load(fleet_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise SiteError(f"{fleet_path}: cannot read fleet file: {err}") from err
    if not isinstance(raw, dict):
        raise SiteError(f"{fleet_path}: a fleet file must be a mapping")
    profiles_dir = PROFILES_DIR
    if raw.get("profiles_dir"):
        profiles_dir = fleet_path.parent / str(raw["profiles_dir"])
    quantities = raw.get("quantities") or {}
    vary = raw.get("vary") or {}
    if not isinstance(quantities, dict) or not all(
        isinstance(v, int | float) for v in quantities.values()
    ):
        raise SiteError(f"{fleet_path}: quantities must map names to numbers")
    if not isinstance(vary, dict) or not set(vary) <= set(quantities):
        raise SiteError(f"{fleet_path}: vary must map fleet quantities to amplitudes")
    name = str(raw.get("name", fleet_path.stem))
    gateways = []
    for index, gateway in enumerate(raw.get("gateways") or []):
        if not isinstance(gateway, dict):
            raise SiteError(f"{fleet_path}: gateways[{index}] must be a mapping")
        devices = _modbus_devices(fleet_path, gateway)
        gateways.append(
            Site(f"{name} gateway {index + 1}", fleet_path, {}, devices, None, profiles_dir)
        )
    bacnet = raw.get("bacnet") or []
    if not isinstance(bacnet, list) or not all(isinstance(b, dict) for b in bacnet):
        raise SiteError(f"{fleet_path}: bacnet must be a list of controllers")
    return Fleet(
        name=name,
        path=fleet_path,
        profiles_dir=profiles_dir,
        quantities={str(k): float(v) for k, v in quantities.items()},
        vary={str(k): float(v) for k, v in vary.items()},
        vary_period_s=float(raw.get("vary_period_s", 300.0)),
        gateways=tuple(gateways),
        bacnet=tuple(bacnet),
    )


class FleetRunner:
    """Every gateway and controller of a fleet, and the clock: ``start()``, ``stop()``."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        host: str = "127.0.0.1",
        modbus_port: int = 0,
        bacnet_port: int = 0,
        speed: float = 1.0,
    ) -> None:
        """Build every server; port N > 0 is the first of consecutive ports, 0 picks free ones."""
        self.fleet = fleet
        self.host = host
        self.speed = speed
        self.control_port = 0
        self.model = FleetModel(fleet.quantities, fleet.vary, fleet.vary_period_s)
        self.gateways = [
            ModbusGateway(
                site, self.model, FaultBoard(site), host, modbus_port + i if modbus_port else 0
            )
            for i, site in enumerate(fleet.gateways)
        ]
        self.controllers: list[Any] = []
        if fleet.bacnet:
            # Imported here so that a fleet without BACnet never loads bacpypes3.
            from simulator.bacnet_device import BacnetDevice, DeviceSpec  # noqa: PLC0415

            board = FaultBoard(_empty(fleet))  # no faults in a fleet; the devices ask
            for i, section in enumerate(fleet.bacnet):
                spec = DeviceSpec.from_site(section)
                for obj in spec.objects:
                    if obj.quantity is not None and obj.quantity not in fleet.quantities:
                        raise SiteError(
                            f"{fleet.path}: bacnet[{i}] object {obj.name}: "
                            f"no fleet quantity {obj.quantity!r}"
                        )
                port = bacnet_port + i if bacnet_port else 0
                self.controllers.append(BacnetDevice(spec, self.model, board, host, port))
        self._tick: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start every server and the clock."""
        for gateway in self.gateways:
            await gateway.start()
        for controller in self.controllers:
            await controller.start()
        self._tick = asyncio.create_task(self._ticker(), name="fleet clock")

    async def stop(self) -> None:
        """Stop the clock and every server."""
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        for controller in self.controllers:
            controller.close()
        for gateway in self.gateways:
            await gateway.stop()

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            elapsed, last = now - last, now
            if self.speed > 0 and self.model.vary:
                self.model.step(elapsed * self.speed)
                self.sync()

    def sync(self, only: Collection[str] | None = None) -> None:
        """Show the quantities (only those named, if given) on the BACnet objects; their COV
        notifications follow."""
        for controller in self.controllers:
            controller.sync(only)

    def ready_info(self) -> dict[str, Any]:
        """The ready line's content (real ports once started)."""
        return {
            "ready": True,
            "fleet": self.fleet.name,
            "modbus": [{"host": self.host, "port": g.port} for g in self.gateways],
            "bacnet": [
                {"host": self.host, "port": c.port, "device_instance": c.device_instance}
                for c in self.controllers
            ],
            "control": {"host": self.host, "port": self.control_port},
            "speed": self.speed,
        }

    def state(self) -> dict[str, Any]:
        """The quantities and the requests each server received."""
        return {
            "fleet": self.fleet.name,
            "time_s": self.model.time_s,
            "quantities": dict(self.model.values),
            "requests": {
                "modbus": [g.request_counts() for g in self.gateways],
                "bacnet": [c.request_counts() for c in self.controllers],
            },
        }


def _empty(fleet: Fleet) -> Site:
    return Site(fleet.name, fleet.path, {}, (), None, fleet.profiles_dir)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def build_fleet_app(runner: FleetRunner) -> web.Application:
    """The fleet's control API (see the module docstring)."""

    async def get_state(_: web.Request) -> web.Response:
        return web.json_response(runner.state())

    async def post_quantities(request: web.Request) -> web.Response:
        body = await _body(request)
        values = None if body is None else body.get("values")
        if not isinstance(values, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()
        ):
            return _error(400, 'send {"values": {NAME: number, ...}}')
        try:
            for name, value in values.items():
                runner.model.set(str(name), float(value))
        except UnknownQuantityError as err:
            return _error(400, f"no fleet quantity {err}")
        runner.sync(frozenset(values))
        return web.json_response({"applied": len(values)})

    async def post_speed(request: web.Request) -> web.Response:
        body = await _body(request)
        speed = None if body is None else body.get("speed")
        if not isinstance(speed, int | float) or isinstance(speed, bool) or speed < 0:
            return _error(400, 'send {"speed": X} with X >= 0')
        runner.speed = float(speed)
        return web.json_response({"speed": runner.speed})

    app = web.Application()
    app.router.add_get("/state", get_state)
    app.router.add_post("/quantities", post_quantities)
    app.router.add_post("/speed", post_speed)
    return app


async def start_fleet_control(runner: FleetRunner, host: str, port: int) -> web.AppRunner:
    """Serve the fleet's control API on host:port (0: a free one, in runner.control_port)."""
    app_runner, runner.control_port = await serve(build_fleet_app(runner), host, port)
    return app_runner
