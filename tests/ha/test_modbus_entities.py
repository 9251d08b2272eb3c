"""Modbus devices of a site in Home Assistant: entities, outages, counters, unload."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
import logging
from pathlib import Path
import struct
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache_with_extra_data,
)

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnectionPool
from tests.modbus_peer import HOST, TEST_PROFILE_YAML, ModbusPeerThread

SCAN_S = 10


@pytest.fixture
def user_profiles(hass: HomeAssistant, tmp_path: Path) -> Path:
    """The test device's profile in <config>/microdc/profiles."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / "microdc" / "profiles"
    folder.mkdir(parents=True)
    (folder / "test_t1.yaml").write_text(TEST_PROFILE_YAML, encoding="utf-8")
    return folder


@pytest.fixture
async def peer(socket_enabled: None) -> AsyncGenerator[ModbusPeerThread]:
    """The Modbus device (units 1 and 2 behind one port), on its own loop."""
    server = ModbusPeerThread()
    await server.start()
    yield server
    await server.close()


def _device(port: int, unit_id: int) -> ConfigSubentry:
    return ConfigSubentry(
        data=MappingProxyType(
            {
                "host": HOST,
                "port": port,
                "framing": "tcp",
                "unit_id": unit_id,
                "profile": "test_t1",
                "polling": {"scan_interval": SCAN_S, "timeout": 1, "max_gap": 3},
            }
        ),
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title=f"Test T1 (unit {unit_id})",
        unique_id=f"{HOST}:{port}:{unit_id}",
    )


