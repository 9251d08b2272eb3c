"""The Modbus device subentry flow, against a real Modbus peer on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pymodbus.framer import FramerType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnectionPool
from custom_components.microdc.profile_store import async_load_profiles
from tests.modbus_peer import HOST, TEST_PROFILE_YAML, WRONG_PROFILE_YAML, ModbusPeer

POLLING = {"polling": {"scan_interval": 10, "timeout": 0.5, "max_gap": 3}}


@pytest.fixture
def user_profiles(hass: HomeAssistant, tmp_path: Path) -> Path:
    """The user's own profiles in <config>/microdc/profiles (a fresh config folder)."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / "microdc" / "profiles"
    folder.mkdir(parents=True)
    (folder / "test_t1.yaml").write_text(TEST_PROFILE_YAML, encoding="utf-8")
    (folder / "test_wrong.yaml").write_text(WRONG_PROFILE_YAML, encoding="utf-8")
    (folder / "broken.yaml").write_text("points: [", encoding="utf-8")
    return folder


@pytest.fixture
async def peer(socket_enabled: None) -> AsyncGenerator[ModbusPeer]:
    """The Modbus device the flow talks to."""
    server = ModbusPeer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def site(hass: HomeAssistant) -> MockConfigEntry:
    """A site, not loaded: the flow needs only the entry."""
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="corner_shop", data={CONF_SITE_NAME: "Corner Shop"}
    )
    entry.add_to_hass(hass)
    return entry


async def _start(hass: HomeAssistant, site: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (site.entry_id, SUBENTRY_MODBUS_DEVICE), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return dict(result)


def _suggested(result: Any, field: str) -> Any:
    """What a form proposes in a field."""
    return next(k for k in result["data_schema"].schema if k == field).description[
        "suggested_value"
    ]


async def _named(hass: HomeAssistant, result: Any, name: str | None = None) -> dict[str, Any]:
    """Past the name step: the proposed name (the form's suggestion) or the one given."""
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "name"
    if name is None:
        name = _suggested(result, "name")
    return dict(
        await hass.config_entries.subentries.async_configure(result["flow_id"], {"name": name})
    )


def _input(port: int, unit_id: int = 1, profile: str = "test_t1", **extra: Any) -> dict[str, Any]:
    return {
        "host": HOST,
        "port": port,
        "framing": "tcp",
        "unit_id": unit_id,
        "profile": profile,
        **POLLING,
        **extra,
    }


@pytest.mark.usefixtures("user_profiles")
async def test_add_device_reads_it_first(
    hass: HomeAssistant, site: MockConfigEntry, peer: ModbusPeer
) -> None:
    result = await _start(hass, site)
    assert result["step_id"] == "user"
    # Built-in and user profiles are offered; the broken file is not.
    profile_field = next(
        value for key, value in result["data_schema"].schema.items() if key == "profile"
    )
    options = [option["value"] for option in profile_field.config["options"]]
    assert {"test_t1", "test_wrong", "demo_ups", "demo_rack_pdu"} <= set(options)
    assert "broken" not in options

    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    # Read: now the name, the profile's model proposed (test_t1 gives no device kind).
    result = await _named(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "T1"
    assert peer.requests > 0
    subentry = next(iter(site.subentries.values()))
    assert subentry.unique_id == f"{HOST}:{peer.port}:1"
    assert subentry.data == {
        "host": HOST,
        "port": peer.port,
        "framing": "tcp",
        "unit_id": 1,
        "profile": "test_t1",
        "polling": {"scan_interval": 10.0, "timeout": 0.5, "max_gap": 3},
    }


@pytest.mark.usefixtures("user_profiles")
@pytest.mark.parametrize(
    ("unit_id", "profile", "errors"),
    [
        (4, "test_t1", {"unit_id": "timeout"}),
        (3, "test_t1", {"unit_id": "unit_not_answering"}),
        (1, "test_wrong", {"profile": "profile_mismatch"}),
        (9, "test_t1", {"profile": "profile_mismatch"}),  # exception code 4 for every read
    ],
)
async def test_errors_on_the_right_field(
    hass: HomeAssistant,
    site: MockConfigEntry,
    peer: ModbusPeer,
    *,
    unit_id: int,
    profile: str,
    errors: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port, unit_id=unit_id, profile=profile)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    # A wrong answer in a form is the form's error, not a warning in the log. (The fixture's
    # broken.yaml is reported by the profile store, on purpose.)
    assert not [
        r
        for r in caplog.records
        if r.name.startswith("custom_components.microdc")
        and r.name != "custom_components.microdc.profile_store"
        and r.levelno >= logging.WARNING
    ]
    # The form keeps what was typed, and a corrected answer goes through.
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    assert (await _named(hass, result))["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("user_profiles", "socket_enabled")
async def test_cannot_connect(hass: HomeAssistant, site: MockConfigEntry) -> None:
    peer = ModbusPeer()
    await peer.start()
    port = peer.port
    await peer.stop()  # nothing listens on this port now
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], _input(port))
    assert result["errors"] == {"host": "cannot_connect"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(port, host="  ")
    )
    assert result["errors"] == {"host": "invalid_host"}


@pytest.mark.usefixtures("user_profiles")
async def test_same_unit_twice_is_refused(
    hass: HomeAssistant, site: MockConfigEntry, peer: ModbusPeer
) -> None:
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    assert (await _named(hass, result))["type"] is FlowResultType.CREATE_ENTRY
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # The same unit by another name of its host: still the same device.
    other_name = "localhost" if HOST == "127.0.0.1" else "127.0.0.1"
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {**_input(peer.port), "host": other_name}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # Another unit at the same gateway is another device.
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port, unit_id=2)
    )
    # A second T1 on the site: the proposal is numbered, so the entity ids do not collide.
    assert _suggested(result, "name") == "T1 2"
    assert (await _named(hass, result))["type"] is FlowResultType.CREATE_ENTRY


