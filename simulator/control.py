"""The simulator's control API: HTTP with JSON bodies on the control port (aiohttp).

Endpoints (every error is a JSON ``{"error": message}`` with status 400; nothing a client
sends can stop the simulator):

``GET /state``
    Everything at this instant: ``time`` (simulated_s, time_of_day_h, speed), ``quantities``
    (every model quantity, see simulator/model.py), ``valves`` (per valve: position_pct,
    command_pct, stuck, and ``bacnet``: the output object's priority array (16 slots, slot i
    is priority i + 1, null when empty), relinquish default, present value and
    ``current_command_priority``: the priority in control, null when the relinquish default
    is), ``pump``, ``ledgers`` (ground truth in Wh since start: it_energy_wh,
    heat_to_loop_wh, delivered_wh.<destination>, rejected_wh.<dry_cooler|room>, stored_wh,
    balance_wh, ...), ``spaces`` (per space: temperature_c, setpoint_c, occupied, heating_w,
    loss_w_per_k), ``outdoor`` (the curve in force: mean_c, amplitude_k, warmest_hour,
    offset_k, the named ``days``, temperature_c now), ``faults`` in force,
    ``counter_offsets`` (counter jumps),
    ``requests`` (``modbus``: by_unit → function code → n, by_function, total; ``bacnet``:
    per service), ``modbus`` (per device: unit id, profile, per point the raw value served and
    its decoded value), ``bacnet`` (device instance, port, objects and present values).
``POST /faults``  ``{"fault": NAME, "device": ..., "duration_s": N, ...parameters}``
    Puts a fault in force (names and parameters: simulator/faults.py); 201 with the fault.
``GET /faults``   the faults in force.
``DELETE /faults`` clears every fault; 200 ``{"cleared": n}``.
``POST /advance`` ``{"seconds": N}``
    Advances simulated time by N seconds now (integrated at the model's fine step), whatever
    the speed; with ``--speed 0`` it is the only way time moves, which makes tests exact.
    200 with the new ``time``.
``POST /speed``   ``{"speed": X}`` (X >= 0) changes the simulation speed.
``POST /spaces``  ``{"space": NAME, "temperature_c": T, "loss_w_per_k": UA}`` (either or both)
    sets a space's temperature now (-30..80 °C) and/or its conductance to outdoors (0..10000
    W/K; 0: a space that keeps all the heat it gets), so a test can put a space at its limit
    at once, or make it warm up fast. 200 with the space's state (as in GET /state).
``POST /outdoor`` ``{"day": "winter" | "spring", "mean_c": T, "amplitude_k": A,
    "warmest_hour": H, "offset_k": K}`` (each optional) changes the outdoor curve: the named
    day of the site file (its curve with the day's values), then the values given. 200 with
    the curve in force (as in GET /state's ``outdoor``).
``POST /bacnet``  ``{"rpm_enabled": bool, "segmentation": bool, "max_apdu": int,
    "cov_table_size": int | null}`` (each optional): switches of the BACnet device for clients'
    tests (ReadPropertyMultiple refused; no segmentation with a small max APDU; a COV table of
    that many entries that refuses new subscriptions when full, null: unlimited). GET /state's
    ``bacnet`` shows ``cov_subscriptions``, ``cov_table_size``, ``cov_refusals`` and
    ``restarts`` (bacnet_restart faults and ends of device_offline).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json
import math
from typing import Any

from aiohttp import web

from simulator.faults import FaultError
from simulator.runner import MAX_ADVANCE_S, SimulatorRunner

RUNNER: web.AppKey[SimulatorRunner] = web.AppKey("runner", SimulatorRunner)


class BadRequestError(ValueError):
    """The request cannot be carried out; the message says why."""


def build_app(runner: SimulatorRunner) -> web.Application:
    """The aiohttp application of the control API."""
    app = web.Application(middlewares=[_errors])
    app[RUNNER] = runner
    app.router.add_get("/state", _get_state)
    app.router.add_get("/faults", _get_faults)
    app.router.add_post("/faults", _post_fault)
    app.router.add_delete("/faults", _delete_faults)
    app.router.add_post("/advance", _post_advance)
    app.router.add_post("/speed", _post_speed)
    app.router.add_post("/bacnet", _post_bacnet)
    app.router.add_post("/spaces", _post_spaces)
    app.router.add_post("/outdoor", _post_outdoor)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve an aiohttp app on host:port (0: a free port); returns it and the port it got."""
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    site = web.TCPSite(app_runner, host, port)
    await site.start()
    server: Any = site._server  # aiohttp keeps the asyncio server here; no public accessor
    return app_runner, int(server.sockets[0].getsockname()[1])


