"""What ``scripts/develop`` runs inside the project's environment: the site simulator and Home
Assistant with microdc, kept running until Ctrl-C (SIGINT) or SIGTERM.

    python scripts/develop_supervisor.py [--dir .develop]

Ports come from MICRODC_HA_PORT, MICRODC_SIM_MODBUS_PORT, MICRODC_SIM_BACNET_PORT and
MICRODC_SIM_CONTROL_PORT.

Home Assistant 2026.10 treats an ``http:`` section in configuration.yaml as *pending* HTTP
settings: unless confirmed within five minutes (which needs a logged-in user), it reverts to its
stored *stable* settings and exits with the restart code 100. So the address and port are not
written as YAML: before every start they are written into the stable slot of Home Assistant's
HTTP store (``.storage/http``), with its own schema, and the ``http:`` block an older
scripts/develop wrote is removed. Home Assistant exits with code 100 whenever it restarts (the UI,
the ``homeassistant.restart`` action, SIGHUP): it is started again, on the same address, while
the simulator keeps running.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import contextlib
import ctypes
import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
from typing import Any, TextIO

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RESTART_EXIT_CODE = 100  # homeassistant.const.RESTART_EXIT_CODE
SIMULATOR_READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0

CONFIGURATION_YAML = """\
# Written once by scripts/develop; edit freely, it is git-ignored. Home Assistant's address and
# port are not set here: scripts/develop writes them into .storage/http (MICRODC_HA_PORT).
homeassistant:
  name: microdc development
  unit_system: metric
  currency: EUR
frontend:
config:
history:
logbook:
energy:
automation: !include automations.yaml
logger:
  default: warning
  logs:
    custom_components.microdc: debug
"""

# The block older versions of scripts/develop wrote: only server_host / server_port lines.
OLD_HTTP_BLOCK = re.compile(r"^http:[ \t]*\n(?:[ \t]+server_(?:host|port):.*\n)+(?=\S|\Z)", re.M)
HTTP_BLOCK_NOTE = "# http: removed by scripts/develop; it sets the address in .storage/http.\n"


def say(message: str) -> None:
    """One line on the console, at once (the console may be a pipe)."""
    print(message, flush=True)


# ---------------------------------------------------------------------------- configuration
def prepare_config(config: Path) -> None:
    """Links to the integration and blueprints, configuration.yaml if missing, old http: gone."""
    (config / "custom_components").mkdir(parents=True, exist_ok=True)
    blueprints = config / "blueprints" / "automation" / "microdc"
    if blueprints.is_symlink():
        # Older versions linked the folder; Home Assistant's glob("**/*.yaml") does not
        # descend into a linked folder (Python 3.13+), so it found no blueprint.
        blueprints.unlink()
    blueprints.mkdir(parents=True, exist_ok=True)
    sources = REPO_ROOT / "blueprints" / "automation" / "microdc"
    links = {
        config / "custom_components" / "microdc": REPO_ROOT / "custom_components" / "microdc",
    }
    # One link per blueprint file: edits in the repository show after a blueprint reload.
    links |= {blueprints / source.name: source for source in sources.glob("*.yaml")}
    for stale in blueprints.iterdir():
        if stale.is_symlink() and stale not in links:
            stale.unlink()
    for link, target in links.items():
        # Relative: the same tree is seen inside and outside the root file system.
        relative = os.path.relpath(target, link.parent)
        if link.is_symlink() and os.readlink(link) == relative:
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(relative)
    yaml_file = config / "configuration.yaml"
    if not yaml_file.exists():
        yaml_file.write_text(CONFIGURATION_YAML)
        (config / "automations.yaml").write_text("[]\n")
        return
    text = yaml_file.read_text()
    migrated = OLD_HTTP_BLOCK.sub(HTTP_BLOCK_NOTE, text)
    if migrated != text:
        yaml_file.write_text(migrated)
        say(
            f"microdc: removed the http: section from {yaml_file} (see the README, scripts/develop)"
        )
    elif re.search(r"^http:", text, re.M):
        say(
            f"microdc: {yaml_file} has an http: section of your own; Home Assistant ignores it "
            "after its first start, and scripts/develop sets address and port in .storage/http"
        )


def pin_http_store(config: Path, port: int) -> None:
    """Make HOST:port Home Assistant's confirmed (stable) HTTP setting, nothing pending.

    Other stable settings are kept; a pending setting that differs only in address or port (what
    an ``http:`` section of an older scripts/develop left) is dropped, as is one that already
    failed its trial (Home Assistant never applies those again).
    """
    from homeassistant.components.http import config as http_config  # noqa: PLC0415

    meta = (
        http_config.HTTP_CONFIG_CREATED_AT,
        http_config.HTTP_CONFIG_ERROR,
        http_config.HTTP_CONFIG_ERROR_MESSAGE,
    )
    address = {"server_host": [HOST], "server_port": port}
    path = config / ".storage" / http_config.STORAGE_KEY
    version = (http_config.STORAGE_VERSION, http_config.STORAGE_MINOR_VERSION)
    data: dict[str, Any] | None = None
    if path.exists():
        stored = json.loads(path.read_text())
        if (stored.get("version"), stored.get("minor_version")) == version:
            data = stored["data"]
    if data is None:
        # No store, or one of another version: start from Home Assistant's own defaults.
        data = {"stable": dict(http_config.HTTP_STORAGE_SCHEMA({})), "pending": None}
    stable = {**data["stable"], **address, http_config.HTTP_CONFIG_ERROR: None}
    stable.setdefault(http_config.HTTP_CONFIG_CREATED_AT, time_iso())
    stable[http_config.HTTP_CONFIG_ERROR_MESSAGE] = None
    pending = data.get("pending")
    if pending is not None:
        pending = {**pending, **address}

        def strip(conf: dict[str, Any]) -> dict[str, Any]:
            return {key: value for key, value in conf.items() if key not in meta}

        if pending.get(http_config.HTTP_CONFIG_ERROR) is not None or strip(pending) == strip(
            stable
        ):
            pending = None
    new = {
        "version": version[0],
        "minor_version": version[1],
        "key": http_config.STORAGE_KEY,
        "data": {"stable": stable, "pending": pending, "yaml_migration_done": True},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".microdc-partial")
    # Private like Home Assistant's own write; replaced atomically.
    partial.write_text(json.dumps(new, indent=2))
    partial.chmod(0o600)
    partial.replace(path)


def time_iso() -> str:
    """Now, in the ISO form Home Assistant stores."""
    from homeassistant.util import dt as dt_util  # noqa: PLC0415

    return dt_util.utcnow().isoformat()


# ---------------------------------------------------------------------------- processes
def _die_with_parent() -> None:
    """Run in the child: SIGTERM it if the supervisor dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    """A child in its own process group: Ctrl-C reaches only the supervisor, which stops the
    children once, in order (a second signal makes Home Assistant quit without saving)."""
    return subprocess.Popen(
        args,
        cwd=REPO_ROOT,
        process_group=0,
        text=True,
        # The supervisor runs no threads, so preexec_fn is safe here.
        preexec_fn=_die_with_parent,  # noqa: PLW1509
        **kwargs,
    )


