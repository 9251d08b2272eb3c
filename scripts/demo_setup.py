"""Configure the demo site in a running Home Assistant through its public APIs only.

    python scripts/demo_setup.py --url http://127.0.0.1:8123 --dir .develop \
        --modbus-port 5020 --bacnet-port 47809

What a person would click, in order: onboarding (a local user, core config, analytics,
integrations), the microdc site, its devices (the simulator's four Modbus units and its BACnet
controller with the objects' roles), the heat destinations with their valves, the energy
dashboard, an example automation per blueprint with the demo's entities (and the toggle helper
the divert blueprint keeps the season in) and the microdc dashboard
(``dashboards/microdc.yaml``). It writes no Home Assistant file: every change goes through the
REST and websocket APIs, as the frontend's would.

Heat is routed as on a site of the user's own: the "Heat destination" select stays on automatic
and the example automation of the divert blueprint asks the heat router (``microdc.divert_heat``
under its own name), so the select, an action or safety can take over and give back. The demo
places no request of its own: an action's request outranks every automation's and would hold
until released.

It is idempotent, and it keeps what the user changed. Each step is looked up first through the
APIs (the flows' own duplicate checks, the lists of entries, automations, dashboards) and done
only when what it makes is missing; and each step done is recorded in ``<dir>/demo.json``, so a
thing the demo made once and the user then changed or deleted is left as the user left it (a
renamed entity keeps its name, a deleted automation stays deleted, an edited dashboard or
energy set-up is not overwritten). ``<dir>/login.json`` keeps the generated password of the
demo user; it is git-ignored with the rest of ``<dir>``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
import json
import os
from pathlib import Path
import secrets
import sys
import time
from typing import Any

import aiohttp
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_FILE = REPO_ROOT / "dashboards" / "microdc.yaml"
DASHBOARD_URL_PATH = "microdc"
USERNAME = "demo"
SITE_NAME = "Demo site"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0
ENTITIES_TIMEOUT_S = 120.0

# The simulator's Modbus units (simulator/sites/demo.yaml), with the short names a person gives
# them; the names make the entity ids the dashboard uses (sensor.rack_pdu_power, ...).
MODBUS_DEVICES = (
    ("Rack PDU", 1, "demo_rack_pdu"),
    ("UPS", 2, "demo_ups"),
    ("Environment", 3, "demo_environment"),
    ("Heat meter", 4, "demo_heat_meter"),
)
BACNET_NAME = "HVAC controller"
BACNET_INSTANCE = 47110
# The role of each of the controller's objects, by object name.
BACNET_ROLES: dict[str, str] = {
    "LOOP-SUPPLY-T": "loop_supply_temperature",
    "LOOP-RETURN-T": "loop_return_temperature",
    "LOOP-FLOW": "loop_flow",
    "OUTDOOR-T": "outdoor_temperature",
    "STOCKROOM-T": "space_temperature",
    "TENANT-A-T": "space_temperature",
    "TENANT-B-T": "space_temperature",
    "STOCKROOM-OCC": "occupancy",
    "TENANT-A-OCC": "occupancy",
    "TENANT-B-OCC": "occupancy",
    "VLV-STOCKROOM": "valve_position",
    "VLV-TENANT-A": "valve_position",
    "VLV-TENANT-B": "valve_position",
    "VLV-SHARED-LOOP": "valve_position",
    "VLV-DRY-COOLER": "valve_position",
    "LOOP-PUMP": "pump_command",
    "VLV-STOCKROOM-POS": "valve_feedback",
    "VLV-TENANT-A-POS": "valve_feedback",
    "VLV-TENANT-B-POS": "valve_feedback",
    "VLV-SHARED-LOOP-POS": "valve_feedback",
    "VLV-DRY-COOLER-POS": "valve_feedback",
}
# The names the demo gives the controller's objects in the flow's names step (the flow offers
# each object's description; a person would type shorter ones). The entity ids follow them:
# valve.hvac_controller_tenant_a_valve (its number.hvac_controller_tenant_a_valve is a spare,
# disabled by default), ... The dashboard (dashboards/microdc.yaml) shows the valves read-only, by
# their feedback sensors: the router commands them.
BACNET_NAMES: dict[str, str] = {
    "LOOP-SUPPLY-T": "Loop supply temperature",
    "LOOP-RETURN-T": "Loop return temperature",
    "LOOP-FLOW": "Loop flow",
    "OUTDOOR-T": "Outdoor temperature",
    "STOCKROOM-T": "Stockroom temperature",
    "TENANT-A-T": "Tenant A temperature",
    "TENANT-B-T": "Tenant B temperature",
    "STOCKROOM-OCC": "Stockroom occupancy",
    "TENANT-A-OCC": "Tenant A occupancy",
    "TENANT-B-OCC": "Tenant B occupancy",
    "VLV-STOCKROOM": "Stockroom valve",
    "VLV-TENANT-A": "Tenant A valve",
    "VLV-TENANT-B": "Tenant B valve",
    "VLV-SHARED-LOOP": "Shared loop valve",
    "VLV-DRY-COOLER": "Dry cooler valve",
    "LOOP-PUMP": "Loop pump",
    "VLV-STOCKROOM-POS": "Stockroom valve position",
    "VLV-TENANT-A-POS": "Tenant A valve position",
    "VLV-TENANT-B-POS": "Tenant B valve position",
    "VLV-SHARED-LOOP-POS": "Shared loop valve position",
    "VLV-DRY-COOLER-POS": "Dry cooler valve position",
}
# Heat destinations: name, kind, the controller's valve object that sends heat there and the
# object that says where that valve actually is (its feedback: the router checks that the valve
# followed its command, and the dashboard shows it, read-only). The dry cooler's feedback has no
# place in the site's settings yet (reject's valve is found by its name): the dashboard shows it.
DESTINATIONS = (
    ("Stockroom", "stockroom", "VLV-STOCKROOM", "VLV-STOCKROOM-POS"),
    ("Tenant A", "tenant", "VLV-TENANT-A", "VLV-TENANT-A-POS"),
    ("Tenant B", "tenant", "VLV-TENANT-B", "VLV-TENANT-B-POS"),
    ("Shared loop", "shared_loop", "VLV-SHARED-LOOP", "VLV-SHARED-LOOP-POS"),
)
# Each destination's heat today: a daily utility meter helper over its "Heat to <destination>"
# sensor, as made in Settings > Devices & services > Helpers > Create helper > Utility meter.
# It counts from the minute it is made; a statistic card's "change today" needs the recorder's
# long-term statistics, which the first hour does not have. Home Assistant puts it on its
# source's device (the site's), so its entity id begins with the site's name:
# sensor.demo_site_stockroom_heat_today, ... (dashboards/microdc.yaml).
DAILY_METER_NAME = "{destination} heat today"

# The heat blueprints' example automations route heat through the router: the demo neither
# writes a valve (the router owns the destinations' valves) nor asks microdc.divert_heat itself
# (an action's request would outrank the automation's until released). The tenants' example is
# made switched off: two automations asking for one site's heat would take turns.
SUMMER_HELPER = "Demo site summer"
# The blueprints' default source names (their requests' names at the router).
DIVERT_SOURCE = "Divert heat by occupancy and weather"
SHARE_SOURCE = "Share heat between tenants"


# An example's blueprint inputs, None where what it needs is missing (it says what).
type Inputs = Callable[[], Awaitable[dict[str, Any] | None]]


def say(message: str) -> None:
    """One line on the console, at once (the console may be a pipe)."""
    print(message, flush=True)


class SetupError(RuntimeError):
    """A step failed in a way the user should hear about."""


class Record:
    """What the demo has done before (``demo.json``): done steps are never redone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, Any] = {}
        if path.exists():
            self.done = dict(json.loads(path.read_text()).get("done", {}))

    def __contains__(self, step: str) -> bool:
        return step in self.done

    def mark(self, step: str, value: Any = True) -> None:
        self.done[step] = value
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"done": self.done}, indent=2) + "\n")
        partial.replace(self.path)

    def forget(self) -> None:
        self.done = {}
        self.path.unlink(missing_ok=True)


