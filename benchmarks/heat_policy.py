"""Where the rack's heat does most good: four routing policies over a winter and a spring day.

For each day (the demo site's named outdoor days: winter 0..8 °C, spring 6..16 °C) and each
policy, a fresh simulator (time held still, moved by POST /advance) and a Home Assistant
instance (the test harness's, in memory) with the demo site and its four heat destinations
(tests/ha/heat_day.py) run 24 simulated hours from 07:00, polled once per step:

- always reject: ``microdc.divert_heat`` to reject once (the dry cooler takes everything);
- always shared loop: ``microdc.divert_heat`` to the shared loop once;
- occupancy and weather: the blueprint divert_heat_by_occupancy_and_weather as an automation
  (the stockroom first while staff are in it, then tenant A, tenant B, each below its wanted
  temperature and occupied; spare heat to the shared loop; summer at 15 °C to reject);
- tenant sharing: the blueprint share_heat_between_tenants (tenants A and B, fair share,
  spare heat to the shared loop).

The ground truth is the simulator's (GET /state): recovered = heat into the loop; reused =
heat delivered to the stockroom, the tenants and the shared loop. Displaced heating is what the
spaces' own heating and the mall's boiler did not have to make: per space, its own heating's
kWh under always reject (nothing delivered) minus under the policy, same seed, same IT load and
weather; for the shared loop, everything it took (the simulator's shared loop takes heat only
within the mall's heating demand, 300 W/K x max(0, 15 °C - outdoor), so none of it is
surplus). Overheated minutes: a space above its wanted temperature + 1 K, at each step. Max
exhaust: the rack's exhaust at each step. Routing changes: changes of the router's shares
(microdc_heat_routed events) after the policy's first request (the first one included: the
router's dwell holds the start's routing for 10 minutes), and how many of them were safety
trips.

Usage: ``scripts/run python benchmarks/heat_policy.py [--step 120]``. The last line reads
``displaced heating: blueprint X kWh, best fixed Y kWh (policy); overheated space minutes: N;
max exhaust: T C`` for the winter day.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from pathlib import Path
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeassistant import loader
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import async_test_home_assistant

from custom_components.microdc.const import DOMAIN
from custom_components.microdc.lib.routing import RoutingSettings
from tests.ha.heat_day import (
    DIVERT,
    ENTRY_ID,
    TENANTS,
    WANTED,
    HeatDay,
    divert_inputs,
    site_entry,
    summer_helper,
    tenant_inputs,
)
from tests.simulator_process import start_simulator

DAY_S = 86400.0
SPACES = tuple(WANTED)
POLICIES = {
    "reject": "always reject",
    "shared_loop": "always shared loop",
    "blueprint": "occupancy and weather",
    "tenants": "tenant sharing",
}
FIXED = ("reject", "shared_loop")
EXHAUST_LIMIT_C = RoutingSettings().exhaust_limit


@dataclass
class Run:
    """One policy over one day: the simulator's ledgers and what was seen at each step."""

    policy: str
    ledgers: dict[str, float] = field(default_factory=dict)
    overheated_min: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SPACES, 0.0))
    max_exhaust_c: float = 0.0
    changes: int = 0
    trips: int = 0
    seconds: float = 0.0

    def kwh(self, key: str) -> float:
        return self.ledgers.get(key, 0.0) / 1000.0

    @property
    def recovered(self) -> float:
        return self.kwh("heat_to_loop_wh")

    @property
    def reused(self) -> float:
        return sum(self.kwh(f"delivered_wh.{d}") for d in (*SPACES, "shared_loop"))

    def displaced(self, baseline: Run) -> dict[str, float]:
        out = {
            s: baseline.kwh(f"space_heating_wh.{s}") - self.kwh(f"space_heating_wh.{s}")
            for s in SPACES
        }
        out["shared_loop"] = self.kwh("delivered_wh.shared_loop")
        return out


async def _policy(hass: HomeAssistant, day: HeatDay, policy: str) -> None:
    if policy in FIXED:
        await hass.services.async_call(
            DOMAIN,
            "divert_heat",
            {"config_entry_id": ENTRY_ID, "destination": policy},
            blocking=True,
        )
    elif policy == "blueprint":
        await day.automations_from((DIVERT, divert_inputs(day)))
    else:
        await day.automations_from((TENANTS, tenant_inputs(day)))
    await hass.async_block_till_done(wait_background_tasks=True)


