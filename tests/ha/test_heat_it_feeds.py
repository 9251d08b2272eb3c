"""A dual-feed rack against the simulator: the site's IT energy is the sum of both PDUs.

The simulator serves a test-only copy of the demo site in which the rack draws its power through
two PDUs, an A feed (unit 1) carrying 55 % and a B feed (unit 6) carrying 45 % (uneven, so that
counting one feed twice, or only one, cannot pass). Each PDU's counter is its own: the site must
sum their energy, each from its own counter. Time stands still (--speed 0) and moves with the
test's clock.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from tests.ha.test_heat_accounting import Clock, _accounting, _modbus, _setup, _state
from tests.simulator_process import REPO_ROOT, SimulatorProcess, start_simulator

FEED_A, FEED_B = "feed_a", "feed_b"
SHARE = {FEED_A: 0.55, FEED_B: 0.45}
SIM_NAME = {FEED_A: "rack_pdu", FEED_B: "rack_pdu_b"}
COUNT_WH = 1.0  # the demo PDU counts whole Wh


@pytest.fixture(scope="module")
def feeds_simulator(tmp_path_factory: pytest.TempPathFactory) -> Generator[SimulatorProcess]:
    """The demo site with its rack on two PDUs, time held still."""
    site = yaml.safe_load((REPO_ROOT / "simulator/sites/demo.yaml").read_text(encoding="utf-8"))
    devices = site["modbus"]["devices"]
    pdu = devices["rack_pdu"]
    for feed, unit in ((FEED_A, 1), (FEED_B, 6)):
        share = SHARE[feed]
        devices[SIM_NAME[feed]] = {
            "unit_id": unit,
            "profile": "demo_rack_pdu",
            "points": {
                **pdu["points"],
                "active_power": {"quantity": "it_power_w", "factor": share},
                "current": {"quantity": "pdu_current_a", "factor": share},
                "energy": {"quantity": "it_energy_wh", "factor": share},
            },
        }
    path = Path(tmp_path_factory.mktemp("feeds_site")) / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    sim = start_simulator(speed=0.0, site=path)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def _site(sim: SimulatorProcess) -> MockConfigEntry:
    feeds = [_modbus(sim, FEED_A, "demo_rack_pdu", 1), _modbus(sim, FEED_B, "demo_rack_pdu", 6)]
    feeds[0]["title"], feeds[1]["title"] = "PDU A", "PDU B"
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id="feedsite",
        title="Corner Shop",
        unique_id="corner_shop_feeds",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=feeds,
    )


async def _served_wh(sim: SimulatorProcess) -> dict[str, float]:
    """Each PDU's energy counter as the simulator serves it (Wh)."""
    modbus = (await sim.async_state())["modbus"]
    return {
        feed: float(modbus[name]["points"]["energy"]["value"]) for feed, name in SIM_NAME.items()
    }


async def test_it_energy_sums_both_feeds(
    hass: HomeAssistant,
    feeds_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IT energy and power are the sum of both PDUs'; the site says which devices it sums."""
    clock = Clock(hass, monkeypatch)
    entry = _site(feeds_simulator)
    await _setup(hass, entry)
    start = await _served_wh(feeds_simulator)
    start_truth = (await feeds_simulator.async_state())["ledgers"]["it_energy_wh"]

    await clock.poll(feeds_simulator, 30)
    end = await _served_wh(feeds_simulator)
    state = await feeds_simulator.async_state()
    accounting = _accounting(hass, entry)

    # Each feed counted from its own counter; the site's total is their sum, and the rack's.
    by_feed = {d: c.total_wh for d, c in accounting.it.channels.items()}
    for feed in SHARE:
        assert by_feed[feed] == pytest.approx(end[feed] - start[feed], abs=COUNT_WH)
    assert accounting.it_total_wh == pytest.approx(
        sum(end.values()) - sum(start.values()), abs=2 * COUNT_WH
    )
    rack_wh = state["ledgers"]["it_energy_wh"] - start_truth
    assert accounting.it_total_wh == pytest.approx(rack_wh, abs=2 * COUNT_WH + 1)

    energy = _state(hass, entry, "site_it_energy")
    assert float(energy.state) == pytest.approx(accounting.it_total_wh / 1000, abs=1e-3)
    assert energy.attributes["it_meters"] == ["PDU A", "PDU B"]
    power = _state(hass, entry, "site_it_power")
    assert float(power.state) == pytest.approx(state["quantities"]["it_power_w"] / 1000, abs=2e-3)
    assert power.attributes["it_meters"] == ["PDU A", "PDU B"]

    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert heat["it_meters"] == [FEED_A, FEED_B]
    assert heat["it_energy_wh"] == by_feed


async def test_a_store_of_0_1_0_keeps_its_it_total(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    feeds_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0.1.0 saved one IT channel (its first IT device's): it goes on as that device's, and
    the second feed adds to it; nothing of the saved total is lost."""
    clock = Clock(hass, monkeypatch)
    entry = _site(feeds_simulator)
    key = f"{DOMAIN}.heat.{entry.entry_id}"
    old_channel = {
        "last_time_s": None,
        "last_power_w": None,
        "counter": {"last_raw": None},
        "total_wh": 123456.0,
        "computed_wh": 120000.0,
        "unknown_s": 30.0,
        "gap_count": 1,
        "wraps": 0,
        "replacements": 0,
    }
    ledger = {"version": 1, "by_destination_wh": {"reject": 0.0}, "unattributed_wh": 0.0}
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"ledger": ledger, "it": old_channel, "today": None},
    }
    await _setup(hass, entry)
    accounting = _accounting(hass, entry)
    assert accounting.it_total_wh == pytest.approx(123456.0)
    assert accounting.it.channels[FEED_A].gap_count == 1  # the old channel is feed A's

    start = await _served_wh(feeds_simulator)
    await clock.poll(feeds_simulator, 12)
    end = await _served_wh(feeds_simulator)
    gained = sum(end.values()) - sum(start.values())
    assert gained > 0
    assert accounting.it_total_wh == pytest.approx(123456.0 + gained, abs=2 * COUNT_WH)
    assert float(_state(hass, entry, "site_it_energy").state) == pytest.approx(
        (123456.0 + gained) / 1000, abs=1e-3
    )

    # Saved in the new layout, and restored from it unchanged.
    assert await hass.config_entries.async_unload(entry.entry_id)
    saved = hass_storage[key]["data"]
    assert "it" not in saved
    assert set(saved["it_meters"]["channels"]) == {FEED_A, FEED_B}
    await _setup(hass, entry)
    assert _accounting(hass, entry).it_total_wh == pytest.approx(accounting.it_total_wh)