async def _site(hass: HomeAssistant, name: str, *devices: ConfigSubentry) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=name.lower(),
        data={CONF_SITE_NAME: name},
        subentries_data=[
            {
                "data": dict(d.data),
                "subentry_type": d.subentry_type,
                "title": d.title,
                "unique_id": d.unique_id,
            }
            for d in devices
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _state(hass: HomeAssistant, entry: MockConfigEntry, key: str, unit_id: int = 1) -> Any:
    subentry_id = next(
        s.subentry_id for s in entry.subentries.values() if s.data["unit_id"] == unit_id
    )
    registry = er.async_get(hass)
    platform = (
        "binary_sensor"
        if key in {"door", "door_rear", "on_battery", "low_battery", "ups_fault"}
        else "sensor"
    )
    entity_id = registry.async_get_entity_id(platform, DOMAIN, f"{subentry_id}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


class Clock:
    """Fires Home Assistant's timers one scan interval further each time.

    Not freezegun: pymodbus's connect waits on real loop time, which a frozen clock stops.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.ahead = timedelta()

    async def tick(self) -> None:
        self.ahead += timedelta(seconds=SCAN_S)
        async_fire_time_changed(self.hass, dt_util.utcnow() + self.ahead)
        await self.hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def clock(hass: HomeAssistant) -> Clock:
    """Time travel for the coordinators."""
    return Clock(hass)


@pytest.mark.usefixtures("user_profiles")
async def test_entities_of_a_device(
    hass: HomeAssistant, peer: ModbusPeerThread, device_registry: dr.DeviceRegistry
) -> None:
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    assert entry.state is ConfigEntryState.LOADED

    assert _state(hass, entry, "power").state == "6553.9"
    assert _state(hass, entry, "power").attributes["unit_of_measurement"] == "W"
    assert _state(hass, entry, "temperature").state == "-12.5"
    energy = _state(hass, entry, "energy")
    assert float(energy.state) == pytest.approx(262.149)  # 0x40005 Wh in kWh
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert _state(hass, entry, "mode").state == "run"
    assert _state(hass, entry, "mode").attributes["options"] == ["idle", "run"]
    assert _state(hass, entry, "status").state == "on_battery"
    assert _state(hass, entry, "on_battery").state == "on"
    # On means "running on battery": a condition to act on, so PROBLEM ("on: problem
    # detected"); POWER would mean "on: power detected", the opposite of the state.
    assert _state(hass, entry, "on_battery").attributes["device_class"] == "problem"
    assert _state(hass, entry, "ups_fault").state == "off"
    assert _state(hass, entry, "door").state == "on"
    assert _state(hass, entry, "door").attributes["device_class"] == "door"
    # No flag, and no runtime or charge point: not low.
    assert _state(hass, entry, "low_battery").state == "off"

    # Diagnostic points are disabled by default.
    subentry_id = next(iter(entry.subentries))
    firmware = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_firmware")
    assert firmware is not None
    assert (
        er.async_get(hass).async_get(firmware).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    )

    device = device_registry.async_get_device_by_identifier((DOMAIN, subentry_id), entry.entry_id)
    assert device is not None
    assert (device.manufacturer, device.model, device.sw_version) == ("Test", "T1", "6")
    # No "(test_t1)" after the model on the device page.
    assert device.model_id is None
    site = device_registry.async_get_device_by_identifier((DOMAIN, entry.entry_id), entry.entry_id)
    assert site is not None
    assert device.via_device_id == site.id
    assert (device.config_entry_id, device.config_subentry_id) == (entry.entry_id, subentry_id)


@pytest.mark.usefixtures("user_profiles")
async def test_sentinel_and_range_make_an_entity_unavailable(
    hass: HomeAssistant, peer: ModbusPeerThread, clock: Clock, tmp_path: Path
) -> None:
    folder = tmp_path / "microdc" / "profiles"
    (folder / "test_t1.yaml").write_text(
        TEST_PROFILE_YAML.replace("precision: 1}", "precision: 1, nan: [0xFFFFFFFF]}").replace(
            "state_class: measurement}", "state_class: measurement, min: -40, max: 80}"
        ),
        encoding="utf-8",
    )
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    assert _state(hass, entry, "power").state == "6553.9"
    peer.holding.update({0: 0xFFFF, 1: 0xFFFF, 2: 900})  # sentinel; 90.0 °C above max
    await clock.tick()
    assert _state(hass, entry, "power").state == STATE_UNAVAILABLE
    assert _state(hass, entry, "temperature").state == STATE_UNAVAILABLE
    assert _state(hass, entry, "mode").state == "run"  # the rest of the device reads on


@pytest.mark.usefixtures("user_profiles")
async def test_outage_and_recovery_without_reload(
    hass: HomeAssistant,
    peer: ModbusPeerThread,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Reconnect attempts back off from 50 ms here (1 s by default) to keep the test short.
    hass.data[MODBUS_POOL] = ModbusConnectionPool(backoff_initial=0.05, backoff_max=0.2)
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    runtime = entry.runtime_data
    caplog.set_level(logging.INFO, logger="custom_components.microdc")
    caplog.clear()
    await peer.stop()
    await clock.tick()
    await clock.tick()
    assert _state(hass, entry, "power").state == STATE_UNAVAILABLE
    assert _state(hass, entry, "door").state == STATE_UNAVAILABLE

    await peer.start()
    # Failed connects back off (in real time): poll until the device is back, with a deadline.
    deadline = asyncio.get_running_loop().time() + 10
    while _state(hass, entry, "power").state == STATE_UNAVAILABLE:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
        await clock.tick()
    assert _state(hass, entry, "power").state == "6553.9"
    assert entry.runtime_data is runtime  # no reload
    # Logged once each, by the coordinator alone: no second report from the transport.
    records = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name.startswith("custom_components.microdc") and r.levelno >= logging.INFO
    ]
    assert len(records) == 2, records
    assert records[0][0] == logging.ERROR
    assert records[0][1].startswith("Error fetching Test T1 (unit 1) data")
    assert records[1] == (logging.INFO, "Fetching Test T1 (unit 1) data recovered")


@pytest.mark.usefixtures("user_profiles")
async def test_energy_continues_across_a_counter_wrap(
    hass: HomeAssistant, peer: ModbusPeerThread, clock: Clock
) -> None:
    # energy is a little-endian u32 at holding 3 (low word) and 4 (high word), in Wh.
    peer.holding.update({3: 0xFFF0, 4: 0xFFFF})  # 16 Wh before the wrap
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    before = float(_state(hass, entry, "energy").state)
    assert before == pytest.approx(0xFFFFFFF0 / 1000)

    peer.holding.update({3: 0x0010, 4: 0x0000})  # wrapped: 16 + 16 Wh later
    await clock.tick()
    assert float(_state(hass, entry, "energy").state) == pytest.approx(before + 0.032)

    peer.holding.update({3: 0x0020})
    await clock.tick()
    assert float(_state(hass, entry, "energy").state) == pytest.approx(before + 0.048)


@pytest.mark.usefixtures("user_profiles")
async def test_shared_connection_closes_with_its_last_user(
    hass: HomeAssistant, peer: ModbusPeerThread
) -> None:
    first = await _site(hass, "North", _device(peer.port, 1))
    second = await _site(hass, "South", _device(peer.port, 2))
    assert peer.connections == 1  # two sites, one gateway, one socket
    assert _state(hass, second, "mode", unit_id=2).state == "run"

    assert await hass.config_entries.async_unload(first.entry_id)
    await hass.async_block_till_done()
    assert peer.open_connections == 1
    connection = second.runtime_data.devices[next(iter(second.subentries))].device.connection
    assert connection.connected
    assert hass.data[MODBUS_POOL].users(connection.endpoint) == 1

    assert await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert not connection.connected
    assert hass.data[MODBUS_POOL].users(connection.endpoint) == 0


@pytest.mark.usefixtures("user_profiles")
async def test_removing_a_device_removes_its_entities_and_socket(
    hass: HomeAssistant, peer: ModbusPeerThread
) -> None:
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1), _device(peer.port, 2))
    registry = er.async_get(hass)
    first, second = (s.subentry_id for s in entry.subentries.values())
    assert er.async_entries_for_config_entry(registry, entry.entry_id)
    pool = hass.data[MODBUS_POOL]
    endpoint = entry.runtime_data.devices[first].device.connection.endpoint
    assert pool.users(endpoint) == 2

    hass.config_entries.async_remove_subentry(entry, first)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    devices = {
        e.config_subentry_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id is not None  # the site's own entities have no subentry
    }
    assert devices == {second}
    assert pool.users(endpoint) == 1  # the site reloaded: only unit 2 holds the socket

    hass.config_entries.async_remove_subentry(entry, second)
    await hass.async_block_till_done()
    assert pool.users(endpoint) == 0
    await _closed(peer)


async def _closed(peer: ModbusPeerThread) -> None:
    """Wait (with a deadline) until the peer sees its last connection closed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while peer.open_connections:
        assert loop.time() < end, "the peer still sees an open connection"
        await asyncio.sleep(0.02)


@pytest.mark.usefixtures("user_profiles")
async def test_energy_total_survives_a_restart_and_a_wrap_meanwhile(
    hass: HomeAssistant, peer: ModbusPeerThread
) -> None:
    # Before the restart: 1000 Wh counted, the register last read at 0xFFFFFFF0.
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.test_t1_unit_1_it_energy", "1.0"),
                {"total_wh": 1000.0, "counter": {"last_raw": 0xFFFFFFF0}},
            )
        ],
    )
    peer.holding.update({3: 0x0010, 4: 0x0000})  # it wrapped while Home Assistant was down
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    energy = _state(hass, entry, "energy")
    assert energy.entity_id == "sensor.test_t1_unit_1_it_energy"
    assert float(energy.state) == pytest.approx(1.032)  # 1000 Wh + 16 + 16 Wh across the wrap