def field_defaults(schema: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The values a form would submit untouched: each field's default, sections included."""
    values: dict[str, Any] = {}
    for field in schema:
        if field.get("type") == "expandable":
            values[field["name"]] = field_defaults(field["schema"])
        elif "suggested_value" in (field.get("description") or {}):
            values[field["name"]] = field["description"]["suggested_value"]
        elif "default" in field:
            values[field["name"]] = field["default"]
    return values


def select_options(schema: Iterable[Mapping[str, Any]], name: str) -> list[dict[str, str]]:
    """The options of a form's select field."""
    for field in schema:
        if field["name"] == name:
            options: list[Any] = field["selector"]["select"]["options"]
            return [o if isinstance(o, dict) else {"value": o, "label": o} for o in options]
    raise SetupError(f"the form has no field {name!r}")


class HomeAssistantClient:
    """The REST and websocket APIs of one Home Assistant, as its frontend uses them."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self.client_id = f"{self.url}/"
        self.token: str | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 1

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self, method: str, path: str, body: Any = None, *, ok: Iterable[int] = (200, 201)
    ) -> Any:
        async with self.session.request(
            method, f"{self.url}{path}", json=body, headers=self._headers()
        ) as response:
            text = await response.text()
            if response.status not in set(ok):
                raise SetupError(f"{method} {path} answered {response.status}: {text[:300]}")
            return json.loads(text) if text else None

    async def wait_until_serving(self) -> None:
        """Until the HTTP API answers (onboarding views or not)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                async with self.session.get(f"{self.url}/manifest.json") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SetupError(f"Home Assistant at {self.url} did not answer in time")
            await asyncio.sleep(0.5)

    async def onboarding_status(self) -> dict[str, bool] | None:
        """Each onboarding step and whether it is done; None once onboarding is over."""
        async with self.session.get(f"{self.url}/api/onboarding") as response:
            if response.status == 404:
                return None
            steps = await response.json()
        return {step["step"]: step["done"] for step in steps}

    async def exchange_code(self, code: str) -> None:
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id}
        async with self.session.post(f"{self.url}/auth/token", data=form) as response:
            if response.status != 200:
                raise SetupError(f"/auth/token answered {response.status}")
            self.token = (await response.json())["access_token"]

    async def login(self, username: str, password: str) -> bool:
        """Log in as the login page does; False if the password is refused."""
        flow = await self.request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        result = await self.request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {"username": username, "password": password, "client_id": self.client_id},
        )
        if result.get("type") != "create_entry":
            return False
        await self.exchange_code(result["result"])
        return True

    async def ws(self, command: str, **fields: Any) -> Any:
        """One websocket command's result (the connection is opened on first use)."""
        if self._ws is None:
            self._ws = await self.session.ws_connect(f"{self.url}/api/websocket")
            await self._ws.receive_json()  # auth_required
            await self._ws.send_json({"type": "auth", "access_token": self.token})
            if (await self._ws.receive_json())["type"] != "auth_ok":
                raise SetupError("the websocket API refused the token")
        message_id = self._next_id
        self._next_id += 1
        await self._ws.send_json({"id": message_id, "type": command, **fields})
        while True:
            reply = await self._ws.receive_json()
            if reply.get("id") == message_id and reply.get("type") == "result":
                break
        if not reply["success"]:
            raise SetupError(f"{command} failed: {reply['error']}")
        return reply.get("result")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    # --- flows: a form at a time, as the frontend's dialogs submit them ---

    async def flow(
        self,
        path: str,
        start: Mapping[str, Any],
        answer: Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]],
    ) -> dict[str, Any]:
        """Run a flow to its end: ``answer`` fills each form (or picks a menu's next step)."""
        result: dict[str, Any] = await self.request("POST", path, dict(start))
        for _ in range(20):
            if result["type"] not in ("form", "menu"):
                return result
            filled = answer(result)
            if not isinstance(filled, dict):
                filled = await filled
            result = await self.request("POST", f"{path}/{result['flow_id']}", filled)
            if result["type"] == "form" and result.get("errors"):
                raise SetupError(f"{path} step {result['step_id']}: {result['errors']}")
        raise SetupError(f"{path} did not end")


