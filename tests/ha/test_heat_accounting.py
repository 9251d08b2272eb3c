"""The site's heat sensors against the simulator: figures, restarts, split, energy dashboard.

The simulator runs the demo site plus a Modbus valve feedback module (unit 5, profile
demo_valve_feedback) showing the valves' positions; its time stands still (--speed 0) and each
test advances it together with Home Assistant's timers and the ledgers' clock, so every poll
reads a known simulated instant. Valves are commanded over BACnet/IP, as a building's controller
takes them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from datetime import timedelta
from pathlib import Path
from typing import Any

from homeassistant import loader
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)
import yaml

from custom_components.microdc import heat_accounting
from custom_components.microdc.const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from custom_components.microdc.destination_config import CONF_BRANCH_METER, CONF_KIND, CONF_VALVES
from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from custom_components.microdc.heat_accounting import SiteHeatAccounting
from custom_components.microdc.lib.protocols.bacnet import (
    BacnetDeviceClient,
    BacnetNetwork,
    BacnetNetworkConfig,
    ObjectId,
)
from tests.simulator_process import REPO_ROOT, SimulatorProcess, start_simulator

VALVES_ID = "valvefeedback"
METER_ID = "heatmeter"
PDU_ID = "rackpdu"
PRIORITY = 8
POLL_S = 10  # the Modbus devices' default scan interval
METER_RESOLUTION_WH = 10.0  # the demo heat meter counts hundredths of a kWh

DESTINATIONS = ("stockroom", "tenant_a", "tenant_b", "shared_loop")
VALVE_OBJECTS = {
    "stockroom": ObjectId("analog-output", 1),
    "tenant_a": ObjectId("analog-output", 2),
    "tenant_b": ObjectId("analog-output", 3),
    "shared_loop": ObjectId("analog-output", 4),
    "dry_cooler": ObjectId("analog-output", 5),
}


@pytest.fixture(scope="module")
def heat_simulator(tmp_path_factory: pytest.TempPathFactory) -> Generator[SimulatorProcess]:
    """The demo site plus valve position feedback over Modbus, time held still."""
    site = yaml.safe_load((REPO_ROOT / "simulator/sites/demo.yaml").read_text(encoding="utf-8"))
    site["modbus"]["devices"]["valve_feedback"] = {
        "unit_id": 5,
        "profile": "demo_valve_feedback",
        "points": {f"{v}_valve": f"valve_position_pct.{v}" for v in VALVE_OBJECTS},
    }
    path = Path(tmp_path_factory.mktemp("heat_site")) / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    sim = start_simulator(speed=0.0, site=path)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


@pytest.fixture
async def controller(
    heat_simulator: SimulatorProcess, socket_enabled: None
) -> AsyncGenerator[BacnetDeviceClient]:
    """The simulator's hydronic controller over BACnet/IP; our commands go at the end."""
    network = await BacnetNetwork.acquire(
        BacnetNetworkConfig(address="127.0.0.1/8", port=0, apdu_timeout_s=2, apdu_retries=0)
    )
    client = network.device(
        f"127.0.0.1:{heat_simulator.bacnet_port}", int(heat_simulator.bacnet_device_instance or 0)
    )
    try:
        yield client
    finally:
        for oid in VALVE_OBJECTS.values():
            await client.relinquish(oid, PRIORITY)
        await network.release()


def _modbus(sim: SimulatorProcess, subentry_id: str, profile: str, unit: int) -> ConfigSubentryData:
    return ConfigSubentryData(
        subentry_id=subentry_id,
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title=profile,
        unique_id=f"127.0.0.1:{sim.modbus_port}:{unit}",
        data={"host": "127.0.0.1", "port": sim.modbus_port, "unit_id": unit, "profile": profile},
    )


def _destination(name: str) -> ConfigSubentryData:
    return ConfigSubentryData(
        subentry_id=name,
        subentry_type=SUBENTRY_HEAT_DESTINATION,
        title=name.replace("_", " ").title(),
        unique_id=None,
        data={
            CONF_KIND: "tenant" if name.startswith("tenant") else name,
            CONF_VALVES: [f"{VALVES_ID}/{name}_valve"],
            CONF_BRANCH_METER: None,
        },
    )


def _site(sim: SimulatorProcess, entry_id: str = "heatsite") -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title="Corner Shop",
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        subentries_data=[
            _modbus(sim, METER_ID, "demo_heat_meter", 4),
            _modbus(sim, PDU_ID, "demo_rack_pdu", 1),
            _modbus(sim, VALVES_ID, "demo_valve_feedback", 5),
            *(_destination(d) for d in DESTINATIONS),
        ],
    )


async def _route(
    client: BacnetDeviceClient, sim: SimulatorProcess, openings: dict[str, float]
) -> None:
    """Command every valve (the rest closed) and let them finish their stroke."""
    for valve, oid in VALVE_OBJECTS.items():
        await client.write_present_value(oid, openings.get(valve, 0.0), PRIORITY)
    await sim.async_advance(90)  # the valves' stroke is 60 s