@pytest.mark.usefixtures("user_profiles")
async def test_a_replaced_meter_after_a_restart_adds_no_energy(
    hass: HomeAssistant, peer: ModbusPeerThread
) -> None:
    """The last reading's wall-clock time survives the restart, so the jump to a new meter's
    reading 10 s later is judged against the largest credible power, as within a run."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.test_t1_unit_1_it_energy", "1.0"),
                {
                    "total_wh": 1000.0,
                    "counter": {"last_raw": 1000},
                    "last_reading_at": dt_util.utcnow().timestamp() - SCAN_S,
                },
            )
        ],
    )
    # The peer's counter stands at 262149 Wh: 261 kWh in 10 s is no power a site draws.
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    assert float(_state(hass, entry, "energy").state) == pytest.approx(1.0)


@pytest.mark.usefixtures("user_profiles")
async def test_missing_profile_raises_a_repair_issue(
    hass: HomeAssistant, peer: ModbusPeerThread, tmp_path: Path
) -> None:
    (tmp_path / "microdc" / "profiles" / "test_t1.yaml").unlink()
    device = _device(peer.port, 1)
    entry = await _site(hass, "Corner Shop", device)
    assert entry.state is ConfigEntryState.LOADED  # the rest of the site runs
    assert entry.runtime_data.devices == {}
    subentry_id = next(iter(entry.subentries))
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"profile_missing_{subentry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {"device": device.title, "profile": "test_t1"}

    (tmp_path / "microdc" / "profiles" / "test_t1.yaml").write_text(
        TEST_PROFILE_YAML, encoding="utf-8"
    )
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"profile_missing_{subentry_id}") is None
    assert _state(hass, entry, "power").state == "6553.9"


@pytest.mark.usefixtures("user_profiles")
async def test_a_profile_with_impossible_numbers_leaves_the_rest_running(
    hass: HomeAssistant, peer: ModbusPeerThread, user_profiles: Path
) -> None:
    """A power limit of 0 would make every counter reading incredible: the profile is
    refused with its file, point and field, and the site's other devices keep their sensors."""
    bad = TEST_PROFILE_YAML.replace("precision: 1}", "precision: 1, max: 0}")
    assert bad != TEST_PROFILE_YAML
    (user_profiles / "test_bad.yaml").write_text(bad, encoding="utf-8")
    good = _device(peer.port, 1)
    broken = ConfigSubentry(
        data=MappingProxyType({**_device(peer.port, 2).data, "profile": "test_bad"}),
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title="Test bad (unit 2)",
        unique_id=f"{HOST}:{peer.port}:2",
    )
    entry = await _site(hass, "Corner Shop", good, broken)
    assert entry.state is ConfigEntryState.LOADED
    assert _state(hass, entry, "power").state == "6553.9"
    issues = ir.async_get(hass)
    invalid = issues.async_get_issue(DOMAIN, "invalid_profiles")
    assert invalid is not None
    assert invalid.translation_placeholders is not None
    assert "test_bad.yaml: points.power.max" in invalid.translation_placeholders["errors"]
    broken_id = next(s.subentry_id for s in entry.subentries.values() if s.title == broken.title)
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{broken_id}") is not None


