"""scripts/develop's supervisor (scripts/develop_supervisor.py) against a real Home Assistant.

Home Assistant 2026.10 reverts unconfirmed ``http:`` YAML after five minutes and exits with the
restart code 100. The supervisor must pin the address in Home Assistant's stable HTTP store (so
nothing is pending), migrate a config an older scripts/develop wrote, restart Home Assistant on
exit code 100 on the same port while the simulator keeps running, and say what to type.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import importlib.util
import json
import os
from pathlib import Path
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from types import ModuleType
from typing import Any
import urllib.request

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = REPO_ROOT / "scripts" / "develop_supervisor.py"
START_TIMEOUT_S = 90.0

# What scripts/develop wrote before this fix (the http: block is what Home Assistant reverted).
OLD_CONFIGURATION_YAML = """\
# Written once by scripts/develop; edit freely, it is git-ignored.
homeassistant:
  name: microdc development
  unit_system: metric
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: 8123
frontend:
config:
automation: !include automations.yaml
system_log:
logger:
  default: warning
  logs:
    custom_components.microdc: debug
    homeassistant.components.http.config: info
"""
# Test only: says every second that Home Assistant is running. Its signal handlers are attached
# right after startup completes, before any timer can fire, so after this line SIGHUP restarts
# it instead of killing it (nothing else says "started" without a logged-in user).
RUNNING_AUTOMATION = """\
- id: microdc_test_running
  alias: microdc test running
  triggers: [{trigger: time_pattern, seconds: "/1"}]
  actions: [{action: system_log.write, data: {message: "microdc-test running", level: warning}}]
