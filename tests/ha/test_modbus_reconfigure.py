"""Reconfiguring a Modbus device of a loaded site keeps its entities and their history.

A module of its own: the recorder (for history) must start before hass.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path

from homeassistant.components.recorder import Recorder, get_instance, history
from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from tests.modbus_peer import HOST, TEST_PROFILE_YAML, ModbusPeer


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first, then microdc from custom_components/ (overrides conftest's)."""


@pytest.fixture
def user_profiles(hass: HomeAssistant, tmp_path: Path) -> None:
    """The test device's profile in <config>/microdc/profiles."""
    hass.config.config_dir = str(tmp_path)
    folder = tmp_path / "microdc" / "profiles"
    folder.mkdir(parents=True)
    (folder / "test_t1.yaml").write_text(TEST_PROFILE_YAML, encoding="utf-8")


@pytest.fixture
async def peers(socket_enabled: None) -> AsyncGenerator[tuple[ModbusPeer, ModbusPeer]]:
    """The gateway before and after it moved to another port."""
    old, new = ModbusPeer(), ModbusPeer()
    new.holding[1] = 4  # power reads 0.1 W more there, so history shows which one was read
    await old.start()
    await new.start()
    yield old, new
    await old.stop()
    await new.stop()


def _data(port: int, unit_id: int) -> dict[str, object]:
    return {
        "host": HOST,
        "port": port,
        "framing": "tcp",
        "unit_id": unit_id,
        "profile": "test_t1",
        "polling": {"scan_interval": 10, "timeout": 1, "max_gap": 3},
    }


@pytest.mark.usefixtures("user_profiles")
async def test_reconfigure_keeps_entities_and_history(
    hass: HomeAssistant, peers: tuple[ModbusPeer, ModbusPeer]
) -> None:
    old, new = peers
    started = dt_util.utcnow()
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            {
                "data": _data(old.port, 1),
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "Test T1 (unit 1)",
                "unique_id": f"{HOST}:{old.port}:1",
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    subentry_id = next(iter(entry.subentries))
    registry = er.async_get(hass)
    before = {
        e.unique_id: (e.entity_id, e.id, e.device_id)
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id == subentry_id
    }
    power = registry.async_get_entity_id("sensor", DOMAIN, f"{subentry_id}_power")
    assert power is not None
    assert hass.states.get(power).state == "6553.9"  # type: ignore[union-attr]
    await async_wait_recording_done(hass)

    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_MODBUS_DEVICE),
        context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], _data(new.port, 2)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()  # the site reloads
    assert entry.state is ConfigEntryState.LOADED

    # Same entities (ids, registry entries, device), now read from the new port.
    assert len(before) >= 5
    after = {
        e.unique_id: (e.entity_id, e.id, e.device_id)
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id == subentry_id
    }
    assert after == before
    assert hass.states.get(power).state == "6554.0"  # type: ignore[union-attr]
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry_id), entry.entry_id
    )
    assert device is not None
    assert {device_id for _, _, device_id in after.values()} == {device.id}
    # A title 0.1.0 made from the profile follows the device to its new unit id.
    assert entry.subentries[subentry_id].title == "Test T1 (unit 2)"
    await async_wait_recording_done(hass)
    states = await get_instance(hass).async_add_executor_job(
        history.get_significant_states,
        hass,
        started - timedelta(seconds=1),
        None,
        [power],
    )
    # One history: the old port's reading, then the new port's.
    assert [s.state for s in states[power] if s.state != "unavailable"] == ["6553.9", "6554.0"]