async def test_no_profiles_at_all(
    hass: HomeAssistant, site: MockConfigEntry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Only a broken installation lacks the built-in profiles: point them at an empty folder.
    monkeypatch.setattr(
        "custom_components.microdc.profile_store.BUILTIN_PROFILES_DIR", tmp_path / "none"
    )
    hass.config.config_dir = str(tmp_path)
    result = await hass.config_entries.subentries.async_init(
        (site.entry_id, SUBENTRY_MODBUS_DEVICE), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_profiles"


@pytest.mark.usefixtures("user_profiles")
async def test_reconfigure_moves_the_device(
    hass: HomeAssistant, site: MockConfigEntry, peer: ModbusPeer
) -> None:
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    await _named(hass, result, "Rack meter")
    subentry = next(iter(site.subentries.values()))

    # The gateway moved to another port.
    second = ModbusPeer()
    await second.start()
    try:
        result = await hass.config_entries.subentries.async_init(
            (site.entry_id, SUBENTRY_MODBUS_DEVICE),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry.subentry_id},
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "reconfigure"
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], _input(second.port, unit_id=2)
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert second.requests > 0
    finally:
        await second.stop()
    moved = site.subentries[subentry.subentry_id]
    assert moved.data["port"] == second.port
    assert moved.data["unit_id"] == 2
    assert moved.unique_id == f"{HOST}:{second.port}:2"
    # The name the engineer chose stays (a 0.1.0 title made from the profile follows the unit:
    # test_modbus_reconfigure).
    assert moved.title == "Rack meter"


@pytest.mark.usefixtures("user_profiles")
async def test_probe_borrows_the_sites_connection(hass: HomeAssistant, peer: ModbusPeer) -> None:
    """Many serial gateways take one TCP client: adding a second unit must not open another."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            {
                "data": _input(peer.port, unit_id=1),
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "Test T1 (unit 1)",
                "unique_id": f"{HOST}:{peer.port}:1",
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert peer.connections == 1

    result = await _start(hass, entry)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port, unit_id=2)
    )
    assert result["step_id"] == "name"  # read: the name is all that is left to ask
    assert peer.connections == 1  # the probe read unit 2 through the site's socket
    await _named(hass, result)
    await hass.async_block_till_done()  # the site reloads with its new device
    assert len(entry.runtime_data.devices) == 2
    await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("user_profiles")
async def test_bad_profile_files_raise_a_repair_issue(
    hass: HomeAssistant, site: MockConfigEntry, tmp_path: Path
) -> None:
    await _start(hass, site)
    registry = ir.async_get(hass)
    issue = registry.async_get_issue(DOMAIN, "invalid_profiles")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "broken.yaml: invalid YAML" in issue.translation_placeholders["errors"]

    (tmp_path / "microdc" / "profiles" / "broken.yaml").unlink()
    await _start(hass, site)
    assert registry.async_get_issue(DOMAIN, "invalid_profiles") is None


@pytest.mark.usefixtures("user_profiles", "socket_enabled")
async def test_probe_tries_now_while_the_sites_connection_backs_off(hass: HomeAssistant) -> None:
    """The gateway was down when the site started; it is back, and the user adds a unit: the
    probe must not wait out the site's back-off, nor leave its own timeout on the site's."""
    hass.data[MODBUS_POOL] = ModbusConnectionPool(backoff_initial=60, backoff_max=60)
    peer = ModbusPeer()
    await peer.start()
    port = peer.port
    await peer.stop()
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            {
                "data": _input(port, unit_id=1),
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "Test T1 (unit 1)",
                "unique_id": f"{HOST}:{port}:1",
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    connection = next(iter(entry.runtime_data.devices.values())).device.connection
    assert connection.backoff == 60  # the first poll failed: the next try is a minute away
    await peer.start()  # same port
    try:
        result = await _start(hass, entry)
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {**_input(port, unit_id=2), "polling": {**POLLING["polling"], "timeout": 7}},
        )
        assert result["step_id"] == "name"  # read
        await _named(hass, result)
        assert connection.timeout == 0.5  # the site's own, not the probe's 7 s
        await hass.async_block_till_done()  # the site reloads with its new device
        assert hass.data[MODBUS_POOL].users(Endpoint(HOST, port)) == 2
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await peer.stop()


@pytest.mark.usefixtures("user_profiles")
async def test_broken_copy_of_a_built_in_profile_says_the_built_in_runs(
    hass: HomeAssistant, site: MockConfigEntry, tmp_path: Path
) -> None:
    """A user's broken demo_ups.yaml: the built-in one keeps serving, and the issue says so."""
    (tmp_path / "microdc" / "profiles" / "demo_ups.yaml").write_text("points: [", "utf-8")
    await _start(hass, site)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, "invalid_profiles")
    assert issue is not None
    assert issue.translation_key == "invalid_profile_copies"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["copies"] == "demo_ups.yaml"
    assert "demo_ups" in (await async_load_profiles(hass)).profiles  # the built-in one
    strings = json.loads(
        (Path(__file__).parents[2] / "custom_components/microdc/strings.json").read_text()
    )
    text = strings["issues"]["invalid_profile_copies"]["description"]
    assert "keeps using its built-in profile" in text
    assert "{copies}" in text