"""


def _load_supervisor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("develop_supervisor", SUPERVISOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


supervisor = _load_supervisor()


def _reverted_store() -> dict[str, Any]:
    """The HTTP store Home Assistant leaves after reverting an unconfirmed http: section."""
    from homeassistant.components.http import config as http_config  # noqa: PLC0415

    stable = {**http_config.HTTP_STORAGE_SCHEMA({}), "created_at": "2026-11-01T00:00:00+00:00"}
    stable |= {"error": None, "error_message": None}
    pending = {**stable, "server_host": ["127.0.0.1"], "error": "not_promoted"}
    return {
        "version": http_config.STORAGE_VERSION,
        "minor_version": http_config.STORAGE_MINOR_VERSION,
        "key": "http",
        "data": {"stable": stable, "pending": pending, "yaml_migration_done": True},
    }


def _write_old_config(config: Path) -> None:
    (config / ".storage").mkdir(parents=True)
    (config / "configuration.yaml").write_text(OLD_CONFIGURATION_YAML)
    (config / "automations.yaml").write_text(RUNNING_AUTOMATION)
    (config / ".storage" / "http").write_text(json.dumps(_reverted_store()))


def _stored(config: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((config / ".storage" / "http").read_text())["data"]
    return data


# ---------------------------------------------------------------------------- no Home Assistant
def test_pin_replaces_a_reverted_trial_with_a_stable_address(tmp_path: Path) -> None:
    """The state an older scripts/develop left: stable on 0.0.0.0:8123, a failed trial."""
    _write_old_config(tmp_path)
    supervisor.pin_http_store(tmp_path, 18555)
    data = _stored(tmp_path)
    assert data["stable"]["server_host"] == ["127.0.0.1"]
    assert data["stable"]["server_port"] == 18555
    assert data["pending"] is None
    assert data["yaml_migration_done"] is True
    # Home Assistant's other settings survive.
    assert data["stable"]["ip_ban_enabled"] is True


def test_pin_keeps_a_pending_change_of_the_user_on_the_pinned_address(tmp_path: Path) -> None:
    _write_old_config(tmp_path)
    store = _reverted_store()
    store["data"]["pending"] |= {"error": None, "use_x_frame_options": False}
    (tmp_path / ".storage" / "http").write_text(json.dumps(store))
    supervisor.pin_http_store(tmp_path, 18556)
    pending = _stored(tmp_path)["pending"]
    assert pending["use_x_frame_options"] is False
    assert pending["server_host"] == ["127.0.0.1"]
    assert pending["server_port"] == 18556


def test_pin_without_a_store_writes_home_assistants_defaults(tmp_path: Path) -> None:
    supervisor.pin_http_store(tmp_path, 18557)
    data = _stored(tmp_path)
    assert data["stable"]["server_port"] == 18557
    assert data["stable"]["cors_allowed_origins"]
    assert oct((tmp_path / ".storage" / "http").stat().st_mode & 0o777) == "0o600"


def test_prepare_removes_only_the_http_block_an_older_version_wrote(tmp_path: Path) -> None:
    _write_old_config(tmp_path)
    supervisor.prepare_config(tmp_path)
    text = (tmp_path / "configuration.yaml").read_text()
    assert not re.search(r"^http:", text, re.M)
    assert "server_port" not in text
    assert "frontend:\nconfig:\n" in text
    assert (tmp_path / "custom_components" / "microdc" / "manifest.json").is_file()


def test_prepare_leaves_an_http_section_of_the_user_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own = "homeassistant:\nhttp:\n  server_port: 9000\n  use_x_forwarded_for: true\n"
    (tmp_path / "configuration.yaml").write_text(own)
    supervisor.prepare_config(tmp_path)
    assert (tmp_path / "configuration.yaml").read_text() == own
    assert "http: section of your own" in capsys.readouterr().out


def test_a_fresh_configuration_has_no_http_section(tmp_path: Path) -> None:
    supervisor.prepare_config(tmp_path)
    assert not re.search(r"^http:", (tmp_path / "configuration.yaml").read_text(), re.M)


# ---------------------------------------------------------------------------- real processes
def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Console:
    """The supervisor's stdout, line by line, read by a thread so waits can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for line in stdout:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        self._thread = threading.Thread(target=pump, daemon=True)
        self._thread.start()

    def wait_closed(self, timeout: float = 10.0) -> None:
        """Until the process's stdout is closed and its reader is gone."""
        self._thread.join(timeout)
        assert not self._thread.is_alive()

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                line = None
                remaining = 0
            if line is None:
                tail = "\n".join(self.lines[-30:])
                reason = "timed out" if remaining <= 0 else "the supervisor exited"
                pytest.fail(f"{reason} waiting for {pattern!r}; console:\n{tail}")
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def _supervisor(base: Path, env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run the supervisor; whatever happens, end it and every child it started."""
    process = subprocess.Popen(
        [sys.executable, str(SUPERVISOR), "--dir", str(base), *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        for pid in [process.pid, *pids]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        process.wait(10)


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        status: int = response.status
        return status


@pytest.mark.usefixtures("socket_enabled")
def test_develop_serves_on_its_port_restarts_on_code_100_and_stops_on_sigint(
    tmp_path: Path,
) -> None:
    """An older .develop (http: YAML, reverted store) is migrated; a restart keeps the port."""
    config = tmp_path / "config"
    _write_old_config(config)
    ports = {
        "MICRODC_HA_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_MODBUS_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_BACNET_PORT": _free_port(socket.SOCK_DGRAM),
        "MICRODC_SIM_CONTROL_PORT": _free_port(socket.SOCK_STREAM),
    }
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    env["PYTHONPATH"] = str(REPO_ROOT)
    ha_port, bacnet_port = ports["MICRODC_HA_PORT"], ports["MICRODC_SIM_BACNET_PORT"]
    url = f"http://127.0.0.1:{ha_port}"
    # --bare: the demo set-up has its own test (test_demo_setup.py); this one is about the
    # supervisor's address and restarts.
    with _supervisor(tmp_path, env, "--bare") as process:
        console = Console(process)
        simulator_pid = int(console.wait_for(r"Site simulator ready \(pid (\d+)\)")[1])
        first = int(console.wait_for(rf"Home Assistant \(pid (\d+)\) is serving {url}$")[1])
        printed = "\n".join(console.lines)
        # What a user types into the flows.
        for unit_id, name in ((1, "rack_pdu"), (2, "ups"), (3, "environment"), (4, "heat_meter")):
            assert re.search(rf"^\s+{unit_id}\s+{name} ", printed, re.M), printed
        assert f"127.0.0.1:{bacnet_port}, device instance 47110" in printed
        assert "broadcast Who-Is cannot reach a device on 127.0.0.1" in printed
        assert f"Send Who-Is to 127.0.0.1:{bacnet_port}" in printed

        assert _get(f"{url}/manifest.json") == 200
        log = (config / "home-assistant.log").read_text()
        # Nothing pending, so no revert (and no exit 100) is scheduled five minutes later.
        assert "Using stable HTTP config" in log
        assert "Using pending HTTP config" not in log
        assert not re.search(r"^http:", (config / "configuration.yaml").read_text(), re.M)

        # The first line can come before startup completes (the time pattern fires on the next
        # whole second, and a fast start reaches it first); the second comes a second later.
        console.wait_for("microdc-test running")
        console.wait_for("microdc-test running")
        # SIGHUP takes Home Assistant's own restart path: it stops and exits with code 100,
        # as after the UI's restart or the HTTP revert.
        os.kill(first, signal.SIGHUP)
        console.wait_for(r"Home Assistant exited to restart \(code 100\)")
        second = int(console.wait_for(rf"Home Assistant \(pid (\d+)\) is serving {url}$")[1])
        assert second != first
        assert _get(f"{url}/manifest.json") == 200
        assert _alive(simulator_pid)
        control = ports["MICRODC_SIM_CONTROL_PORT"]
        assert _get(f"http://127.0.0.1:{control}/state") == 200

        # Ctrl-C on the terminal: SIGINT to the supervisor's process group.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(60) == 128 + signal.SIGINT
        assert not _alive(second)
        assert not _alive(simulator_pid)


def test_prepare_links_each_blueprint_where_home_assistant_finds_it(tmp_path: Path) -> None:
    """Home Assistant lists blueprints with glob("**/*.yaml"), which does not enter a linked
    folder (Python 3.13+): an older .develop's folder link is replaced by one link per file."""
    folder = tmp_path / "blueprints" / "automation" / "microdc"
    folder.parent.mkdir(parents=True)
    folder.symlink_to(REPO_ROOT / "blueprints" / "automation" / "microdc")
    supervisor.prepare_config(tmp_path)
    found = sorted(p.name for p in (tmp_path / "blueprints").glob("**/*.yaml"))
    shipped = sorted(
        p.name for p in (REPO_ROOT / "blueprints" / "automation" / "microdc").glob("*.yaml")
    )
    assert found == shipped
    assert shipped