async def start_control(runner: SimulatorRunner, host: str, port: int) -> web.AppRunner:
    """Serve the control API on host:port (0: a free port, stored in runner.control_port)."""
    app_runner, runner.control_port = await serve(build_app(runner), host, port)
    return app_runner


def _json(data: Any, status: int = 200) -> web.Response:
    # NaN and infinity are not JSON: send them as null.
    return web.json_response(_finite(data), status=status)


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


@web.middleware
async def _errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except (BadRequestError, FaultError) as err:
        return _json({"error": str(err)}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise BadRequestError(f"the body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise BadRequestError("the body must be a JSON object")
    return data


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequestError(f"{key!r} must be a number")
    if not low <= value <= high:
        raise BadRequestError(f"{key!r} must be from {low:g} to {high:g}")
    return float(value)


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequestError(f"unknown field(s) {', '.join(unknown)}; known: {sorted(allowed)}")


async def _get_state(request: web.Request) -> web.Response:
    return _json(request.app[RUNNER].state())


async def _get_faults(request: web.Request) -> web.Response:
    return _json({"faults": [f.as_dict() for f in request.app[RUNNER].faults.faults()]})


async def _post_fault(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    fault = runner.faults.add(await _body(request))
    return _json({"fault": fault.as_dict()}, status=201)


async def _delete_faults(request: web.Request) -> web.Response:
    return _json({"cleared": request.app[RUNNER].faults.clear()})


async def _post_advance(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = await _body(request)
    _only(data, {"seconds"})
    await runner.advance(_number(data, "seconds", 0.0, MAX_ADVANCE_S))
    return _json({"time": runner.state()["time"]})


async def _post_speed(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = await _body(request)
    _only(data, {"speed"})
    runner.set_speed(_number(data, "speed", 0.0, 1e6))
    return _json({"speed": runner.speed})


async def _post_bacnet(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = await _body(request)
    _only(data, {"rpm_enabled", "segmentation", "max_apdu", "cov_table_size"})
    device = runner.bacnet
    if device is None:
        raise BadRequestError("this site has no BACnet device")
    for key in ("rpm_enabled", "segmentation"):
        if key in data and not isinstance(data[key], bool):
            raise BadRequestError(f"{key!r} must be true or false")
    if "cov_table_size" in data:
        size = data["cov_table_size"]
        if size is not None:
            size = int(_number(data, "cov_table_size", 0, 65535))
        device.app.cov_table_size = size
    if "rpm_enabled" in data:
        device.rpm_enabled = data["rpm_enabled"]
    if "segmentation" in data or "max_apdu" in data:
        enabled = data.get("segmentation", device.segmentation_enabled)
        if "max_apdu" in data:
            device.set_segmentation(enabled, int(_number(data, "max_apdu", 50, 1476)))
        else:
            device.set_segmentation(enabled)
    return _json(
        {
            "rpm_enabled": device.rpm_enabled,
            "segmentation": device.segmentation_enabled,
            "cov_table_size": device.app.cov_table_size,
        }
    )


async def _post_spaces(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = await _body(request)
    _only(data, {"space", "temperature_c", "loss_w_per_k"})
    space = data.get("space")
    spaces = list(runner.model.space_c)
    if space not in spaces:
        raise BadRequestError(f"unknown space {space!r}; spaces: {', '.join(spaces)}")
    if "temperature_c" not in data and "loss_w_per_k" not in data:
        raise BadRequestError("give 'temperature_c', 'loss_w_per_k' or both")
    temperature = _number(data, "temperature_c", -30.0, 80.0) if "temperature_c" in data else None
    loss = _number(data, "loss_w_per_k", 0.0, 10000.0) if "loss_w_per_k" in data else None
    return _json(runner.set_space(space, temperature_c=temperature, loss_w_per_k=loss))


_OUTDOOR_RANGES = {
    "mean_c": (-40.0, 45.0),
    "amplitude_k": (0.0, 20.0),
    "warmest_hour": (0.0, 24.0),
    "offset_k": (-30.0, 30.0),
}


async def _post_outdoor(request: web.Request) -> web.Response:
    runner = request.app[RUNNER]
    data = await _body(request)
    _only(data, {"day", *_OUTDOOR_RANGES})
    day = data.get("day")
    days = runner.model.outdoor_days()
    if day is not None and day not in days:
        raise BadRequestError(f"unknown day {day!r}; days: {', '.join(days) or 'none'}")
    curve = {
        key: _number(data, key, *_OUTDOOR_RANGES[key]) for key in _OUTDOOR_RANGES if key in data
    }
    return _json(runner.set_outdoor(day, **curve))
