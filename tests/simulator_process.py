"""pytest fixtures that run the site simulator (``python -m simulator``) as a real process.

Registered for every test by ``pytest_plugins`` in tests/conftest.py. The simulator listens on
127.0.0.1 with free ports; phcc blocks sockets, so a test that talks to it takes the
``socket_enabled`` fixture.

Fixtures:

``simulator`` (session scope)
    One simulator shared by the session (per xdist worker), started with ``--speed 0``: simulated
    time moves only by ``advance(seconds)``, so readings can be compared with ``state()``
    exactly. A test that injects faults must clear them (``clear_faults()``, or
    ``with simulator.fault(...):``); one that needs a pristine or differently configured
    simulator uses the factory.
``simulator_factory`` (function scope)
    ``simulator_factory(speed=0.0, seed=0, site=None, extra_args=())`` starts a fresh simulator
    and returns its ``SimulatorProcess``; every one started is stopped when the test ends.

``SimulatorProcess`` attributes: ``host``, ``modbus_port``, ``bacnet_port`` and
``bacnet_device_instance`` (None for a site without BACnet), ``bacnet_meters`` (the site's
BACnet heat meters: name -> (port, device instance)), ``control_port``,
``control_url``, ``ready`` (the ready line as a dict), ``process``. Helpers (sync, and
``async_``-prefixed coroutines for async tests, which must not block the event loop):

- ``state()`` -> GET /state as a dict;
- ``inject_fault(fault, device=None, duration_s=None, **params)`` -> the fault as the API
  returns it; raises ``ControlError`` on a 400;
- ``clear_faults()`` -> how many were cleared;
- ``advance(seconds)`` -> the new ``time`` block;
- ``set_speed(speed)``, ``bacnet_options(rpm_enabled=..., segmentation=..., max_apdu=...)``;
- ``request(method, path, body=None)`` -> (status, JSON) without raising, for API tests;
- ``fault(...)``: a context manager that injects a fault and clears all faults on exit;
- ``stop()`` -> the exit status after SIGTERM.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any
import urllib.error
import urllib.request

import aiohttp
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class ControlError(RuntimeError):
    """The control API refused a request (status and message)."""

    def __init__(self, status: int, body: Any) -> None:
        """Keep the status and the body for the test to inspect."""
        super().__init__(f"control API answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class SimulatorProcess:
    """A running ``python -m simulator`` and helpers for its control API."""

    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    stderr_path: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def host(self) -> str:
        return str(self.ready["control"]["host"])

    @property
    def modbus_port(self) -> int:
        return int(self.ready["modbus"]["port"])

    @property
    def bacnet_port(self) -> int | None:
        bacnet = self.ready.get("bacnet")
        return None if bacnet is None else int(bacnet["port"])

    @property
    def bacnet_device_instance(self) -> int | None:
        bacnet = self.ready.get("bacnet")
        return None if bacnet is None else int(bacnet["device_instance"])

    @property
    def bacnet_meters(self) -> dict[str, tuple[int, int]]:
        """The site's BACnet heat meters: name -> (port, device instance)."""
        return {
            str(m["name"]): (int(m["port"]), int(m["device_instance"]))
            for m in self.ready.get("bacnet_meters") or ()
        }

    @property
    def control_port(self) -> int:
        return int(self.ready["control"]["port"])

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    # ------------------------------------------------------------------ sync helpers
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Send one request; body may be a JSON-able value or raw bytes. Never raises on 4xx."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.request(method, path, body)
        if status >= 400:
            raise ControlError(status, answer)
        return answer

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/state"))

    def inject_fault(
        self, fault: str, device: Any = None, duration_s: float | None = None, **params: Any
    ) -> dict[str, Any]:
        return dict(self._call("POST", "/faults", _fault_body(fault, device, duration_s, params)))

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/faults")["cleared"])

    def advance(self, seconds: float) -> dict[str, Any]:
        return dict(self._call("POST", "/advance", {"seconds": seconds})["time"])

    def set_speed(self, speed: float) -> None:
        self._call("POST", "/speed", {"speed": speed})

    def bacnet_options(self, **options: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/bacnet", options))

    @contextlib.contextmanager
    def fault(
        self, fault: str, device: Any = None, duration_s: float | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Inject a fault for the ``with`` block; every fault is cleared on exit."""
        try:
            yield self.inject_fault(fault, device, duration_s, **params)
        finally:
            self.clear_faults()

    # ------------------------------------------------------------------ async helpers
    async def async_request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.control_url + path, data=data) as resp,
        ):
            return resp.status, await resp.json(content_type=None)

    async def _async_call(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.async_request(method, path, body)
        if status >= 400:
            raise ControlError(status, answer)
        return answer

    async def async_state(self) -> dict[str, Any]:
        return dict(await self._async_call("GET", "/state"))

    async def async_inject_fault(
        self, fault: str, device: Any = None, duration_s: float | None = None, **params: Any
    ) -> dict[str, Any]:
        body = _fault_body(fault, device, duration_s, params)
        return dict(await self._async_call("POST", "/faults", body))

    async def async_clear_faults(self) -> int:
        return int((await self._async_call("DELETE", "/faults"))["cleared"])

    async def async_advance(self, seconds: float) -> dict[str, Any]:
        return dict((await self._async_call("POST", "/advance", {"seconds": seconds}))["time"])

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> int:
        """SIGTERM, wait for a clean exit (kill after STOP_TIMEOUT_S); return the exit status."""
        if not self._stopped:
            self._stopped = True
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
        return int(self.process.returncode)

    def stderr_text(self) -> str:
        """What the simulator logged so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _fault_body(
    fault: str, device: Any, duration_s: float | None, params: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"fault": fault, **params}
    if device is not None:
        body["device"] = device
    if duration_s is not None:
        body["duration_s"] = duration_s
    return body


def start_simulator(
    *,
    speed: float = 0.0,
    seed: int = 0,
    site: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
) -> SimulatorProcess:
    """Start ``python -m simulator`` on 127.0.0.1 with free ports and wait for its ready line."""
    args = [sys.executable, "-m", "simulator", "--host", "127.0.0.1"]
    args += ["--modbus-port", "0", "--bacnet-port", "0", "--control-port", "0"]
    args += ["--bacnet-meter-port", "0"]
    args += ["--speed", repr(float(speed)), "--seed", str(seed)]
    if site is not None:
        args += ["--site", os.fspath(site)]
    args += list(extra_args)
    handle, name = tempfile.mkstemp(prefix="microdc-simulator-", suffix=".log")
    stderr_path = Path(name)
    with os.fdopen(handle, "wb") as stderr:
        process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    # Wait for the ready line (or the process's end) without sleeping: select on the pipe.
    deadline = time.monotonic() + READY_TIMEOUT_S
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([process.stdout], [], [], max(0.0, remaining))
        if not readable:
            process.kill()
        chunk = os.read(process.stdout.fileno(), 4096) if readable else b""
        if not chunk:
            process.wait()
            process.stdout.close()
            log = stderr_path.read_text(encoding="utf-8", errors="replace")
            stderr_path.unlink(missing_ok=True)
            raise RuntimeError(
                f"simulator ended ({process.returncode}) before its ready line "
                f"(waited up to {READY_TIMEOUT_S:g} s): {log}"
            )
        line += chunk
    ready = json.loads(line.decode().splitlines()[0])
    return SimulatorProcess(process=process, ready=ready, stderr_path=stderr_path)


@pytest.fixture(scope="session")
def simulator() -> Generator[SimulatorProcess]:
    """One simulator for the session, time held still (--speed 0); see the module docstring."""
    sim = start_simulator(speed=0.0)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


@pytest.fixture
def simulator_factory() -> Generator[Callable[..., SimulatorProcess]]:
    """Start fresh simulators for one test; all are stopped when it ends."""
    started: list[SimulatorProcess] = []

    def factory(**options: Any) -> SimulatorProcess:
        sim = start_simulator(**options)
        started.append(sim)
        return sim

    try:
        yield factory
    finally:
        for sim in started:
            sim.stop()
            sim.stderr_path.unlink(missing_ok=True)
