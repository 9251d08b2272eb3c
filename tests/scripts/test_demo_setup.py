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
from demo_setup import DIVERT_SOURCE, HomeAssistantClient  # noqa: E402

# The demo's example automation of each blueprint (scripts/demo_setup.py) and whether it is on.
AUTOMATIONS = {
    "microdc_demo_ups_power_events": ("microdc/ups_power_events.yaml", "on"),
    "microdc_demo_divert_heat": ("microdc/divert_heat_by_occupancy_and_weather.yaml", "on"),
    # Off: two automations asking for the same site's heat would take turns.
    "microdc_demo_share_heat": ("microdc/share_heat_between_tenants.yaml", "off"),
    "microdc_demo_heat_safety_alert": ("microdc/heat_safety_alert.yaml", "on"),
}
# The controller's valve feedback objects (simulator/sites/demo.yaml), by the destination whose
# valve each reports, and the dry cooler's (reject's: shown, in no destination's settings).
FEEDBACK = {
    "Stockroom": "analog-input_8",
    "Tenant A": "analog-input_9",
    "Tenant B": "analog-input_10",
    "Shared loop": "analog-input_11",
}
FEEDBACK_SENSORS = [
    "sensor.hvac_controller_stockroom_valve_position",
    "sensor.hvac_controller_tenant_a_valve_position",
    "sensor.hvac_controller_tenant_b_valve_position",
    "sensor.hvac_controller_shared_loop_valve_position",
    "sensor.hvac_controller_dry_cooler_valve_position",
]
# The valves, by the names the demo types (its valve entities; their numbers are spares).
VALVES = ["stockroom", "tenant_a", "tenant_b", "shared_loop", "dry_cooler"]
COMMANDS = ("valve", "number")
# The daily utility meter helper of each destination, over its "Heat to" sensor.
METERS = {
    "Stockroom heat today": "sensor.demo_site_heat_to_stockroom",
    "Tenant A heat today": "sensor.demo_site_heat_to_tenant_a",
    "Tenant B heat today": "sensor.demo_site_heat_to_tenant_b",
    "Shared loop heat today": "sensor.demo_site_heat_to_shared_loop",
}
ENTITY_ID = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
# Home Assistant logs a blueprint automation it cannot set up, or a run that fails, here.
AUTOMATION_LOGGERS = ("homeassistant.components.automation", "homeassistant.components.blueprint")


def _entity_ids(value: Any) -> set[str]:
    """The entity ids among a blueprint's inputs (a string, or a list of them)."""
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, str) and ENTITY_ID.match(v)}


async def _automations(client: HomeAssistantClient) -> dict[str, dict[str, Any] | None]:
    """Each example automation: its configuration and its entity's state (None: not there)."""
    registry = await client.ws("config/entity_registry/list")
    entity_of = {e["unique_id"]: e["entity_id"] for e in registry if e["platform"] == "automation"}
    found: dict[str, dict[str, Any] | None] = {}
    for automation_id in AUTOMATIONS:
        config = await client.request(
            "GET", f"/api/config/automation/config/{automation_id}", ok=(200, 404)
        )
        if config is None or "message" in config:
            found[automation_id] = None
            continue
        entity_id = entity_of.get(automation_id)
        state = None
        if entity_id is not None:
            state = await client.request("GET", f"/api/states/{entity_id}", ok=(200, 404))
        found[automation_id] = {
            "config": config,
            "entity_id": entity_id,
            "state": None if state is None else state.get("state"),
        }
    return found


async def _meter_source(client: HomeAssistantClient, entry_id: str) -> Any:
    """A utility meter helper's source sensor, as its options dialog shows it (then closed)."""
    form = await client.request(
        "POST", "/api/config/config_entries/options/flow", {"handler": entry_id}
    )
    await client.request("DELETE", f"/api/config/config_entries/options/flow/{form['flow_id']}")
    field = next(f for f in form["data_schema"] if f["name"] == "source")
    return (field.get("description") or {}).get("suggested_value", field.get("default"))