def stop(process: subprocess.Popen[str] | None) -> None:
    """SIGTERM, wait, SIGKILL if it does not stop in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def port_is_free(port: int) -> bool:
    """True when HOST:port can be bound as Home Assistant binds it (address reuse on)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def answers(port: int) -> bool:
    """True when something accepts a TCP connection on HOST:port."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def read_ready_line(process: subprocess.Popen[str], stdout: TextIO) -> dict[str, Any] | None:
    """The simulator's ready line, or None when it exits or stays silent too long."""
    import select  # noqa: PLC0415

    ready, _, _ = select.select([stdout], [], [], SIMULATOR_READY_TIMEOUT_S)
    if not ready:
        return None
    line = stdout.readline()
    if not line or process.poll() is not None:
        return None
    info: dict[str, Any] = json.loads(line)
    return info


def describe_site(ready: dict[str, Any]) -> list[str]:
    """What a user types into microdc's flows to add the simulator's devices."""
    from simulator.site import load_site  # noqa: PLC0415

    site = load_site(None)
    modbus = ready["modbus"]
    lines = [f"  Modbus TCP  host {modbus['host']}, port {modbus['port']}; unit ids:"]
    lines += [
        f"                {device.unit_id}  {device.name} (profile {device.profile})"
        for device in site.modbus_devices
    ]
    bacnet = ready.get("bacnet")
    if bacnet is not None:
        name = site.bacnet.name if site.bacnet is not None else "BACnet device"
        lines += [
            f"  BACnet/IP   {bacnet['host']}:{bacnet['port']}, device instance "
            f"{bacnet['device_instance']} ({name})",
            "              broadcast Who-Is cannot reach a device on 127.0.0.1: use Find",
            f"              devices with Send Who-Is to {bacnet['host']}:{bacnet['port']}, or",
            "              enter that address and the device instance by hand",
        ]
    control = ready["control"]
    lines.append(f"  control API http://{control['host']}:{control['port']}/state")
    return lines