@pytest.mark.usefixtures("user_profiles", "socket_enabled")
@pytest.mark.parametrize(
    ("served", "typed"), [(FramerType.RTU, "tcp"), (FramerType.SOCKET, "rtu_over_tcp")]
)
async def test_wrong_framing_is_said_on_the_framing_field(
    hass: HomeAssistant, site: MockConfigEntry, served: FramerType, typed: str
) -> None:
    """A gateway speaking the other framing: not a wrong unit id, a wrong framing."""
    peer = ModbusPeer(served)
    await peer.start()
    try:
        result = await _start(hass, site)
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], _input(peer.port, framing=typed)
        )
        assert result["errors"] == {"framing": "wrong_framing"}
        right = "rtu_over_tcp" if typed == "tcp" else "tcp"
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], _input(peer.port, framing=right)
        )
        assert (await _named(hass, result))["type"] is FlowResultType.CREATE_ENTRY
    finally:
        await peer.stop()


@pytest.mark.usefixtures("user_profiles")
async def test_the_name_given_names_the_device_and_an_empty_one_is_refused(
    hass: HomeAssistant, site: MockConfigEntry, peer: ModbusPeer
) -> None:
    result = await _start(hass, site)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _input(peer.port)
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"name": "  "})
    assert result["errors"] == {"name": "invalid_name"}
    assert not site.subentries  # nothing saved yet
    result = await _named(hass, result, " Rack meter ")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert next(iter(site.subentries.values())).title == "Rack meter"