async def _snapshot(url: str, login: dict[str, str]) -> dict[str, Any]:
    """What the demo made, as the APIs show it."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, url)
        assert await client.login(login["username"], login["password"])
        try:
            entries = await client.request("GET", "/api/config/config_entries/entry?domain=microdc")
            subentries = await client.ws(
                "config_entries/subentries/list", entry_id=entries[0]["entry_id"]
            )
            states = {s["entity_id"]: s for s in await client.request("GET", "/api/states")}
            diagnostics = await client.request(
                "GET", f"/api/diagnostics/config_entry/{entries[0]['entry_id']}"
            )
            meters = await client.request(
                "GET", "/api/config/config_entries/entry?domain=utility_meter"
            )
            return {
                "entries": [e["entry_id"] for e in entries],
                "subentries": sorted((s["subentry_type"], s["title"]) for s in subentries),
                "states": set(states),
                "state": states,
                # Each destination's settings (the diagnostics redact the subentries' titles).
                "destinations": [
                    s["data"]
                    for s in diagnostics["data"]["subentries"]
                    if s["subentry_type"] == "heat_destination"
                ],
                "meters": sorted(m["title"] for m in meters),
                "meter_sources": {
                    m["title"]: await _meter_source(client, m["entry_id"]) for m in meters
                },
                "routing": states.get("sensor.demo_site_heat_routing"),
                "dashboards": [d["url_path"] for d in await client.ws("lovelace/dashboards/list")],
                "energy": await client.ws("energy/get_prefs"),
                "automations": await _automations(client),
                "helpers": [h["name"] for h in await client.ws("input_boolean/list")],
                # The controller's command entities: the valves' valve and number entities.
                "commands": {
                    e["entity_id"]: e["disabled_by"]
                    for e in await client.ws("config/entity_registry/list")
                    if e["platform"] == "microdc" and e["entity_id"].split(".")[0] in COMMANDS
                },
                "log": [
                    entry
                    for entry in await client.ws("system_log/list")
                    if entry["name"].startswith(AUTOMATION_LOGGERS)
                ],
                # Runs that failed (microdc.divert_heat refusing, say), from the traces.
                "failed_runs": [
                    run
                    for run in await client.ws("trace/list", domain="automation")
                    if run.get("script_execution") == "error"
                ],
            }
        finally:
            await client.close()


async def _change_as_a_user(url: str, login: dict[str, str]) -> None:
    """What a user changes after the demo: a renamed entity, two deleted automations, a deleted
    daily meter helper, the tenants' automation switched on."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, url)
        assert await client.login(login["username"], login["password"])
        try:
            await client.ws(
                "config/entity_registry/update",
                entity_id="sensor.rack_pdu_it_power",
                new_entity_id="sensor.rack_power",
            )
            for automation_id in (
                "microdc_demo_ups_power_events",
                "microdc_demo_heat_safety_alert",
            ):
                await client.request("DELETE", f"/api/config/automation/config/{automation_id}")
            meters = await client.request(
                "GET", "/api/config/config_entries/entry?domain=utility_meter"
            )
            tenant_b = next(m for m in meters if m["title"] == "Tenant B heat today")
            await client.request(
                "DELETE", f"/api/config/config_entries/entry/{tenant_b['entry_id']}"
            )
            share = (await _automations(client))["microdc_demo_share_heat"]
            assert share is not None
            await client.request(
                "POST", "/api/services/automation/turn_on", {"entity_id": share["entity_id"]}
            )
        finally:
            await client.close()


