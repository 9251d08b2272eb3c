"""One rule for every energy counter, against the simulator: a heat meter's and a PDU's steps are
judged alike, the PDU's energy sensor and the site's IT energy agree, and energy set aside is
shown (diagnostics, one log line per channel, the reason on an ERF above 100 %).

A simulator sped up tenfold is reproduced exactly: its time stands still and each poll advances
it by ten times what Home Assistant's clock moves, as ``--speed 10`` does.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.microdc.const import DOMAIN
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from custom_components.microdc.lib.protocols.bacnet import BacnetDeviceClient
from tests.ha.test_heat_accounting import (
    PDU_ID,
    POLL_S,
    Clock,
    _accounting,
    _route,
    _setup,
    _site,
    _state,
    controller,  # noqa: F401 - a fixture
    heat_simulator,  # noqa: F401 - a fixture
)
from tests.simulator_process import SimulatorProcess

SPEED = 10
SET_ASIDE_LOG = "is set aside"


def _pdu_energy_kwh(hass: HomeAssistant) -> float:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{PDU_ID}_energy")
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return float(state.state)


async def test_a_sped_up_clock_is_judged_alike_for_heat_and_it(
    hass: HomeAssistant,
    heat_simulator: SimulatorProcess,  # noqa: F811
    controller: BacnetDeviceClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Counters running ten times faster than their power: both the heat meter's and the PDU's
    steps are set aside, so ERF stays sane, and the PDU's sensor agrees with the site."""
    # The shop is open (09:00): at its ~3.4 kW a tenfold PDU step is beyond the PDU's 20 kW
    # rating, while the heat meter, rated at nothing, took every step: ERF read 178-317 %.
    await heat_simulator.async_advance(2 * 3600)
    await _route(controller, heat_simulator, {"stockroom": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    await _setup(hass, entry)
    accounting = _accounting(hass, entry)
    sensor_start = _pdu_energy_kwh(hass)
    site_start = accounting.it_total_wh

    for _ in range(20):
        await heat_simulator.async_advance((SPEED - 1) * POLL_S)
        await clock.advance(heat_simulator, POLL_S)

    site_wh = accounting.it_total_wh - site_start
    assert site_wh > 0
    # The same readings through the same rule: the device's sensor and the site agree.
    assert (_pdu_energy_kwh(hass) - sensor_start) * 1000 == pytest.approx(site_wh, abs=0.01)
    # Neither counter is believed over its own power: reused heat cannot exceed IT energy.
    erf = float(_state(hass, entry, "erf").state)
    assert 0 < erf <= 100
    assert "above_100_percent_because" not in _state(hass, entry, "erf").attributes

    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert heat["set_aside_wh"] > 0
    assert heat["it_set_aside_wh"] > 0
    assert heat["replacements"] > 1  # every step set aside ...
    lines = [r.getMessage() for r in caplog.records if SET_ASIDE_LOG in r.getMessage()]
    # ... but one line per channel: the loop's and the site's IT energy, and the heat meter's
    # and the PDU's own energy sensors.
    assert len(lines) == 4, lines
    for channel in ("heat circuit main", "IT energy of", "heat_meter_heat_energy", "pdu_it_energy"):
        assert sum(channel in line for line in lines) == 1, (channel, lines)


async def test_an_erf_above_100_says_why(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    heat_simulator: SimulatorProcess,  # noqa: F811
    controller: BacnetDeviceClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Saved state whose IT energy was partly set aside: ERF reads above 100 % and says so."""
    await _route(controller, heat_simulator, {"stockroom": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    key = f"{DOMAIN}.heat.{entry.entry_id}"
    channel = {"total_wh": 1000.0, "set_aside_wh": 4000.0, "counter": None}
    ledger = {
        "version": 1,
        "by_destination_wh": {"stockroom": 5000.0},
        "unattributed_wh": 0.0,
        "circuits": {},
    }
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {"ledger": ledger, "it_meters": {"channels": {PDU_ID: channel}}, "today": None},
    }
    await _setup(hass, entry)
    await clock.poll(heat_simulator, 2)
    erf = _state(hass, entry, "erf")
    assert float(erf.state) > 100
    assert erf.attributes["above_100_percent_because"] == ["it_energy_set_aside"]
    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert heat["erf_above_100_because"] == ["it_energy_set_aside"]
