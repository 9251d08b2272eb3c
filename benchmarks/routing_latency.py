"""Heat routing latency: from a request to the valve command arriving at the simulator.

Starts the site simulator (time held still) and a Home Assistant instance (the test harness's,
in memory) with one site: the demo hydronic controller over BACnet/IP (COV on, its poll 10 min
apart so no poll is involved) and two heat destinations, the stockroom and tenant A.

- action: ``microdc.divert_heat`` alternately to the stockroom and to tenant A; the clock
  stops when the simulator's priority array (GET /state) holds the new command at priority 12.
- COV: an automation (the automation integration, a state trigger) diverts heat to the
  stockroom when the outdoor temperature entity changes; the run releases every request, waits
  for the stockroom's slot to empty, then moves the simulator's time until OUTDOOR-T notifies.
  The clock starts when the notification's value reaches the entity (its state_changed event);
  time advances in 1-minute steps: the simulator serves no request while it advances, and the
  run cannot know that a notification is on its way before it asks for the next step, so a
  write can wait for the whole step's physics (about 120 ms for a 10-minute step on this
  machine, which the first runs of this benchmark measured as routing latency).

Usage: ``scripts/run python benchmarks/routing_latency.py [--runs 100]``.
The last line reads ``routing latency p99: X ms (action), Y ms (COV)``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant import loader
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_HEAT_DESTINATION
from custom_components.microdc.destination_config import CONF_BRANCH_METER, CONF_KIND, CONF_VALVES
from custom_components.microdc.lib.devices.bacnet_config import object_key
from custom_components.microdc.lib.protocols.bacnet import ObjectId
from tests.ha.bacnet_site import BACNET_OPTIONS, demo_objects, device_subentry
from tests.simulator_process import SimulatorProcess, start_simulator

CONTROLLER = "controller"
VALVES = {"stockroom": ObjectId("analog-output", 1), "tenant_a": ObjectId("analog-output", 2)}
OUTDOOR = "analog-input,4"
SLOT = 12 - 1
DEADLINE_S = 10.0
STEP_S, STEPS = 60, 480  # up to 8 simulated hours for one notification


def _destination(name: str) -> dict[str, Any]:
    return {
        "subentry_id": name,
        "subentry_type": SUBENTRY_HEAT_DESTINATION,
        "title": name,
        "unique_id": None,
        "data": {
            CONF_KIND: "tenant" if name.startswith("tenant") else name,
            CONF_VALVES: [f"{CONTROLLER}/{object_key(VALVES[name])}"],
            CONF_BRANCH_METER: None,
        },
    }


async def _slot(sim: SimulatorProcess, valve: str) -> Any:
    state = await sim.async_state()
    return state["valves"][valve]["bacnet"]["priority_array"][SLOT]


async def _until(sim: SimulatorProcess, valve: str, value: Any) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while await _slot(sim, valve) != value:
            pass  # each GET /state is a round trip to the simulator: no sleep needed


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def _site(hass: HomeAssistant, sim: SimulatorProcess) -> MockConfigEntry:
    controller = {
        **device_subentry(sim, objects=demo_objects({}), scan_interval_s=600, cov=True),
        "subentry_id": CONTROLLER,
    }
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Bench Shop",
        unique_id="bench_shop",
        data={CONF_SITE_NAME: "Bench Shop"},
        options={**BACNET_OPTIONS, "routing": {"dwell": 0}},
        subentries_data=[controller, *(_destination(d) for d in VALVES)],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def _action_runs(
    hass: HomeAssistant, sim: SimulatorProcess, entry_id: str, runs: int
) -> list[float]:
    samples = []
    for run in range(runs):
        valve = ("stockroom", "tenant_a")[run % 2]
        started = time.perf_counter()
        await hass.services.async_call(
            DOMAIN, "divert_heat", {"config_entry_id": entry_id, "destination": valve}
        )
        await _until(sim, valve, 100.0)
        samples.append(time.perf_counter() - started)
    await hass.services.async_call(
        DOMAIN, "release_heat", {"config_entry_id": entry_id}, blocking=True
    )
    return samples


async def _cov_runs(
    hass: HomeAssistant, sim: SimulatorProcess, entry_id: str, runs: int
) -> list[float]:
    unique_id = f"{CONTROLLER}_{object_key(ObjectId.parse(OUTDOOR))}"
    outdoor = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert outdoor is not None
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "alias": "Stockroom heat on outdoor change",
                "triggers": [{"trigger": "state", "entity_id": outdoor}],
                "actions": [
                    {
                        "action": "microdc.divert_heat",
                        "data": {
                            "config_entry_id": entry_id,
                            "destination": "stockroom",
                            "source": "bench automation",
                        },
                    }
                ],
            }
        },
    )
    samples = []
    while len(samples) < runs:
        await hass.services.async_call(
            DOMAIN, "release_heat", {"config_entry_id": entry_id}, blocking=True
        )
        await _until(sim, "stockroom", None)
        changed: list[float] = []

        @callback
        def _changed(event: Event[Any], changed: list[float] = changed) -> None:
            if event.data["entity_id"] == outdoor:
                changed.append(time.perf_counter())

        remove = hass.bus.async_listen("state_changed", _changed)
        # OUTDOOR-T notifies every 0.5 K it moves; short steps, so that the simulator (busy
        # while it advances) takes the write soon after the notification.
        for _ in range(STEPS):
            await sim.async_advance(STEP_S)
            if changed:
                break
        try:
            await _until(sim, "stockroom", 100.0)
        except TimeoutError:
            if not changed:
                continue  # it moved and came back within the advance: no notification
            raise
        finally:
            remove()
        samples.append(time.perf_counter() - changed[0])
    return samples


async def run(runs: int) -> tuple[list[float], list[float]]:
    sim = start_simulator(speed=0.0)
    try:
        async with async_test_home_assistant() as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # load microdc from custom_components
            entry = await _site(hass, sim)
            try:
                action = await _action_runs(hass, sim, entry.entry_id, runs)
                cov = await _cov_runs(hass, sim, entry.entry_id, runs)
            finally:
                await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
            return action, cov
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    action, cov = asyncio.run(run(args.runs))
    a50, a99 = _percentiles(action)
    c50, c99 = _percentiles(cov)
    print(f"action: {len(action)} runs, p50 {a50:.1f} ms, p99 {a99:.1f} ms")
    print(f"COV:    {len(cov)} runs, p50 {c50:.1f} ms, p99 {c99:.1f} ms (from the entity's change)")
    print(f"routing latency p99: {a99:.1f} ms (action), {c99:.1f} ms (COV)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