async def _routed_by_the_blueprint(url: str, login: dict[str, str]) -> dict[str, Any]:
    """The heat routing sensor once the divert example's request is the router's (it runs
    when saved: saving reloads automations); the last state seen after the timeout."""
    async with aiohttp.ClientSession() as session:
        client = HomeAssistantClient(session, url)
        assert await client.login(login["username"], login["password"])
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                state: dict[str, Any] = await client.request(
                    "GET", "/api/states/sensor.demo_site_heat_routing"
                )
                if state["attributes"].get("source") == DIVERT_SOURCE:
                    return state
                if asyncio.get_running_loop().time() > deadline:
                    return state
                await asyncio.sleep(0.5)  # polling a state, with a deadline
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
        # A set-up that fails says so at once (Home Assistant keeps running and logging).
        first = console.wait_for(
            r"^(?:login: (\S+) (\S+)|microdc demo: not set up: .*)$", timeout=DEMO_TIMEOUT_S
        )
        assert first[0].startswith("login: "), first[0]
        printed = "\n".join(console.lines)
        assert "microdc demo: set up in" in printed
        assert f"open {url}/microdc" in printed
        login = json.loads((tmp_path / "login.json").read_text())
        assert (first[1], first[2]) == (login["username"], login["password"])

        made = asyncio.run(_snapshot(url, login))
        assert ("modbus_device", "Rack PDU") in made["subentries"]
        assert ("bacnet_device", "HVAC controller") in made["subentries"]
        assert len([s for s in made["subentries"] if s[0] == "heat_destination"]) == 4
        assert "microdc" in made["dashboards"]
        # Every entity the dashboard shows exists: the names typed into the flows made them.
        dashboard = (REPO_ROOT / "dashboards" / "microdc.yaml").read_text("utf-8")
        shown = set(
            re.findall(
                r"\b(?:sensor|binary_sensor|number|switch|select|valve)\.[a-z0-9_]+", dashboard
            )
        )
        assert len(shown) > 30
        assert shown <= made["states"], sorted(shown - made["states"])
        # The valves' feedback: chosen with its role, named, and each destination's valve's
        # feedback in its settings (the router checks the valve followed its command).
        for sensor in FEEDBACK_SENSORS:
            state = made["state"][sensor]
            assert state["attributes"]["role"] == "valve_feedback", state
            assert state["attributes"]["unit_of_measurement"] == "%", state
            assert 0 <= float(state["state"]) <= 100, state
        feedback = sorted(
            (valve.rsplit("/", 1)[1], point.rsplit("/", 1)[1])
            for data in made["destinations"]
            for valve, point in data.get("feedback", {}).items()
        )
        assert feedback == sorted(
            (f"analog-output_{i}", FEEDBACK[name]) for i, name in enumerate(FEEDBACK, start=1)
        ), made["destinations"]
        # Each valve is a valve entity named as typed, and the router's (the reject path's
        # too): disabled by the integration, as its spare number; the dashboard writes none.
        for valve in VALVES:
            for domain in COMMANDS:
                entity_id = f"{domain}.hvac_controller_{valve}_valve"
                assert made["commands"].get(entity_id) == "integration", (
                    entity_id,
                    made["commands"],
                )
        assert not shown & set(made["commands"]), shown & set(made["commands"])
        # Today's heat per destination: a daily utility meter helper over each "Heat to"
        # sensor, with a number from the first minute (the dashboard shows these).
        assert made["meters"] == sorted(METERS)
        for name, source in METERS.items():
            meter = made["state"][f"sensor.demo_site_{name.lower().replace(' ', '_')}"]
            assert made["meter_sources"][name] == source
            assert "next_reset" in meter["attributes"], meter
            assert float(meter["state"]) >= 0, meter
            assert meter["attributes"]["unit_of_measurement"] == "kWh", meter
        gas = [s for s in made["energy"]["energy_sources"] if s["type"] == "gas"]
        assert [s["stat_energy_from"] for s in gas] == ["sensor.demo_site_reused_heat"]
        # One IT energy: the site's, not the PDU's as well (that would count it twice).
        devices = [d["stat_consumption"] for d in made["energy"]["device_consumption"]]
        assert devices == ["sensor.demo_site_it_energy"]

        # An example automation per blueprint: set up (not unavailable, as a blueprint
        # automation with bad inputs is), its inputs naming entities that exist.
        assert "Demo site summer" in made["helpers"]
        for automation_id, (path, on) in AUTOMATIONS.items():
            automation = made["automations"][automation_id]
            assert automation is not None, automation_id
            assert automation["config"]["use_blueprint"]["path"] == path
            assert automation["state"] == on, automation
            inputs = automation["config"]["use_blueprint"]["input"]
            named = set().union(*(_entity_ids(v) for v in inputs.values()))
            assert named, automation_id
            assert named <= made["states"], (automation_id, sorted(named - made["states"]))
            if "site" in inputs:
                assert inputs["site"] == made["entries"][0]
        assert made["log"] == [], made["log"]
        assert made["failed_runs"] == [], made["failed_runs"]
        # The heat is routed by the router on the divert example's request (the select on
        # automatic): the demo wrote no valve and placed no request of its own.
        routing = asyncio.run(_routed_by_the_blueprint(url, login))
        assert routing["attributes"]["source"] == DIVERT_SOURCE, routing
        assert routing["attributes"]["source_kind"] == "automation"
        assert routing["state"] in ("requested", "dwell"), routing

        asyncio.run(_change_as_a_user(url, login))
        before = asyncio.run(_snapshot(url, login))
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

        after = asyncio.run(_snapshot(url, login))
        assert after["entries"] == before["entries"]
        assert after["subentries"] == before["subentries"]
        assert after["dashboards"] == before["dashboards"]
        assert after["energy"] == before["energy"]
        assert after["helpers"] == before["helpers"]
        # The deleted meter helper stays deleted.
        assert after["meters"] == before["meters"] == sorted(set(METERS) - {"Tenant B heat today"})
        assert after["destinations"] == before["destinations"]
        # The user's changes stand: the renamed entity keeps its id, the deleted automations
        # stay gone, the tenants' automation stays on; the others are as the demo made them.
        assert "sensor.rack_power" in after["states"]
        assert "sensor.rack_pdu_it_power" not in after["states"]
        deleted = {"microdc_demo_ups_power_events", "microdc_demo_heat_safety_alert"}
        gone = {made["automations"][a]["entity_id"] for a in deleted}
        assert {a for a, found in after["automations"].items() if found is None} == deleted
        assert not gone & after["states"]
        assert after["states"] == before["states"] - gone
        assert after["automations"]["microdc_demo_share_heat"]["state"] == "on"
        for automation_id in AUTOMATIONS.keys() - deleted:
            automation, made_one = (
                after["automations"][automation_id],
                made["automations"][automation_id],
            )
            assert automation is not None
            assert automation["config"] == made_one["config"]
        assert after["log"] == [], after["log"]
        assert after["failed_runs"] == [], after["failed_runs"]

        # Ctrl-C: everything stops, and the console's reader thread with it.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(60) == 128 + signal.SIGINT
        console.wait_closed()