class Stopping(BaseException):
    """Raised by the signal handler: the user asked everything to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stopping(signum: int, _frame: object) -> None:
    # Ignore further signals while stopping: the children are stopped once, in order.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    raise Stopping(signum)


def supervise(config: Path, log_dir: Path, ports: dict[str, int], *, demo: bool = False) -> int:
    """Run the simulator once and Home Assistant until it exits other than to restart.

    With ``demo``, scripts/demo_setup.py configures the demo site once Home Assistant first
    serves (it is idempotent, so a later run of scripts/develop runs it again harmlessly).
    """
    simulator: subprocess.Popen[str] | None = None
    hass: subprocess.Popen[str] | None = None
    setup: subprocess.Popen[str] | None = None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopping)
    try:
        if not port_is_free(ports["ha"]):
            say(
                f"microdc: {HOST}:{ports['ha']} is in use (another Home Assistant?); "
                "set MICRODC_HA_PORT to a free port"
            )
            return 1
        with (log_dir / "simulator.log").open("w") as sim_log:
            simulator = start(
                [
                    sys.executable,
                    "-m",
                    "simulator",
                    "--host",
                    HOST,
                    "--modbus-port",
                    str(ports["modbus"]),
                    "--bacnet-port",
                    str(ports["bacnet"]),
                    "--control-port",
                    str(ports["control"]),
                ],
                stdout=subprocess.PIPE,
                stderr=sim_log,
            )
        assert simulator.stdout is not None
        ready = read_ready_line(simulator, simulator.stdout)
        if ready is None:
            say(f"microdc: the simulator did not start; see {log_dir / 'simulator.log'}")
            return 1
        say(f"Site simulator ready (pid {simulator.pid}):")
        for line in describe_site(ready):
            say(line)
        url = f"http://{HOST}:{ports['ha']}"
        while True:
            pin_http_store(config, ports["ha"])
            hass = start([sys.executable, "-m", "homeassistant", "-c", str(config)])
            say(f"Home Assistant with microdc is starting: open {url}")
            if demo:
                say("  the demo site is configured once it serves (scripts/develop --bare: not).")
            else:
                say("  then Settings > Devices & services > Add integration > microdc.")
            say("  Ctrl-C stops Home Assistant and the simulator.")

            def on_serving() -> None:
                nonlocal setup
                if demo and setup is None:
                    setup = start(demo_setup_command(log_dir, ports))

            code = wait_for_hass(hass, simulator, ports["ha"], url, on_serving)
            if code is None:
                say(f"microdc: the simulator stopped; see {log_dir / 'simulator.log'}")
                return 1
            if code != RESTART_EXIT_CODE:
                say(
                    f"microdc: Home Assistant exited with code {code}; "
                    f"see {config / 'home-assistant.log'}"
                )
                return code or 1
            say(f"microdc: Home Assistant exited to restart (code {code}); starting it again")
    except Stopping as stopping:
        say("microdc: stopping Home Assistant and the simulator")
        stop(setup)
        stop(hass)
        stop(simulator)
        return 128 + stopping.signum
    finally:
        stop(setup)
        stop(hass)
        stop(simulator)


def demo_setup_command(log_dir: Path, ports: dict[str, int]) -> list[str]:
    """scripts/demo_setup.py for this Home Assistant and simulator."""
    return [
        sys.executable,
        str(REPO_ROOT / "scripts" / "demo_setup.py"),
        "--url",
        f"http://{HOST}:{ports['ha']}",
        "--dir",
        str(log_dir),
        "--modbus-port",
        str(ports["modbus"]),
        "--bacnet-port",
        str(ports["bacnet"]),
        "--local-bacnet-port",
        str(ports["ha_bacnet"]),
    ]


def wait_for_hass(
    hass: subprocess.Popen[str],
    simulator: subprocess.Popen[str],
    port: int,
    url: str,
    on_serving: Callable[[], None] | None = None,
) -> int | None:
    """Home Assistant's exit code, or None if the simulator stops first. Says when it serves."""
    announced = False
    while True:
        try:
            return hass.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        if simulator.poll() is not None:
            return None
        if not announced and answers(port):
            announced = True
            say(f"Home Assistant (pid {hass.pid}) is serving {url}")
            if on_serving is not None:
                on_serving()


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=".develop", help="where config and logs live")
    parser.add_argument(
        "--bare", action="store_true", help="no demo set-up: an unconfigured Home Assistant"
    )
    args = parser.parse_args()
    # The simulator's site loader, wherever this file is run from.
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    base = (REPO_ROOT / args.dir).resolve()
    config = base / "config"
    prepare_config(config)
    ports = {
        "ha": int(os.environ.get("MICRODC_HA_PORT", "8123")),
        "modbus": int(os.environ.get("MICRODC_SIM_MODBUS_PORT", "5020")),
        "bacnet": int(os.environ.get("MICRODC_SIM_BACNET_PORT", "47809")),
        "control": int(os.environ.get("MICRODC_SIM_CONTROL_PORT", "8124")),
        # Home Assistant's own BACnet/IP socket, which the demo site binds to 127.0.0.1.
        "ha_bacnet": int(os.environ.get("MICRODC_HA_BACNET_PORT", "47808")),
    }
    return supervise(config, base, ports, demo=not args.bare)


if __name__ == "__main__":
    sys.exit(main())
