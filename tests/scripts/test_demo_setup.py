"""scripts/demo_setup.py against a real Home Assistant and simulator (scripts/develop's
supervisor): a second run creates nothing and keeps what the user changed.

"Keeps what the user changed" means: a step the demo did once is never redone, so a renamed
entity keeps its new id, a deleted automation stays deleted, an edited dashboard is not
overwritten; only what the demo never made is added.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from .test_develop import REPO_ROOT, Console, _free_port, _supervisor

SETUP = REPO_ROOT / "scripts" / "demo_setup.py"
# Home Assistant's first start (frontend, onboarding) and every flow: half a minute on a quiet
# machine, minutes on a loaded one.
DEMO_TIMEOUT_S = 300.0

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from demo_setup import HomeAssistantClient  # noqa: E402


async def _snapshot(url: str, login: dict[str, str], change: bool) -> dict[str, Any]:
    """What the demo made; with change, first what a user would change."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, url)
        assert await client.login(login["username"], login["password"])
        try:
            if change:
                await client.ws(
                    "config/entity_registry/update",
                    entity_id="sensor.rack_pdu_it_power",
                    new_entity_id="sensor.rack_power",
                )
                await client.request(
                    "DELETE", "/api/config/automation/config/microdc_demo_ups_power_events"
                )
            entries = await client.request("GET", "/api/config/config_entries/entry?domain=microdc")
            subentries = await client.ws(
                "config_entries/subentries/list", entry_id=entries[0]["entry_id"]
            )
            states = {s["entity_id"] for s in await client.request("GET", "/api/states")}
            return {
                "entries": [e["entry_id"] for e in entries],
                "subentries": sorted((s["subentry_type"], s["title"]) for s in subentries),
                "states": states,
                "dashboards": [d["url_path"] for d in await client.ws("lovelace/dashboards/list")],
                "energy": await client.ws("energy/get_prefs"),
            }
        finally:
            await client.close()


@pytest.mark.timeout(540)
@pytest.mark.usefixtures("socket_enabled")
def test_a_second_run_creates_nothing_and_keeps_what_the_user_changed(tmp_path: Path) -> None:
    ports = {
        "MICRODC_HA_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_MODBUS_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_SIM_BACNET_PORT": _free_port(socket.SOCK_DGRAM),
        "MICRODC_SIM_CONTROL_PORT": _free_port(socket.SOCK_STREAM),
        "MICRODC_HA_BACNET_PORT": _free_port(socket.SOCK_DGRAM),
    }
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    env["PYTHONPATH"] = str(REPO_ROOT)
    url = f"http://127.0.0.1:{ports['MICRODC_HA_PORT']}"
    with _supervisor(tmp_path, env) as process:
        console = Console(process)
        first = console.wait_for(r"^login: (\S+) (\S+)$", timeout=DEMO_TIMEOUT_S)
        printed = "\n".join(console.lines)
        assert "microdc demo: set up in" in printed
        assert f"open {url}/microdc" in printed
        login = json.loads((tmp_path / "login.json").read_text())
        assert (first[1], first[2]) == (login["username"], login["password"])

        before = asyncio.run(_snapshot(url, login, change=True))
        assert ("modbus_device", "Rack PDU") in before["subentries"]
        assert ("bacnet_device", "HVAC controller") in before["subentries"]
        assert len([s for s in before["subentries"] if s[0] == "heat_destination"]) == 4
        assert "microdc" in before["dashboards"]
        # Every entity the dashboard shows exists: the names typed into the flows made them.
        dashboard = (REPO_ROOT / "dashboards" / "microdc.yaml").read_text("utf-8")
        shown = set(
            re.findall(r"\b(?:sensor|binary_sensor|number|switch|select)\.[a-z0-9_]+", dashboard)
        )
        assert len(shown) > 30
        made = (before["states"] - {"sensor.rack_power"}) | {"sensor.rack_pdu_it_power"}
        assert shown <= made, sorted(shown - made)  # (before the user renamed one above)
        gas = [s for s in before["energy"]["energy_sources"] if s["type"] == "gas"]
        assert [s["stat_energy_from"] for s in gas] == ["sensor.demo_site_reused_heat"]
        # One IT energy: the site's, not the PDU's as well (that would count it twice).
        devices = [d["stat_consumption"] for d in before["energy"]["device_consumption"]]
        assert devices == ["sensor.demo_site_it_energy"]

        second = subprocess.run(
            [
                sys.executable,
                str(SETUP),
                "--url",
                url,
                "--dir",
                str(tmp_path),
                "--modbus-port",
                str(ports["MICRODC_SIM_MODBUS_PORT"]),
                "--bacnet-port",
                str(ports["MICRODC_SIM_BACNET_PORT"]),
                "--local-bacnet-port",
                str(ports["MICRODC_HA_BACNET_PORT"]),
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 0, second.stdout + second.stderr
        assert "already set up, nothing changed" in second.stdout
        assert f"login: {login['username']} {login['password']}" in second.stdout

        after = asyncio.run(_snapshot(url, login, change=False))
        assert after["entries"] == before["entries"]
        assert after["subentries"] == before["subentries"]
        assert after["dashboards"] == before["dashboards"]
        assert after["energy"] == before["energy"]
        # The user's changes stand: the renamed entity keeps its id, the automation stays gone.
        assert "sensor.rack_power" in after["states"]
        assert "sensor.rack_pdu_it_power" not in after["states"]
        assert "automation.ups_on_battery_notify" not in after["states"]
        assert after["states"] == before["states"] - {"automation.ups_on_battery_notify"}

        # Ctrl-C: everything stops, and the console's reader thread with it.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(60) == 128 + signal.SIGINT
        console.wait_closed()
