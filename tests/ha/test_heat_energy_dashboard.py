"""The energy dashboard takes the site's recovered heat as gas and IT energy as a device.

Home Assistant's own validation (energy/validate.py) is the judge, and the recorder compiles
long-term statistics for both. A module of its own: the recorder must start before hass.
"""

from __future__ import annotations

from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import async_list_statistic_ids
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    get_start_time,
)

from custom_components.microdc.lib.protocols.bacnet import BacnetDeviceClient
from tests.ha.test_heat_accounting import (  # noqa: F401 - fixtures shared with that module
    Clock,
    _route,
    _setup,
    _site,
    _state,
    controller,
    heat_simulator,
)
from tests.simulator_process import SimulatorProcess


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first, then microdc from custom_components/ (overrides conftest's)."""


async def test_energy_dashboard_accepts_heat_as_gas_and_it_energy_as_a_device(
    hass: HomeAssistant,
    heat_simulator: SimulatorProcess,  # noqa: F811 - the fixture imported above
    controller: BacnetDeviceClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant's own energy validation finds no issue; statistics are compiled."""
    await _route(controller, heat_simulator, {"stockroom": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    await _setup(hass, entry)
    await clock.poll(heat_simulator, 6)
    # Recovered heat (all of it) or reused heat (what reached the destinations): a site may
    # chart either as gas; both must pass.
    heat = _state(hass, entry, "recovered_heat").entity_id
    reused = _state(hass, entry, "reused_heat").entity_id
    it_energy = _state(hass, entry, "site_it_energy").entity_id

    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "gas",
                    "stat_energy_from": source,
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                }
                for source in (heat, reused)
            ],
            "device_consumption": [{"stat_consumption": it_energy}],
        }
    )
    do_adhoc_statistics(hass, start=get_start_time(dt_util.utcnow()))
    await async_wait_recording_done(hass)
    compiled = await async_list_statistic_ids(hass, {heat, reused, it_energy})
    assert {(s["statistic_id"], s["has_sum"]) for s in compiled} == {
        (heat, True),
        (reused, True),
        (it_energy, True),
    }
    validation = (await energy_validate.async_validate(hass)).as_dict()
    assert validation["energy_sources"] == [[], []]
    assert validation["device_consumption"] == [[]]
