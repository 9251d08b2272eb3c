"""A real Home Assistant process for the benchmarks, driven over its REST and websocket APIs.

``HomeAssistantProcess.start(config_yaml)`` makes a configuration folder in a temporary
directory, links microdc and the benchmark probe (benchmarks/ha_probe) into its
custom_components, pins 127.0.0.1 and a free port in Home Assistant's HTTP store (as
scripts/develop does: an ``http:`` section would be a pending setting that reverts after five
minutes), starts ``python -m homeassistant`` and waits until its API answers with the token the
probe wrote. ``stop()`` sends SIGTERM (SIGKILL after a grace period) and removes the folder.

Config flows are driven by ``flow(...)``: it answers each form from a table of answers by step
id, the way the UI would submit it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import itertools
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from scripts.develop_supervisor import pin_http_store  # noqa: E402

HOST = "127.0.0.1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
TOKEN_FILE = ".microdc_bench_token"

BASE_CONFIGURATION = """\
homeassistant:
  name: microdc benchmark
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
api:
config:
diagnostics:
websocket_api:
microdc_bench:
logger:
  default: warning
"""

type Answer = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]


def free_tcp_port() -> int:
    """A port nobody listens on now (the OS's choice)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def suggested(form: dict[str, Any]) -> dict[str, Any]:
    """A form's suggested values, as a person accepting the proposed names submits them."""
    return {
        field["name"]: field["description"]["suggested_value"]
        for field in form["data_schema"]
        if "suggested_value" in (field.get("description") or {})
    }


class FlowError(RuntimeError):
    """A config flow ended other than in a created entry."""


@dataclass
class HomeAssistantProcess:
    """One running Home Assistant; see the module docstring."""

    config: Path
    port: int
    process: subprocess.Popen[bytes]
    token: str = ""
    session: aiohttp.ClientSession | None = None
    ws: aiohttp.ClientWebSocketResponse | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _pending: dict[int, asyncio.Future[Any]] = field(default_factory=dict)
    _subscriptions: dict[int, Callable[[Any], None]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None
    flow_retries: int = 0

    @classmethod
    async def start(
        cls, configuration: str = BASE_CONFIGURATION, extra_path: Path | None = None
    ) -> HomeAssistantProcess:
        """Write the configuration folder, start Home Assistant, connect to it.

        extra_path: a folder of packages put on the process's path (core_modbus_requirements).
        """
        config = Path(tempfile.mkdtemp(prefix="microdc-bench-ha-"))
        (config / "configuration.yaml").write_text(configuration, encoding="utf-8")
        components = config / "custom_components"
        components.mkdir()
        (components / "microdc").symlink_to(REPO_ROOT / "custom_components" / "microdc")
        (components / "microdc_bench").symlink_to(
            REPO_ROOT / "benchmarks" / "ha_probe" / "microdc_bench"
        )
        port = free_tcp_port()
        pin_http_store(config, port)
        log = (config / "home-assistant.stderr").open("wb")
        # Without the repository on PYTHONPATH: its custom_components package would hide the
        # configuration folder's (where the probe is).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if extra_path is not None:
            env["PYTHONPATH"] = str(extra_path)
        process = subprocess.Popen(  # noqa: ASYNC220 (a benchmark: nothing else waits on this loop)
            [sys.executable, "-m", "homeassistant", "-c", str(config), "--skip-pip"],
            cwd=config,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        instance = cls(config=config, port=port, process=process)
        try:
            await instance._wait_ready()
        except BaseException:
            await instance.stop()
            raise
        return instance

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ps(self) -> psutil.Process:
        """The Home Assistant process, for CPU and memory figures."""
        return psutil.Process(self.process.pid)

    def log_text(self) -> str:
        """What Home Assistant wrote to stderr (its log)."""
        path = self.config / "home-assistant.stderr"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        token_file = self.config / TOKEN_FILE
        self.session = aiohttp.ClientSession()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Home Assistant ended ({self.process.returncode}):\n{self.log_text()[-3000:]}"
                )
            if not self.token and token_file.exists():
                self.token = token_file.read_text().strip()
            if self.token:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self.session.get(
                        f"{self.url}/api/config", headers=self._headers()
                    ) as resp:
                        if resp.status == 200 and (await resp.json())["state"] == "RUNNING":
                            await self._connect_ws()
                            return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"Home Assistant not ready in {START_TIMEOUT_S:g} s")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    # ------------------------------------------------------------------ REST
    async def rest(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call; raises on a status >= 400."""
        assert self.session is not None
        async with self.session.request(
            method, f"{self.url}{path}", json=body, headers=self._headers()
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {text}")
            return json.loads(text) if text else None

    async def flow(
        self, start_path: str, handler: Any, answers: Mapping[str, Answer], retries: int = 2
    ) -> dict[str, Any]:
        """Run a config (or subentry) flow over REST to its end; the created result.

        A step that shows errors is submitted again up to ``retries`` times (counted in
        ``flow_retries``).
        """
        retried = 0
        result = await self.rest("POST", start_path, {"handler": handler})
        body: dict[str, Any] = {}
        for _ in range(20):
            kind = result["type"]
            if kind == "create_entry":
                return dict(result)
            if kind not in ("form", "menu"):
                raise FlowError(f"{handler}: flow ended as {kind}: {result}")
            if result.get("errors"):
                # As a person would: submit once more (a device busy being read may be late).
                if retried >= retries:
                    raise FlowError(f"{handler}: step {result['step_id']}: {result['errors']}")
                retried += 1
                self.flow_retries += 1
                await asyncio.sleep(2)
            else:
                answer = answers[result["step_id"]]
                body = dict(answer(result) if callable(answer) else answer)
            result = await self.rest("POST", f"{start_path}/{result['flow_id']}", body)
        raise FlowError(f"{handler}: too many steps")

    # ------------------------------------------------------------------ websocket
    async def _connect_ws(self) -> None:
        assert self.session is not None
        self.ws = await self.session.ws_connect(f"{self.url}/api/websocket", max_msg_size=0)
        await self.ws.receive_json()  # auth_required
        await self.ws.send_json({"type": "auth", "access_token": self.token})
        answer = await self.ws.receive_json()
        if answer.get("type") != "auth_ok":
            raise RuntimeError(f"websocket auth failed: {answer}")
        self._reader = asyncio.create_task(self._read_ws())

    async def _read_ws(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            for item in payload if isinstance(payload, list) else [payload]:
                if item.get("type") == "event" and item["id"] in self._subscriptions:
                    self._subscriptions[item["id"]](item["event"])
                elif item.get("type") == "result" and item["id"] in self._pending:
                    future = self._pending.pop(item["id"])
                    if item.get("success"):
                        future.set_result(item.get("result"))
                    else:
                        future.set_exception(RuntimeError(str(item.get("error"))))

    async def command(self, message: dict[str, Any]) -> Any:
        """One websocket command and its result."""
        assert self.ws is not None
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self.ws.send_json({**message, "id": msg_id})
        return await asyncio.wait_for(future, 60)

    async def subscribe(self, message: dict[str, Any], on_event: Callable[[Any], None]) -> None:
        """A websocket subscription; on_event gets each event."""
        assert self.ws is not None
        msg_id = next(self._ids)
        self._subscriptions[msg_id] = on_event
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self.ws.send_json({**message, "id": msg_id})
        await asyncio.wait_for(future, 60)

    # ------------------------------------------------------------------ lifecycle
    async def stop(self) -> None:
        """Stop Home Assistant and remove its folder."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not os.environ.get("MICRODC_BENCH_KEEP"):
            shutil.rmtree(self.config, ignore_errors=True)


# Core modbus in Home Assistant 2026.10 needs these (its manifest.json); the project's test
# environment does not install them, and the shared venv must not change under everyone's feet.
CORE_MODBUS_REQUIREMENTS = ("modbus-connection==4.12.4", "tmodbus==0.6.2", "serialx", "tenacity")


def core_modbus_requirements() -> Path | None:
    """A private folder with core modbus's missing requirements (None if the venv has them).

    Installed once with pip into a folder under the user's cache (outside the repository and
    the venv), and only put on the benchmark's Home Assistant process's path.
    """
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("modbus_connection") is not None:
        return None
    key = "-".join(r.replace("==", "") for r in CORE_MODBUS_REQUIREMENTS[:2])
    folder = Path.home() / ".cache" / "microdc-bench" / key
    if not (folder / "modbus_connection").exists():
        print(f"Installing core modbus's requirements into {folder} (once) ...", flush=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run([*pip, "--target", str(folder), *CORE_MODBUS_REQUIREMENTS], check=True)
    return folder


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU time of a process so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


def rss_mib(process: psutil.Process) -> float:
    """Resident memory of a process, MiB."""
    return float(process.memory_info().rss) / (1 << 20)