class DemoSetup:
    """The demo's steps against one Home Assistant."""

    def __init__(
        self,
        client: HomeAssistantClient,
        state_dir: Path,
        modbus_port: int,
        bacnet_port: int,
        local_bacnet_port: int,
    ) -> None:
        self.client = client
        self.state_dir = state_dir
        self.modbus_port = modbus_port
        self.bacnet_port = bacnet_port
        self.local_bacnet_port = local_bacnet_port
        self.record = Record(state_dir / "demo.json")
        self.login_file = state_dir / "login.json"
        self.created: list[str] = []  # what this run made, for the summary
        self.entry_id: str | None = None

    # --- onboarding and login ---

    async def onboard_and_login(self) -> tuple[str, str]:
        """Onboard a fresh instance with the demo user, or log in as that user."""
        client = self.client
        status = await client.onboarding_status()
        if status is not None and not status.get("user"):
            # A fresh Home Assistant: whatever the record says is of an older instance.
            self.record.forget()
            password = secrets.token_urlsafe(12)
            result = await client.request(
                "POST",
                "/api/onboarding/users",
                {
                    "client_id": client.client_id,
                    "name": "Demo",
                    "username": USERNAME,
                    "password": password,
                    "language": "en",
                },
            )
            self.login_file.write_text(json.dumps({"username": USERNAME, "password": password}))
            self.login_file.chmod(0o600)
            await client.exchange_code(result["auth_code"])
            self.created.append(f"user {USERNAME}")
        else:
            if not self.login_file.exists():
                raise SetupError(
                    f"Home Assistant has a user already, and {self.login_file} does not say "
                    "who: configure the demo by hand, or delete the folder for a fresh start"
                )
            login = json.loads(self.login_file.read_text())
            if not await client.login(login["username"], login["password"]):
                raise SetupError(
                    f"the password of {login['username']} in {self.login_file} was refused "
                    "(changed in the UI?); the demo set-up leaves this instance alone"
                )
        status = await client.onboarding_status()
        if status is not None:
            if not status.get("core_config"):
                await client.request("POST", "/api/onboarding/core_config", {})
            if not status.get("analytics"):
                await client.request("POST", "/api/onboarding/analytics", {})
            if not status.get("integration"):
                await client.request(
                    "POST",
                    "/api/onboarding/integration",
                    {
                        "client_id": client.client_id,
                        "redirect_uri": f"{client.url}/?auth_callback=1",
                    },
                )
        login = json.loads(self.login_file.read_text())
        return login["username"], login["password"]

    async def wait_until_running(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (await self.client.request("GET", "/api/config"))["state"] != "RUNNING":
            if time.monotonic() > deadline:
                raise SetupError("Home Assistant did not finish starting")
            await asyncio.sleep(0.5)

    # --- the site and its devices ---

    async def site(self) -> None:
        entries = await self.client.request(
            "GET", "/api/config/config_entries/entry?domain=microdc"
        )
        if entries:
            self.entry_id = entries[0]["entry_id"]
            return
        if "site" in self.record:
            say("microdc demo: the demo site was removed; it is not added again")
            return
        result = await self.client.flow(
            "/api/config/config_entries/flow",
            {"handler": "microdc", "show_advanced_options": False},
            lambda _form: {"site_name": SITE_NAME},
        )
        if result["type"] != "create_entry":
            raise SetupError(f"the site flow ended with {result}")
        self.entry_id = result["result"]["entry_id"]
        self.record.mark("site", self.entry_id)
        self.created.append(f"site {SITE_NAME}")

    async def site_options(self) -> None:
        """The site's BACnet/IP socket on loopback, on a port of its own: the simulator is on
        127.0.0.1, and another Home Assistant on this machine may hold the default 47808."""
        if "site_options" in self.record:
            return

        def answer(form: dict[str, Any]) -> dict[str, Any]:
            values = field_defaults(form["data_schema"])
            values["bacnet"] = values.get("bacnet", {}) | {
                "local_address": HOST,
                "local_port": self.local_bacnet_port,
            }
            return values

        result = await self.client.flow(
            "/api/config/config_entries/options/flow", {"handler": self.entry_id}, answer
        )
        if result["type"] != "create_entry":
            raise SetupError(f"the site's options ended with {result}")
        self.record.mark("site_options")

    async def subentries(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.client.ws(
            "config_entries/subentries/list", entry_id=self.entry_id
        )
        return result

    async def _add_subentry(
        self,
        step: str,
        kind: str,
        name: str,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> str | None:
        """Run a subentry flow once; its subentry id, None if it existed already."""
        # The REST API does not return a new subentry's id: it is the one that was not there.
        known = {s["subentry_id"] for s in await self.subentries()}
        result = await self.client.flow(
            "/api/config/config_entries/subentries/flow",
            {"handler": [self.entry_id, kind], "show_advanced_options": False},
            answer,
        )
        if result["type"] == "abort" and result["reason"] == "already_configured":
            self.record.mark(step, "existed")
            return None
        if result["type"] != "create_entry":
            raise SetupError(f"adding {name} ended with {result}")
        new = [s["subentry_id"] for s in await self.subentries() if s["subentry_id"] not in known]
        if len(new) != 1:
            raise SetupError(f"adding {name} made {len(new)} subentries")
        subentry_id = str(new[0])
        self.record.mark(step, subentry_id)
        self.created.append(f"{kind} {name}")
        return subentry_id

    async def modbus_devices(self) -> list[str]:
        """Add the simulator's Modbus units, each under its short name; the subentry ids of
        those added."""
        added: list[str] = []
        for name, unit_id, profile in MODBUS_DEVICES:
            step = f"modbus:{unit_id}"
            if step in self.record:
                continue

            def answer(
                form: dict[str, Any],
                unit_id: int = unit_id,
                profile: str = profile,
                name: str = name,
            ) -> dict[str, Any]:
                if form["step_id"] == "name":
                    return {"name": name}  # the flow proposes the kind; the demo's own name
                values = field_defaults(form["data_schema"])
                return values | {
                    "host": HOST,
                    "port": self.modbus_port,
                    "unit_id": unit_id,
                    "profile": profile,
                }

            subentry_id = await self._add_subentry(step, "modbus_device", name, answer)
            added += [] if subentry_id is None else [subentry_id]
        return added

    async def bacnet_device(self) -> list[str]:
        """Add the controller, every object chosen, each with its role and name."""
        step = f"bacnet:{BACNET_INSTANCE}"
        if step in self.record:
            return []

        def answer(form: dict[str, Any]) -> dict[str, Any]:
            schema = form.get("data_schema") or []
            step_id = form["step_id"]
            if form["type"] == "menu":
                return {"next_step_id": "manual"}
            if step_id == "manual":
                return {
                    "address": f"{HOST}:{self.bacnet_port}",
                    "device_instance": BACNET_INSTANCE,
                }
            if step_id == "filter":
                return field_defaults(schema)
            if step_id == "objects":
                values = field_defaults(schema)
                values["objects"] = [o["value"] for o in select_options(schema, "objects")]
                return values
            if step_id == "roles":
                roles: dict[str, Any] = {}
                for field in schema:
                    select = field["selector"]["select"]
                    for option in select_options(schema, field["name"]):
                        if BACNET_ROLES.get(option["label"]) != field["name"]:
                            continue
                        if select.get("multiple"):
                            roles.setdefault(field["name"], []).append(option["value"])
                        else:
                            roles[field["name"]] = option["value"]
                return roles
            if step_id == "names":
                return field_defaults(schema) | {"name": BACNET_NAME, **BACNET_NAMES}
            raise SetupError(f"the BACnet flow asked for an unknown step {step_id}")

        subentry_id = await self._add_subentry(step, "bacnet_device", BACNET_NAME, answer)
        return [] if subentry_id is None else [subentry_id]

    async def heat_destinations(self, objects: Mapping[str, str]) -> None:
        """The four destinations, each with the valve that sends heat there."""
        titles = {
            s["title"].casefold()
            for s in await self.subentries()
            if s["subentry_type"] == "heat_destination"
        }
        for name, kind, valve, feedback in DESTINATIONS:
            step = f"destination:{kind}:{name}"
            if step in self.record:
                continue
            if name.casefold() in titles:
                self.record.mark(step, "existed")
                continue

            def answer(
                form: dict[str, Any],
                name: str = name,
                kind: str = kind,
                valve: str = valve,
                feedback: str = feedback,
            ) -> dict[str, Any]:
                schema = form["data_schema"]
                values = field_defaults(schema)
                refs = _point_refs(select_options(schema, "valves"), objects[valve], valve)
                if len(refs) != 1:
                    raise SetupError(f"no single valve point for {valve}: {refs}")
                # The routing section's first feedback field is the first valve's.
                routing = next(f for f in schema if f["name"] == "routing")["schema"]
                found = _point_refs(select_options(routing, "feedback_1"), objects[feedback])
                if len(found) == 1:
                    values["routing"] = values.get("routing", {}) | {"feedback_1": found[0]}
                else:
                    say(f"microdc demo: no feedback point {feedback} for the {name} valve")
                return values | {"name": name, "kind": kind, "valves": refs}

            await self._add_subentry(step, "heat_destination", name, answer)

    async def daily_meters(self) -> None:
        """A daily utility meter helper over each destination's "Heat to" sensor.

        A new utility meter reads "unknown" until its source's state changes, and a destination
        that has had no heat yet keeps its kWh: the site is reloaded once (its entry's Reload),
        so that every new meter starts at 0 kWh, and the demo waits until they show a number.
        """
        made: list[str] = []
        destinations = [
            s for s in await self.subentries() if s["subentry_type"] == "heat_destination"
        ]
        for destination in destinations:
            name = DAILY_METER_NAME.format(destination=destination["title"])
            step = f"meter:{destination['subentry_id']}"
            if step in self.record:
                continue
            helpers = await self.client.request(
                "GET", "/api/config/config_entries/entry?domain=utility_meter"
            )
            if any(h["title"].casefold() == name.casefold() for h in helpers):
                self.record.mark(step, "existed")
                continue
            source = await self.entity_by_unique_id(
                "microdc", f"{self.entry_id}_destination_heat_{destination['subentry_id']}"
            )

            def answer(form: dict[str, Any], name: str = name, source: str = source) -> Any:
                values = field_defaults(form["data_schema"])
                return values | {"name": name, "source": source, "cycle": "daily"}

            result = await self.client.flow(
                "/api/config/config_entries/flow",
                {"handler": "utility_meter", "show_advanced_options": False},
                answer,
            )
            if result["type"] != "create_entry":
                raise SetupError(f"the utility meter {name} ended with {result}")
            helper_id = result["result"]["entry_id"]
            entity_id = await self.entity_by_unique_id("utility_meter", helper_id)
            # Two decimals, as the "Heat to" sensor shows them (the entity's settings dialog).
            await self.client.ws(
                "config/entity_registry/update",
                entity_id=entity_id,
                options_domain="sensor",
                options={"display_precision": 2},
            )
            self.record.mark(step, entity_id)
            self.created.append(f"helper {name}")
            made.append(entity_id)
        if made:
            await self.client.request(
                "POST", f"/api/config/config_entries/entry/{self.entry_id}/reload"
            )
            await self.wait_for_numbers(made)

    async def wait_for_numbers(self, entity_ids: Iterable[str]) -> None:
        """Until each of these entities has a number as its state."""
        deadline = time.monotonic() + ENTITIES_TIMEOUT_S
        for entity_id in entity_ids:
            while True:
                state = await self.client.request("GET", f"/api/states/{entity_id}", ok=(200, 404))
                try:
                    float((state or {}).get("state", ""))
                except ValueError:
                    pass
                else:
                    break
                if time.monotonic() > deadline:
                    raise SetupError(f"{entity_id} shows no number: {state}")
                await asyncio.sleep(0.5)

    # --- waiting for what the site made ---

    async def entities(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.client.ws("config/entity_registry/list")
        return [e for e in result if e.get("config_entry_id") == self.entry_id]

    async def wait_for_entities(
        self, subentry_ids: Iterable[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The entities of each device subentry, once the site has loaded them all."""
        wanted = set(subentry_ids)
        deadline = time.monotonic() + ENTITIES_TIMEOUT_S
        while True:
            entry = await self.client.ws("config_entries/get_single", entry_id=self.entry_id)
            devices = await self.client.ws("config/device_registry/list")
            by_subentry: dict[str, str] = {}
            for device in devices:
                for subentry in (device.get("config_entries_subentries") or {}).get(
                    self.entry_id, []
                ):
                    if subentry in wanted:
                        by_subentry[subentry] = device["id"]
            entities = await self.entities()
            found = {
                subentry: [e for e in entities if e["device_id"] == device_id]
                for subentry, device_id in by_subentry.items()
            }
            if entry["config_entry"]["state"] == "loaded" and all(found.get(s) for s in wanted):
                return found
            if time.monotonic() > deadline:
                raise SetupError(
                    f"the site's devices did not appear: {sorted(wanted - set(found))}"
                )
            await asyncio.sleep(0.5)

    async def bacnet_object_keys(self) -> dict[str, str]:
        """The controller's point keys by object name, from the simulator's site file."""
        from simulator.site import load_site  # noqa: PLC0415

        site = load_site(None)
        assert site.bacnet is not None
        return {o.name: f"{o.type}_{o.instance}" for o in site.bacnet.objects}

    # --- energy dashboard, automations, the microdc dashboard ---

    async def site_entity(self, key: str) -> str | None:
        for entity in await self.entities():
            if entity["unique_id"].endswith(f"_{key}") and entity["device_id"] is not None:
                device = entity["device_id"]
                if device == await self._site_device_id():
                    return str(entity["entity_id"])
        return None

    async def _site_device_id(self) -> str | None:
        for device in await self.client.ws("config/device_registry/list"):
            if [["microdc", self.entry_id]] == device["identifiers"]:
                return str(device["id"])
        return None

    async def energy(self) -> None:
        if "energy" in self.record:
            return
        reused = await self.site_entity("reused_heat")
        it_energy = await self.site_entity("site_it_energy")
        if reused is None or it_energy is None:
            raise SetupError("the site's reused heat or IT energy sensor is missing")
        prefs = await self.client.ws("energy/get_prefs") if await self._has_energy_prefs() else {}
        sources = list(prefs.get("energy_sources", []))
        devices = list(prefs.get("device_consumption", []))
        changed = False
        if not any(s.get("stat_energy_from") == reused for s in sources):
            # No heat category in the energy dashboard: reused heat is shown as gas (DESIGN.md).
            sources.append({"type": "gas", "stat_energy_from": reused, "stat_cost": None})
            changed = True
        if not any(d.get("stat_consumption") == it_energy for d in devices):
            # The site's IT energy only: the PDU measures the same kWh; both would count twice.
            devices.append({"stat_consumption": it_energy, "name": "Rack IT"})
            changed = True
        if changed:
            await self.client.ws(
                "energy/save_prefs", energy_sources=sources, device_consumption=devices
            )
            self.created.append("energy dashboard")
        self.record.mark("energy")

    async def _has_energy_prefs(self) -> bool:
        try:
            await self.client.ws("energy/get_prefs")
        except SetupError:
            return False  # "No prefs" until the first save
        return True

    # --- the blueprints' example automations ---

    async def automations(self) -> None:
        """One example automation per microdc blueprint, with the demo's own entities."""
        blueprints = await self.client.ws("blueprint/list", domain="automation")
        examples: dict[str, tuple[str, str, Inputs, str]] = {
            "microdc/ups_power_events.yaml": (
                "microdc_demo_ups_power_events",
                "UPS on battery: notify",
                self._ups_inputs,
                "",
            ),
            "microdc/divert_heat_by_occupancy_and_weather.yaml": (
                "microdc_demo_divert_heat",
                "Heat the tenants and the stockroom by occupancy and weather",
                self._divert_inputs,
                "It routes the demo's heat while the Heat destination select is on automatic.",
            ),
            "microdc/share_heat_between_tenants.yaml": (
                "microdc_demo_share_heat",
                "Share heat between tenant A and tenant B",
                self._share_inputs,
                "Switched off: two automations that ask for one site's heat take turns; turn the "
                "other heat automation off before turning this one on.",
            ),
            "microdc/heat_safety_alert.yaml": (
                "microdc_demo_heat_safety_alert",
                "Heat safety: notify",
                self._safety_inputs,
                "",
            ),
        }
        for path in sorted(p for p in blueprints if p.startswith("microdc/")):
            if path not in examples:
                say(f"microdc demo: no example automation for the blueprint {path}")
                continue
            automation_id, alias, make_inputs, note = examples[path]
            step = f"automation:{automation_id}"
            if step in self.record:
                continue
            existing = await self.client.request(
                "GET", f"/api/config/automation/config/{automation_id}", ok=(200, 404)
            )
            if existing is not None and "message" not in existing:
                self.record.mark(step, "existed")
                continue
            inputs = await make_inputs()
            if inputs is None:
                continue  # what it needs is missing; it said what
            description = f"Example of the blueprint {path}, made by the demo. {note}"
            await self.client.request(
                "POST",
                f"/api/config/automation/config/{automation_id}",
                {
                    "alias": alias,
                    "description": description.strip(),
                    "use_blueprint": {"path": path, "input": inputs},
                },
            )
            if automation_id == "microdc_demo_share_heat":
                await self._switch_off_share_example(automation_id)
            self.record.mark(step)
            self.created.append(f"automation {alias}")

    async def _ups_inputs(self) -> dict[str, Any] | None:
        return {
            "on_battery_sensor": "binary_sensor.ups_on_battery",
            "low_battery_sensor": "binary_sensor.ups_low_battery",
            "on_battery_actions": [_notify("UPS", "The rack's UPS is on battery.")],
            "power_back_actions": [_notify("UPS", "Mains power is back.")],
        }

    async def _divert_inputs(self) -> dict[str, Any] | None:
        """Tenant A, tenant B, then the stockroom, each while occupied and below the
        temperature its own heating holds (simulator/sites/demo.yaml); spare heat to the mall's
        shared loop, summer heat outdoors."""
        found = await self._heat_entities(
            "TENANT-A-OCC",
            "TENANT-A-T",
            "TENANT-B-OCC",
            "TENANT-B-T",
            "STOCKROOM-OCC",
            "STOCKROOM-T",
            "OUTDOOR-T",
        )
        summer = await self.summer_helper()
        if found is None or summer is None:
            return None
        return {
            "site": self.entry_id,
            "destination_1": "Tenant A",
            "occupancy_1": [found["TENANT-A-OCC"]],
            "temperature_1": found["TENANT-A-T"],
            "wanted_1": 21,
            "destination_2": "Tenant B",
            "occupancy_2": [found["TENANT-B-OCC"]],
            "temperature_2": found["TENANT-B-T"],
            "wanted_2": 20.5,
            "destination_3": "Stockroom",
            "occupancy_3": [found["STOCKROOM-OCC"]],
            "temperature_3": found["STOCKROOM-T"],
            "wanted_3": 18,
            "outdoor_sensor": found["OUTDOOR-T"],
            "summer_helper": summer,
            "summer_destination": "reject",
            "spare_destination": "Shared loop",
            "source_name": DIVERT_SOURCE,
        }

    async def _share_inputs(self) -> dict[str, Any] | None:
        """A fair share between the two tenants while they are open; spare heat to the shared
        loop."""
        found = await self._heat_entities(
            "TENANT-A-OCC", "TENANT-A-T", "TENANT-B-OCC", "TENANT-B-T"
        )
        if found is None:
            return None
        return {
            "site": self.entry_id,
            "policy": "fair",
            "spare_destination": "Shared loop",
            "destination_1": "Tenant A",
            "temperature_1": found["TENANT-A-T"],
            "wanted_1": 21,
            "open_1": [found["TENANT-A-OCC"]],
            "destination_2": "Tenant B",
            "temperature_2": found["TENANT-B-T"],
            "wanted_2": 20.5,
            "open_2": [found["TENANT-B-OCC"]],
            "source_name": SHARE_SOURCE,
        }

    async def _safety_inputs(self) -> dict[str, Any] | None:
        safety = await self.site_entity("heat_safety")
        routing = await self.site_entity("heat_routing")
        if safety is None or routing is None:
            say("microdc demo: the site routes no heat; no heat safety alert automation")
            return None
        # One notification, updated in place: its message says what happened.
        notify = _notify("Heat safety", "{{ message }}", "microdc_demo_heat_safety")
        return {
            "safety_sensor": safety,
            "routing_sensor": routing,
            "trip_actions": [notify],
            "override_actions": [notify],
            "clear_actions": [notify],
        }

    async def _heat_entities(self, *objects: str) -> dict[str, str] | None:
        """The controller's entity ids for these objects, once the site routes every heat
        destination it has; None (said why) where something is missing."""
        if not await self.wait_for_routing():
            say("microdc demo: the site has no heat destination; no heat automation")
            return None
        keys = await self.bacnet_object_keys()
        controllers = [s for s in await self.subentries() if s["subentry_type"] == "bacnet_device"]
        controllers.sort(key=lambda s: s["title"] != BACNET_NAME)
        by_unique_id = {e["unique_id"]: e["entity_id"] for e in await self.entities()}
        found: dict[str, str] = {}
        for name in objects:
            for controller in controllers:
                entity_id = by_unique_id.get(f"{controller['subentry_id']}_{keys[name]}")
                if entity_id is not None:
                    found[name] = entity_id
                    break
        missing = sorted(set(objects) - set(found))
        if missing:
            say(f"microdc demo: no entity for {', '.join(missing)}; no automation needing them")
            return None
        return found

    async def wait_for_routing(self) -> bool:
        """Until the site routes every heat destination it has; False if it has none.

        Adding a destination reloads the site: an automation that asks for heat in between
        finds no loaded site (microdc.divert_heat refuses, its run fails). The site's "Heat
        destination" select offers every destination once the last reload is done.
        """
        from homeassistant.util import slugify  # noqa: PLC0415

        titles = [
            s["title"] for s in await self.subentries() if s["subentry_type"] == "heat_destination"
        ]
        if not titles:
            return False
        wanted = {slugify(title) for title in titles}
        deadline = time.monotonic() + ENTITIES_TIMEOUT_S
        while True:
            select = await self.site_entity("heat_destination")
            state = (
                None
                if select is None
                else await self.client.request("GET", f"/api/states/{select}", ok=(200, 404))
            )
            entry = await self.client.ws("config_entries/get_single", entry_id=self.entry_id)
            if (
                entry["config_entry"]["state"] == "loaded"
                and state is not None
                and state.get("state") not in (None, "unavailable")
                and wanted <= set(state["attributes"].get("options", []))
            ):
                return True
            if time.monotonic() > deadline:
                raise SetupError(f"the site did not route its heat destinations {sorted(wanted)}")
            await asyncio.sleep(0.5)

    async def summer_helper(self) -> str | None:
        """The toggle helper in which the divert blueprint remembers the season, made as in
        Settings > Devices & services > Helpers > Create helper > Toggle."""
        step = "helper:summer"
        if step in self.record:
            return str(self.record.done[step])
        helpers = await self.client.ws("input_boolean/list")
        helper = next((h for h in helpers if h.get("name") == SUMMER_HELPER), None)
        if helper is None:
            helper = await self.client.ws(
                "input_boolean/create", name=SUMMER_HELPER, icon="mdi:weather-sunny"
            )
            self.created.append(f"helper {SUMMER_HELPER}")
        entity_id = await self.entity_by_unique_id("input_boolean", str(helper["id"]))
        self.record.mark(step, entity_id)
        return entity_id

    async def entity_by_unique_id(self, platform: str, unique_id: str) -> str:
        """An entity's id once its platform has registered it."""
        deadline = time.monotonic() + ENTITIES_TIMEOUT_S
        while True:
            for entity in await self.client.ws("config/entity_registry/list"):
                if (entity["platform"], entity["unique_id"]) == (platform, unique_id):
                    return str(entity["entity_id"])
            if time.monotonic() > deadline:
                raise SetupError(f"no {platform} entity {unique_id} appeared")
            await asyncio.sleep(0.5)

    async def _switch_off_share_example(self, automation_id: str) -> None:
        """Switch the tenants' example off, as on its toggle in the automations list, and drop
        the request it made when it was saved (saving reloads automations, and the blueprint
        runs on that): a switched-off automation keeps its last request at the router."""
        entity_id = await self.entity_by_unique_id("automation", automation_id)
        await self.client.request(
            "POST", "/api/services/automation/turn_off", {"entity_id": entity_id}
        )
        await self.client.request(
            "POST",
            "/api/services/microdc/release_heat",
            {"config_entry_id": self.entry_id, "source": SHARE_SOURCE},
        )

    async def dashboard(self) -> None:
        if "dashboard" in self.record:
            return
        dashboards = await self.client.ws("lovelace/dashboards/list")
        if not any(d["url_path"] == DASHBOARD_URL_PATH for d in dashboards):
            await self.client.ws(
                "lovelace/dashboards/create",
                url_path=DASHBOARD_URL_PATH,
                allow_single_word=True,
                title="microdc",
                icon="mdi:server-network",
                show_in_sidebar=True,
                require_admin=False,
            )
            config = yaml.safe_load(DASHBOARD_FILE.read_text())
            await self.client.ws("lovelace/config/save", url_path=DASHBOARD_URL_PATH, config=config)
            self.created.append("dashboard microdc")
        self.record.mark("dashboard")

    async def run(self) -> tuple[str, str]:
        await self.client.wait_until_serving()
        user, password = await self.onboard_and_login()
        await self.wait_until_running()
        await self.site()
        if self.entry_id is None:
            return user, password
        await self.site_options()
        added = await self.modbus_devices()
        added += await self.bacnet_device()
        if added:
            # The flows named the devices and objects: only wait for the site to show them.
            await self.wait_for_entities(added)
        await self.heat_destinations(await self.bacnet_object_keys())
        await self.daily_meters()
        await self.energy()
        await self.automations()
        await self.dashboard()
        return user, password


def _point_refs(options: Iterable[Mapping[str, str]], key: str, name: str = "") -> list[str]:
    """The point refs among a select's options that are the controller object ``key`` (or,
    given its object name, labelled with it)."""
    return [
        o["value"]
        for o in options
        if o["value"].endswith(f"/{key}") or (name and name in o["label"])
    ]


def _notify(title: str, message: str, notification_id: str | None = None) -> dict[str, Any]:
    """An action that shows a notification in Home Assistant's sidebar."""
    data = {"title": title, "message": message}
    if notification_id is not None:
        data["notification_id"] = notification_id
    return {"action": "persistent_notification.create", "data": data}


async def async_main(args: argparse.Namespace) -> int:
    # Before any task runs: nothing else waits on the loop yet.
    state_dir = Path(args.dir).absolute()  # noqa: ASYNC240
    state_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = HomeAssistantClient(session, args.url)
        setup = DemoSetup(
            client, state_dir, args.modbus_port, args.bacnet_port, args.local_bacnet_port
        )
        try:
            user, password = await setup.run()
        except SetupError as err:
            say(f"microdc demo: not set up: {err}")
            return 1
        finally:
            await client.close()
    took = time.monotonic() - started
    if setup.created:
        say(f"microdc demo: set up in {took:.0f} s: {', '.join(setup.created)}")
    else:
        say(f"microdc demo: already set up, nothing changed ({took:.0f} s)")
    say(f"  open {client.url}/{DASHBOARD_URL_PATH} (the microdc dashboard),")
    say(f"       {client.url}/config/integrations/integration/microdc (the site and its devices),")
    say(f"       {client.url}/energy (the energy dashboard)")
    say(f"login: {user} {password}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=f"http://{HOST}:{os.environ.get('MICRODC_HA_PORT', '8123')}"
    )
    parser.add_argument("--dir", default=str(REPO_ROOT / ".develop"))
    parser.add_argument(
        "--modbus-port", type=int, default=int(os.environ.get("MICRODC_SIM_MODBUS_PORT", "5020"))
    )
    parser.add_argument(
        "--bacnet-port", type=int, default=int(os.environ.get("MICRODC_SIM_BACNET_PORT", "47809"))
    )
    parser.add_argument(
        "--local-bacnet-port",
        type=int,
        default=int(os.environ.get("MICRODC_HA_BACNET_PORT", "47808")),
        help="the UDP port of Home Assistant's own BACnet/IP socket",
    )
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    return asyncio.run(async_main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