async def one_day(outdoor: str, policy: str, step: float, hours: float = 24.0) -> Run:
    """24 simulated hours of one policy on a fresh simulator and Home Assistant."""
    run = Run(policy)
    started = time.perf_counter()
    sim = start_simulator(speed=0.0)
    try:
        await sim.async_request("POST", "/outdoor", {"day": outdoor})
        with tempfile.TemporaryDirectory(prefix="microdc-heat-policy-") as config_dir:
            async with async_test_home_assistant(config_dir=config_dir) as hass:
                hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # microdc from custom_components
                await hass.config.async_set_time_zone("UTC")
                day = HeatDay(hass, sim, site_entry(sim, poll_s=step))
                try:
                    await summer_helper(hass)
                    await day.load()
                    await _policy(hass, day, policy)
                    placed = len(day.routed)

                    def note(state: dict[str, Any]) -> None:
                        q = state["quantities"]
                        run.max_exhaust_c = max(run.max_exhaust_c, q["exhaust_temperature_c"])
                        for space, wanted in WANTED.items():
                            if q[f"space_temperature_c.{space}"] > wanted + 1.0:
                                run.overheated_min[space] += step / 60.0

                    await day.advance(hours * 3600.0, step=step, each=note)
                    run.ledgers = dict((await sim.async_state())["ledgers"])
                    after = day.routed[placed:]
                    run.changes = sum(1 for e in after if _shares(e) != _shares_old(e))
                    run.trips = sum(
                        1
                        for before, e in zip([None, *after], after, strict=False)
                        if e.data["reason"].startswith("safety")
                        and (before is None or not before.data["reason"].startswith("safety"))
                    )
                finally:
                    await day.remove_automations()
                    await day.unload()
                    day.restore_clock()
                await hass.async_stop(force=True)
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)
    run.seconds = time.perf_counter() - started
    return run


def _shares(event: Event[Any]) -> dict[str, float]:
    return dict(event.data["new"])


def _shares_old(event: Event[Any]) -> dict[str, float]:
    return dict(event.data["old"])


def table(outdoor: str, runs: dict[str, Run]) -> list[str]:
    """The day's table, one row per policy."""
    baseline = runs["reject"]
    head = (
        f"{outdoor} day | recovered kWh | reused kWh (share) | displaced kWh: stockroom, "
        "tenant A, tenant B, shared loop = total | overheated min | max exhaust C | changes "
        "(safety trips)"
    )
    lines = [head, "-" * len(head)]
    for policy, run in runs.items():
        d = run.displaced(baseline)
        share = run.reused / run.recovered if run.recovered else 0.0
        lines.append(
            f"{POLICIES[policy]:<22} | {run.recovered:6.1f} | {run.reused:6.1f} ({share:4.0%}) | "
            f"{d['stockroom']:5.1f}, {d['tenant_a']:5.1f}, {d['tenant_b']:5.1f}, "
            f"{d['shared_loop']:5.1f} = {sum(d.values()):5.1f} | "
            f"{sum(run.overheated_min.values()):4.0f} | {run.max_exhaust_c:5.1f} | {run.changes} "
            f"({run.trips})"
        )
    return lines


async def main_async(step: float) -> int:
    verdict = ""
    for outdoor in ("winter", "spring"):
        runs = {p: await one_day(outdoor, p, step) for p in POLICIES}
        for line in table(outdoor, runs):
            print(line, flush=True)
        baseline = runs["reject"]
        total = {p: sum(r.displaced(baseline).values()) for p, r in runs.items()}
        best = max(FIXED, key=lambda p: total[p])
        wall = sum(r.seconds for r in runs.values())
        print(
            f"{outdoor}: blueprint {total['blueprint']:.1f} kWh vs best fixed "
            f"{total[best]:.1f} kWh ({POLICIES[best]}); tenant sharing {total['tenants']:.1f} "
            f"kWh; exhaust limit {EXHAUST_LIMIT_C:g} C; {wall:.0f} s wall-clock\n",
            flush=True,
        )
        if outdoor == "winter":
            blueprint = runs["blueprint"]
            verdict = (
                f"displaced heating: blueprint {total['blueprint']:.1f} kWh, best fixed "
                f"{total[best]:.1f} kWh ({POLICIES[best]}); overheated space minutes: "
                f"{sum(blueprint.overheated_min.values()):.0f}; max exhaust: "
                f"{blueprint.max_exhaust_c:.1f} C"
            )
    print(verdict)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=120.0, help="poll and time step, s")
    args = parser.parse_args()
    return asyncio.run(main_async(args.step))


if __name__ == "__main__":
    sys.exit(main())