@pytest.mark.usefixtures("user_profiles")
async def test_a_role_shared_by_several_points_names_them_by_key(
    hass: HomeAssistant, peer: ModbusPeerThread, user_profiles: Path
) -> None:
    """Two inlet temperatures or two doors must not both be called by their role's name."""
    twins = (
        TEST_PROFILE_YAML
        + "  temperature_rear: {table: holding, address: 7, data_type: s16, scale: 0.1,\n"
        "                     unit: °C, role: inlet_temperature, device_class: temperature}\n"
        "  door_rear: {table: discrete_input, address: 3, data_type: bool, role: door_open}\n"
    )
    (user_profiles / "test_t1.yaml").write_text(twins, encoding="utf-8")
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    names = {
        key: _state(hass, entry, key).attributes["friendly_name"]
        for key in ("temperature", "temperature_rear", "door", "door_rear")
    }
    assert names == {
        "temperature": "Test T1 (unit 1) Temperature",
        "temperature_rear": "Test T1 (unit 1) Temperature rear",
        "door": "Test T1 (unit 1) Door",
        "door_rear": "Test T1 (unit 1) Door rear",
    }
    assert _state(hass, entry, "temperature_rear").state == "0.7"
    # A role of one point keeps its translated name.
    registry = er.async_get(hass)
    power = registry.async_get(_state(hass, entry, "power").entity_id)
    assert power is not None
    assert power.translation_key == "it_power"


