"""The running simulator: model, fault board, Modbus gateway, BACnet device and simulated clock.

``SimulatorRunner`` starts the servers, advances the model in a background tick (every
``TICK_S`` wall-clock seconds by ``speed`` × the wall time that passed) and offers what the
control API needs. With ``speed == 0`` simulated time stands still until ``advance(seconds)``,
so a test can compare what a client read with ``state()`` exactly.

The BACnet device (simulator/bacnet_device.py) is started when the site has a ``bacnet``
section; each tick (and before ``state()`` and after ``advance()``) the runner calls its
``sync()``, which shows model quantities on its inputs and applies its outputs' effective
commands to the model. The site's BACnet heat meters (``bacnet_meters``) are further devices of
the same kind, inputs only, each on its own port, synced with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from simulator.faults import FaultBoard
from simulator.modbus_server import ModbusGateway
from simulator.model import SiteModel
from simulator.site import Site, SiteError

_LOGGER = logging.getLogger(__name__)

TICK_S = 0.1
MAX_TICK_WALL_S = 1.0
# /advance integrates in slices this long, yielding to the event loop between them so the
# servers keep answering during a long advance.
ADVANCE_SLICE_S = 600.0
MAX_ADVANCE_S = 366 * 86400.0


class SimulatorRunner:
    """Owns every part of a running simulator; ``await start()`` then ``await stop()``."""

    def __init__(
        self,
        site: Site,
        *,
        host: str = "127.0.0.1",
        modbus_port: int = 0,
        bacnet_port: int = 0,
        control_port: int = 0,
        bacnet_meter_port: int = 0,
        speed: float = 1.0,
        seed: int = 0,
    ) -> None:
        """Build the model and servers; nothing listens until start()."""
        self.site = site
        self.host = host
        self.speed = float(speed)
        self.seed = seed
        self.control_port = control_port
        self.faults = FaultBoard(site)
        self.model = SiteModel(site, self.faults, seed=seed)
        self.modbus = ModbusGateway(site, self.model, self.faults, host, modbus_port)
        self.bacnet: Any = None
        # The site's BACnet heat meters: one device each, on consecutive ports from
        # bacnet_meter_port (0: free ones), as separate meters sit on a site's network.
        self.bacnet_meters: list[Any] = []
        if site.bacnet is not None or site.bacnet_meters:
            # Imported here so that a site without BACnet never loads bacpypes3.
            from simulator.bacnet_device import BacnetDevice, DeviceSpec  # noqa: PLC0415

            self._check_bacnet_names()
            if site.bacnet is not None:
                spec = DeviceSpec.from_site(site.params["bacnet"])
                self.bacnet = BacnetDevice(spec, self.model, self.faults, host, bacnet_port)
            for index, section in enumerate(site.params.get("bacnet_meters") or ()):
                port = bacnet_meter_port + index if bacnet_meter_port else 0
                meter = DeviceSpec.from_site(section)
                self.bacnet_meters.append(BacnetDevice(meter, self.model, self.faults, host, port))
        self._lock = asyncio.Lock()
        self._tick_task: asyncio.Task[None] | None = None

    def _check_bacnet_names(self) -> None:
        # A typo in the site file must stop the start, not fail every tick.
        quantities = self.model.quantities()
        devices = self.site.bacnet_devices()
        instances = [device.device_instance for device in devices]
        if len(set(instances)) != len(instances):
            raise SiteError(f"{self.site.path}: two BACnet devices share a device instance")
        for obj in (obj for device in devices for obj in device.objects):
            where = f"{self.site.path}: bacnet object {obj.name}"
            if obj.quantity is not None and obj.quantity not in quantities:
                raise SiteError(f"{where}: the model has no quantity {obj.quantity!r}")
            if obj.valve is not None and obj.valve not in self.model.valve_position:
                raise SiteError(f"{where}: the model has no valve {obj.valve!r}")

    async def start(self) -> None:
        """Start the servers and the clock."""
        await self.modbus.start()
        if self.bacnet is not None:
            await self.bacnet.start()
        for meter in self.bacnet_meters:
            await meter.start()
        self._tick_task = asyncio.create_task(self._ticker(), name="simulator clock")

    async def stop(self) -> None:
        """Stop the clock and close every server."""
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        if self.bacnet is not None:
            self.bacnet.close()
        for meter in self.bacnet_meters:
            meter.close()
        await self.modbus.stop()

    def ready_info(self) -> dict[str, Any]:
        """The ready line's content (real ports once started)."""
        bacnet = None
        if self.bacnet is not None:
            bacnet = {
                "host": self.host,
                "port": self.bacnet.port,
                "device_instance": self.bacnet.device_instance,
            }
        return {
            "ready": True,
            "modbus": {"host": self.host, "port": self.modbus.port},
            "bacnet": bacnet,
            "bacnet_meters": [
                {
                    "name": meter.spec.name,
                    "host": self.host,
                    "port": meter.port,
                    "device_instance": meter.device_instance,
                }
                for meter in self.bacnet_meters
            ],
            "control": {"host": self.host, "port": self.control_port},
            "speed": self.speed,
            "seed": self.seed,
        }

    # ------------------------------------------------------------------ the clock
    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            # Capped so that a stalled process catches up gradually instead of in one long
            # blocking step (simulated time then runs a little slower than speed × wall time).
            elapsed, last = min(now - last, MAX_TICK_WALL_S), now
            async with self._lock:
                try:
                    if self.speed > 0:
                        self.model.step(elapsed * self.speed)
                    self._sync_bacnet()
                except Exception:
                    # A bug in one tick must not stop the clock of a long-running demo.
                    _LOGGER.exception("simulator tick failed")

    def _sync_bacnet(self) -> None:
        if self.bacnet is not None:
            self.bacnet.sync()
        for meter in self.bacnet_meters:
            meter.sync()

    async def advance(self, seconds: float) -> None:
        """Advance simulated time by seconds (any speed), in slices that let servers answer."""
        async with self._lock:
            self._sync_bacnet()
            remaining = seconds
            while remaining > 0:
                chunk = min(ADVANCE_SLICE_S, remaining)
                self.model.step(chunk)
                remaining -= chunk
                self._sync_bacnet()
                await asyncio.sleep(0)

    def set_space(
        self, space: str, *, temperature_c: float | None = None, loss_w_per_k: float | None = None
    ) -> dict[str, Any]:
        """Set a space's temperature and/or its loss to outdoors now; its state afterwards."""
        self.model.set_space(space, temperature_c=temperature_c, loss_w_per_k=loss_w_per_k)
        self._sync_bacnet()
        return self.spaces()[space]

    def set_outdoor(self, day: str | None = None, **curve: float) -> dict[str, Any]:
        """Change the outdoor curve (a named day and/or its parameters); the curve now."""
        self.model.set_outdoor(day, **curve)
        self._sync_bacnet()
        return self.outdoor()

    def spaces(self) -> dict[str, dict[str, Any]]:
        """Per space: temperature, setpoint, occupancy, own heating, loss to outdoors."""
        model = self.model
        return {
            space: {
                "temperature_c": model.quantity(f"space_temperature_c.{space}"),
                "setpoint_c": model.quantity(f"space_setpoint_c.{space}"),
                "occupied": bool(model.quantity(f"occupancy.{space}")),
                "heating_w": model.quantity(f"space_heating_power_w.{space}"),
                "loss_w_per_k": model.space_loss_w_per_k[space],
            }
            for space in model.space_c
        }

    def outdoor(self) -> dict[str, Any]:
        """The outdoor curve in force, the named days and the temperature now."""
        return {
            **self.model.outdoor_curve(),
            "days": self.model.outdoor_days(),
            "temperature_c": self.model.quantity("outdoor_temperature_c"),
        }

    def set_speed(self, speed: float) -> None:
        """Change how fast simulated time runs (0 stops it)."""
        self.speed = float(speed)

    # ------------------------------------------------------------------ what /state shows
    def state(self) -> dict[str, Any]:
        """Every quantity, valve, ledger, fault and request counter, as JSON-ready data."""
        self._sync_bacnet()
        model = self.model
        priority: dict[str, Any] = self.bacnet.priority_arrays() if self.bacnet else {}
        valves = {
            valve: {
                "position_pct": model.valve_position[valve],
                "command_pct": model.valve_command[valve],
                "stuck": self.faults.active("valve_stuck", valve),
                "bacnet": priority.get(valve),
            }
            for valve in model.valve_position
        }
        requests: dict[str, Any] = {"modbus": self.modbus.request_counts()}
        bacnet: dict[str, Any] | None = None
        if self.bacnet is not None:
            requests["bacnet"] = self.bacnet.request_counts()
            bacnet = {
                "device_instance": self.bacnet.device_instance,
                "port": self.bacnet.port,
                "offline": self.faults.active("device_offline", self.bacnet.spec.name),
                "rpm_enabled": self.bacnet.rpm_enabled,
                "segmentation_enabled": self.bacnet.segmentation_enabled,
                "cov_subscriptions": self.bacnet.app.cov_subscription_count(),
                "cov_table_size": self.bacnet.app.cov_table_size,
                "cov_refusals": self.bacnet.app.cov_refusals,
                "restarts": self.bacnet.restarts,
                "objects": self.bacnet.object_state(),
            }
        return {
            "site": self.site.name,
            "time": {
                "simulated_s": model.time_s,
                "time_of_day_h": model.quantity("time_of_day_h"),
                "speed": self.speed,
            },
            "quantities": model.quantities(),
            "valves": valves,
            "pump": {
                "on": bool(model.quantity("pump_on")),
                "command": model.pump_command,
                "failed": self.faults.active("pump_failure"),
                "bacnet": priority.get("pump"),
            },
            "ledgers": model.ledgers(),
            "spaces": self.spaces(),
            "outdoor": self.outdoor(),
            "faults": [f.as_dict() for f in self.faults.faults()],
            "counter_offsets": {
                f"{device}.{point}": offset
                for (device, point), offset in self.modbus.counter_offsets.items()
            },
            "requests": requests,
            "modbus": self.modbus.device_state(),
            "bacnet": bacnet,
            "bacnet_meters": {
                meter.spec.name: {
                    "device_instance": meter.device_instance,
                    "port": meter.port,
                    "offline": self.faults.active("device_offline", meter.spec.name),
                    "requests": meter.request_counts(),
                    "objects": meter.object_state(),
                }
                for meter in self.bacnet_meters
            },
        }