class Clock:
    """Home Assistant's timers and the ledgers' clock, moved on with the simulator's time.

    (The freezer fixture cannot serve: frozen monotonic time stalls pymodbus's connect.)
    """

    def __init__(self, hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hass = hass
        self.start = dt_util.utcnow()
        self.ahead = timedelta()
        monkeypatch.setattr(heat_accounting, "utc_timestamp", self.timestamp)

    def timestamp(self) -> float:
        return (self.start + self.ahead).timestamp()

    async def advance(self, sim: SimulatorProcess, seconds: float) -> None:
        """Time passes for the simulator and for Home Assistant; polls that fall due run."""
        await sim.async_advance(seconds)
        self.ahead += timedelta(seconds=seconds)
        async_fire_time_changed(self.hass, self.start + self.ahead)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def tick(self, seconds: float) -> None:
        """Time passes for Home Assistant and the router only (the simulator's stands still)."""
        self.ahead += timedelta(seconds=seconds)
        async_fire_time_changed(self.hass, self.start + self.ahead)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def poll(self, sim: SimulatorProcess, steps: int) -> None:
        """One scan interval per step."""
        for _ in range(steps):
            await self.advance(sim, POLL_S)


def _accounting(hass: HomeAssistant, entry: MockConfigEntry) -> SiteHeatAccounting:
    return entry.runtime_data.heat


def _state(hass: HomeAssistant, entry: MockConfigEntry, key: str) -> Any:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None
    return state


async def _heat_to_loop_wh(sim: SimulatorProcess) -> float:
    return float((await sim.async_state())["ledgers"]["heat_to_loop_wh"])


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_sensors_and_split(
    hass: HomeAssistant,
    heat_simulator: SimulatorProcess,
    controller: BacnetDeviceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each sensor's classes and unit; heat goes where the valves go; totals match the meter."""
    await _route(controller, heat_simulator, {"stockroom": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    await _setup(hass, entry)
    start_truth = await _heat_to_loop_wh(heat_simulator)
    start_it = (await heat_simulator.async_state())["ledgers"]["it_energy_wh"]

    expected = {
        "recovered_power": (SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT, "kW"),
        "recovered_heat": (SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, "kWh"),
        "reused_heat": (SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, "kWh"),
        "rejected_heat": (SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, "kWh"),
        "site_it_energy": (SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING, "kWh"),
        "site_it_power": (SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT, "kW"),
        "erf": (None, SensorStateClass.MEASUREMENT, "%"),
        "erf_today": (None, SensorStateClass.MEASUREMENT, "%"),
        "recovery_ratio": (None, SensorStateClass.MEASUREMENT, "%"),
        "avoided_cost": (SensorDeviceClass.MONETARY, SensorStateClass.TOTAL, hass.config.currency),
        "avoided_emissions": (SensorDeviceClass.WEIGHT, SensorStateClass.TOTAL_INCREASING, "kg"),
        **{
            f"destination_heat_{d}": (
                SensorDeviceClass.ENERGY,
                SensorStateClass.TOTAL_INCREASING,
                "kWh",
            )
            for d in DESTINATIONS
        },
    }
    for key, (device_class, state_class, unit) in expected.items():
        attributes = _state(hass, entry, key).attributes
        assert attributes.get("device_class") == device_class, key
        assert attributes.get("state_class") == state_class, key
        assert attributes.get("unit_of_measurement") == unit, key
    assert _state(hass, entry, "destination_heat_tenant_a").name == "Corner Shop Heat to Tenant A"

    # Stockroom only: all of the loop's heat goes there.
    await clock.poll(heat_simulator, 30)
    accounting = _accounting(hass, entry)
    totals = accounting.totals
    assert totals.by_destination_wh["stockroom"] > 50
    assert totals.by_destination_wh["tenant_a"] == 0
    assert totals.rejected_wh == 0
    assert float(_state(hass, entry, "recovered_power").state) > 0
    assert float(_state(hass, entry, "recovery_ratio").state) > 0

    # Tenant A and B, half open each (the dry cooler closed): the next heat splits evenly.
    before = dict(totals.by_destination_wh)
    await _route(controller, heat_simulator, {"tenant_a": 50, "tenant_b": 50})
    await clock.advance(heat_simulator, 0)
    await clock.poll(heat_simulator, 30)
    totals = accounting.totals
    gained = {d: totals.by_destination_wh[d] - before[d] for d in before}
    assert gained["tenant_a"] > 50
    assert gained["tenant_a"] == pytest.approx(gained["tenant_b"], rel=1e-6)
    assert gained["shared_loop"] == 0

    # Everything closed: the heat is rejected.
    await _route(controller, heat_simulator, {})
    await clock.advance(heat_simulator, 0)
    await clock.poll(heat_simulator, 12)
    assert accounting.totals.rejected_wh > 0

    # The heat meter is the truth: every Wh the loop carried is in the ledger, once.
    truth = await _heat_to_loop_wh(heat_simulator) - start_truth
    assert accounting.totals.captured_wh == pytest.approx(truth, abs=2 * METER_RESOLUTION_WH)
    heat = (await async_get_config_entry_diagnostics(hass, entry))["heat"]
    assert (heat["main_meter"], heat["it_meters"]) == (METER_ID, [PDU_ID])
    assert heat["openings_pct"] == dict.fromkeys(DESTINATIONS, 0.0)
    assert heat["captured_wh"] == accounting.totals.captured_wh
    # Recovered heat is all of it, reject included; reused heat is what reached destinations.
    recovered = float(_state(hass, entry, "recovered_heat").state)
    assert recovered == pytest.approx(truth / 1000, abs=2 * METER_RESOLUTION_WH / 1000)
    reused = float(_state(hass, entry, "reused_heat").state)
    assert reused == pytest.approx(accounting.totals.reused_wh / 1000, abs=1e-3)
    assert reused == pytest.approx(recovered - accounting.totals.rejected_wh / 1000, abs=1e-3)
    assert reused < recovered  # some heat went to reject above
    # The savings follow the reused heat: rejected heat displaced no heating.
    assert float(_state(hass, entry, "avoided_cost").state) == pytest.approx(
        reused / 0.9 * 0.10, rel=1e-3
    )
    assert float(_state(hass, entry, "avoided_emissions").state) == pytest.approx(
        reused / 0.9 * 0.18, rel=1e-3
    )
    # IT energy from the PDU's watt-hour counter; ERF is reused heat over it.
    it_truth = (await heat_simulator.async_state())["ledgers"]["it_energy_wh"] - start_it
    it_wh = accounting.it_total_wh
    assert it_wh == pytest.approx(it_truth, abs=2)
    assert float(_state(hass, entry, "site_it_energy").state) == pytest.approx(
        it_wh / 1000, abs=1e-3
    )
    assert float(_state(hass, entry, "erf").state) == pytest.approx(
        accounting.totals.reused_wh / it_wh * 100, abs=0.01
    )
    assert float(_state(hass, entry, "erf_today").state) == pytest.approx(
        float(_state(hass, entry, "erf").state), abs=0.01
    )


async def test_restart_neither_loses_nor_double_counts(
    hass: HomeAssistant,
    heat_simulator: SimulatorProcess,
    controller: BacnetDeviceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unload and set up again while heat flows, with time passing in between."""
    await _route(controller, heat_simulator, {"shared_loop": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    await _setup(hass, entry)
    start_truth = await _heat_to_loop_wh(heat_simulator)
    await clock.poll(heat_simulator, 12)
    before = float(_state(hass, entry, "recovered_heat").state)
    assert before > 0

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # Home Assistant is down for two minutes (within the integration gap) while heat flows.
    await clock.advance(heat_simulator, 120)
    await _setup(hass, entry)
    after = float(_state(hass, entry, "recovered_heat").state)
    assert after > before  # the downtime's heat is counted, from the meter
    await clock.poll(heat_simulator, 6)

    truth = await _heat_to_loop_wh(heat_simulator) - start_truth
    totals = _accounting(hass, entry).totals
    assert totals.captured_wh == pytest.approx(truth, abs=2 * METER_RESOLUTION_WH)
    assert totals.by_destination_wh["shared_loop"] == pytest.approx(
        truth, abs=2 * METER_RESOLUTION_WH
    )


async def test_fresh_home_assistant_restores_the_store(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    heat_simulator: SimulatorProcess,
    controller: BacnetDeviceClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new Home Assistant on the saved Store continues the totals: none lost, none twice."""
    await _route(controller, heat_simulator, {"tenant_a": 100})
    clock = Clock(hass, monkeypatch)
    entry = _site(heat_simulator)
    await _setup(hass, entry)
    start_truth = await _heat_to_loop_wh(heat_simulator)
    await clock.poll(heat_simulator, 12)
    assert await hass.config_entries.async_unload(entry.entry_id)  # saves the Store
    saved = hass_storage[f"{DOMAIN}.heat.{entry.entry_id}"]["data"]
    reused_before = _reused_wh(saved)
    assert reused_before > 0

    await heat_simulator.async_advance(60)  # Home Assistant is down; heat still flows
    async with async_test_home_assistant() as fresh:
        fresh.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # let it load microdc from custom_components
        fresh_clock = Clock(fresh, monkeypatch)
        fresh_clock.start = clock.start + clock.ahead + timedelta(seconds=60)
        restarted = _site(heat_simulator)
        await _setup(fresh, restarted)
        await fresh_clock.poll(heat_simulator, 6)
        totals = _accounting(fresh, restarted).totals
        truth = await _heat_to_loop_wh(heat_simulator) - start_truth
        assert totals.by_destination_wh["tenant_a"] > reused_before
        assert totals.captured_wh == pytest.approx(truth, abs=2 * METER_RESOLUTION_WH)
        assert await fresh.config_entries.async_unload(restarted.entry_id)
        await fresh.async_stop(force=True)


def _reused_wh(saved: dict[str, Any]) -> float:
    return sum(e for d, e in saved["ledger"]["by_destination_wh"].items() if d != "reject")