@pytest.mark.usefixtures("user_profiles")
async def test_a_site_that_fails_to_set_up_gives_its_connections_back(
    hass: HomeAssistant, peer: ModbusPeerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup fails after the Modbus devices took their connections: they are released."""
    pool = hass.data[MODBUS_POOL] = ModbusConnectionPool()

    async def failing_forward(*_args: Any) -> None:
        raise RuntimeError("injected: a platform failed to set up")

    # No peer can make Home Assistant's platform setup fail: the failure is injected here.
    monkeypatch.setattr(hass.config_entries, "async_forward_entry_setups", failing_forward)
    device = _device(peer.port, 1)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            {
                "data": dict(device.data),
                "subentry_type": device.subentry_type,
                "title": device.title,
                "unique_id": device.unique_id,
            }
        ],
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert peer.connections == 1  # the device was read before the failure
    assert pool.users(Endpoint(HOST, peer.port)) == 0
    await _closed(peer)


FLOAT_METER_YAML = """\
manufacturer: Test
model: Float meter
protocol: modbus
points:
  energy: {table: holding, address: 8, data_type: f32, unit: Wh, role: it_energy,
           device_class: energy, state_class: total_increasing}
"""


def _f32_words(value: float) -> dict[int, int]:
    word = struct.unpack(">I", struct.pack(">f", value))[0]
    return {8: word >> 16, 9: word & 0xFFFF}


@pytest.mark.usefixtures("user_profiles")
async def test_a_float_energy_counter_keeps_its_fractions(
    hass: HomeAssistant, peer: ModbusPeerThread, clock: Clock, user_profiles: Path
) -> None:
    """An f32 counter is a total in its own right: no rounding to whole counts."""
    (user_profiles / "test_float_meter.yaml").write_text(FLOAT_METER_YAML, encoding="utf-8")
    peer.holding.update(_f32_words(1234.5))
    device = ConfigSubentry(
        data=MappingProxyType({**_device(peer.port, 1).data, "profile": "test_float_meter"}),
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title="Test T1 (unit 1)",
        unique_id=f"{HOST}:{peer.port}:1",
    )
    entry = await _site(hass, "Corner Shop", device)
    assert float(_state(hass, entry, "energy").state) == pytest.approx(1.2345)
    peer.holding.update(_f32_words(1234.75))  # a quarter of a watt-hour later
    await clock.tick()
    assert float(_state(hass, entry, "energy").state) == pytest.approx(1.23475)


@pytest.mark.usefixtures("user_profiles")
async def test_missing_profile_issue_goes_with_its_device_or_site(
    hass: HomeAssistant, peer: ModbusPeerThread, tmp_path: Path
) -> None:
    (tmp_path / "microdc" / "profiles" / "test_t1.yaml").unlink()
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1), _device(peer.port, 2))
    first, second = entry.subentries
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{first}") is not None
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{second}") is not None

    hass.config_entries.async_remove_subentry(entry, first)  # the site reloads
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{first}") is None
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{second}") is not None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, f"profile_missing_{second}") is None


@pytest.mark.usefixtures("user_profiles")
async def test_the_profile_id_leaves_a_device_registered_with_it(
    hass: HomeAssistant, peer: ModbusPeerThread
) -> None:
    """Earlier versions set the profile id as model id; the device page showed "(test_t1)"."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            {
                "data": dict(_device(peer.port, 1).data),
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "Test T1 (unit 1)",
                "unique_id": f"{HOST}:{peer.port}:1",
            }
        ],
    )
    entry.add_to_hass(hass)
    subentry_id = next(iter(entry.subentries))
    registry = dr.async_get(hass)
    registry.async_get_or_create(
        config_entry_id=entry.entry_id,
        config_subentry_id=subentry_id,
        identifiers={(DOMAIN, subentry_id)},
        model="T1",
        model_id="test_t1",
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    device = registry.async_get_device_by_identifier((DOMAIN, subentry_id), entry.entry_id)
    assert device is not None
    assert (device.model, device.model_id) == ("T1", None)


@pytest.mark.usefixtures("user_profiles")
async def test_a_poll_writes_only_the_states_whose_readings_changed(
    hass: HomeAssistant, peer: ModbusPeerThread, clock: Clock
) -> None:
    entry = await _site(hass, "Corner Shop", _device(peer.port, 1))
    ids = {key: _state(hass, entry, key).entity_id for key in ("power", "temperature", "door")}
    written: list[str] = []

    @callback
    def _written(event: Event[Any]) -> None:
        written.append(event.data["entity_id"])

    # A state written again unchanged is "reported"; a new one is "changed".
    @callback
    def _ours(data: Any) -> bool:
        return bool(data["entity_id"] in ids.values())

    hass.bus.async_listen(EVENT_STATE_REPORTED, _written, event_filter=_ours)
    hass.bus.async_listen(EVENT_STATE_CHANGED, _written, event_filter=_ours)
    await clock.tick()
    assert not set(written) & set(ids.values())  # nothing changed on the device

    peer.holding.update({2: 215})  # 21.5 °C
    await clock.tick()
    assert written.count(ids["temperature"]) == 1
    assert _state(hass, entry, "temperature").state == "21.5"
    assert ids["power"] not in written

    await peer.stop()  # every entity follows the device's availability
    await clock.tick()
    assert _state(hass, entry, "power").state == STATE_UNAVAILABLE
    assert _state(hass, entry, "door").state == STATE_UNAVAILABLE
