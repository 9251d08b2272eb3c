"""Every simulator fault on every device of the demo site it applies to, injected mid-poll.

For each case: no traceback and no error line from microdc (but Home Assistant's coordinator's
one "Error fetching" line per device outage, its convention for unavailability); the entities
whose data the fault takes away are unavailable after one poll, and only those; all are back
one poll after the fault clears, without a reload; the energy totals (device counters, heat
ledger, site IT energy) never decrease and end equal to the simulator's ground truth.

CI runs one device per fault (about a minute); MICRODC_FAULT_MATRIX_FULL=1 runs every case
(benchmarks/reliability.py does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from typing import Any

from homeassistant.config_entries import ConfigEntryState
import pytest

from tests.ha.bacnet_site import wait_for
from tests.ha.demo_harness import (
    BACNET_ID,
    BACNET_NAME,
    METER_RESOLUTION_WH,
    MODBUS_DEVICES,
    PDU_RESOLUTION_WH,
    DemoSite,
    microdc_problems,
    subentry_of,
)

FULL = os.environ.get("MICRODC_FAULT_MATRIX_FULL") == "1"
VALVES = ("stockroom", "tenant_a", "tenant_b", "shared_loop", "dry_cooler")
# A point of each Modbus device that the stuck-sensor fault freezes (not a counter: a stuck
# counter's catch-up afterwards is real energy).
STUCK_POINT = {
    "rack_pdu": "active_power",
    "ups": "battery_charge",
    "environment": "inlet_temperature",
    "heat_meter": "supply_temperature",
}
# Points with a NaN (a sentinel, or an IEEE NaN for float points); the UPS has none.
NAN_POINT = {"rack_pdu": "active_power", "environment": "inlet_temperature", "heat_meter": "flow"}


@dataclass(frozen=True)
class Case:
    """One fault on one device, and what it takes away."""

    fault: str
    device: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    silences: tuple[str, ...] = ()  # devices whose every entity goes unavailable
    points: tuple[tuple[str, str], ...] = ()  # (device, point key) entities unavailable
    ci: bool = False

    @property
    def id(self) -> str:
        extra = "-".join(str(v) for v in self.params.values())
        return "-".join(str(p) for p in (self.fault, self.device, extra) if p not in (None, ""))


def cases() -> list[Case]:
    every: list[Case] = [Case("mains_outage", ci=True)]
    for device in (*MODBUS_DEVICES, BACNET_NAME):
        ci = device in ("ups", BACNET_NAME)
        every.append(Case("device_offline", device, silences=(device,), ci=ci))
        delay = 2.0 if device == BACNET_NAME else 1.0  # beyond the 1 s / 0.5 s timeouts
        ci = device in ("environment", BACNET_NAME)
        every.append(Case("slow_replies", device, {"delay_s": delay}, silences=(device,), ci=ci))
    for device in MODBUS_DEVICES:
        # Code 4: the device itself fails (not an address the profile got wrong).
        params = {"address": 0, "count": 65536, "code": 4}
        ci = device == "heat_meter"
        every.append(Case("exception_replies", device, params, silences=(device,), ci=ci))
        ci = device == "rack_pdu"
        every.append(Case("sensor_stuck", device, {"point": STUCK_POINT[device]}, ci=ci))
    for device, point in NAN_POINT.items():
        ci = device == "heat_meter"
        every.append(Case("sensor_nan", device, {"point": point}, points=((device, point),), ci=ci))
    for device in ("rack_pdu", "heat_meter"):
        every.append(Case("counter_near_wrap", device, {"point": "energy", "margin": 30}, ci=True))
    every += [Case("valve_stuck", valve, ci=valve == "stockroom") for valve in VALVES]
    every += [Case("pump_failure", ci=True), Case("cooling_failure", "dry_cooler", ci=True)]
    every += [
        Case("cooling_failure", "room"),
        Case("gateway_silent", silences=tuple(MODBUS_DEVICES), ci=True),
        Case("bacnet_restart", ci=True),
    ]
    return every


CASES = [c for c in cases() if FULL or c.ci]


class Totals:
    """Every total after every poll: never lower than before."""

    def __init__(self, site: DemoSite, wrapping: set[str]) -> None:
        self.site = site
        self.wrapping = wrapping  # device counters the fault makes wrap: the device's own value
        self.last = site.totals()

    def check(self) -> None:
        now = self.site.totals()
        for key, value in now.items():
            if key in self.last and key not in self.wrapping:
                assert value >= self.last[key] - 1e-9, f"{key} fell {self.last[key]} -> {value}"
        self.last = {**self.last, **now}


def expected_missing(site: DemoSite, case: Case, baseline: set[str]) -> set[str]:
    entities = site.device_entities()
    silenced = {subentry_of(d) for d in case.silences}
    missing = {e for e, subentry in entities.items() if subentry in silenced}
    missing |= {site.entity_of(device, key) for device, key in case.points}
    return missing & baseline


async def run_case(site: DemoSite, case: Case) -> None:
    """Inject mid-poll, hold, clear; check availability after each poll and the totals."""
    sim = site.sim
    await site.advance()
    await site.advance()
    baseline = site.available()
    runtime = site.entry.runtime_data
    assert {s for e, s in site.device_entities().items() if e in baseline} == {
        *MODBUS_DEVICES,
        BACNET_ID,
    }
    wrapping = set()
    if case.fault == "counter_near_wrap":
        wrapping.add(site.entity_of(case.device, "energy"))
    totals = Totals(site, wrapping)
    truth_before, heat_before, it_before = await site.truth(), totals.last, totals.last

    async def inject() -> None:
        await sim.async_inject_fault(case.fault, case.device, **case.params)

    await site.advance(during=inject)
    totals.check()
    missing = expected_missing(site, case, baseline)
    assert bool(missing) == bool(case.silences or case.points), case.id
    for _ in range(3):  # unavailable from the first full poll on, and steadily so
        await site.advance()
        totals.check()
        assert site.available() == baseline - missing, case.id

    await sim.async_clear_faults()
    await site.advance()
    totals.check()
    assert site.available() == baseline, f"{case.id}: not back one poll after the fault"
    await site.advance()
    totals.check()
    assert site.available() == baseline
    assert site.entry.state is ConfigEntryState.LOADED
    assert site.entry.runtime_data is runtime  # no reload

    truth = await site.truth()
    heat = site.heat.totals.captured_wh - heat_before["ledger.captured_wh"]
    it = site.heat.it_total_wh - it_before["ledger.it_wh"]
    assert heat == pytest.approx(
        truth["heat"] - truth_before["heat"], abs=2 * METER_RESOLUTION_WH
    ), case.id
    assert it == pytest.approx(truth["it"] - truth_before["it"], abs=2 * PDU_RESOLUTION_WH), case.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_fault_survived(demo: DemoSite, case: Case, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    await run_case(demo, case)
    problems = microdc_problems(caplog.records, allowed_outages=len(case.silences))
    assert not problems, [f"{r.levelname} {r.name}: {r.getMessage()}" for r in problems]


async def cov_settled(demo: DemoSite, *, expect_all: bool = True) -> None:
    """Wait for the controller's COV subscriptions: they run in a task of their own, after
    the poll. One that timed out (a loaded machine) is tried again at the next poll."""
    device = demo.entry.runtime_data.devices[BACNET_ID].device
    for _ in range(5):
        await wait_for(lambda: device._subscribe_task is None, "the COV subscriptions answered")
        if not expect_all or not device._unsubscribed():
            return
        await demo.advance()
    raise AssertionError(f"objects never subscribed: {device._unsubscribed()}")


async def test_a_full_cov_table_falls_back_to_polling(
    demo: DemoSite, caplog: pytest.LogCaptureFixture
) -> None:
    """The controller restarts with room for 3 subscriptions: the rest are served by polls."""
    sim = demo.sim
    await demo.advance()
    device = demo.entry.runtime_data.devices[BACNET_ID].device
    objects = len(device.points)
    await cov_settled(demo)
    assert (await sim.async_state())["bacnet"]["cov_subscriptions"] == objects
    baseline = demo.available()
    await sim.async_request("POST", "/bacnet", {"cov_table_size": 3})

    async def restart() -> None:
        await sim.async_inject_fault("bacnet_restart")

    await demo.advance(during=restart)
    for _ in range(3):
        await demo.advance()
    await wait_for(lambda: not device.client._resubscribing, "the re-subscriptions answered")
    await cov_settled(demo, expect_all=False)
    state = (await sim.async_state())["bacnet"]
    assert state["cov_subscriptions"] == 3
    assert state["cov_refusals"] >= objects - 3
    assert demo.available() == baseline
    # A value whose object could not subscribe still follows the controller, by poll.
    outdoor = demo.entity_of(BACNET_NAME, "analog-input_4")
    before = float(demo.hass.states.get(outdoor).state)  # type: ignore[union-attr]
    await sim.async_advance(4 * 3600)
    await demo.advance()
    shown = float(demo.hass.states.get(outdoor).state)  # type: ignore[union-attr]
    served = next(
        o["present_value"]
        for o in (await sim.async_state())["bacnet"]["objects"]
        if o["object"] == "analog-input,4"
    )
    assert shown != before
    assert shown == pytest.approx(served, abs=0.01)
    assert not microdc_problems(caplog.records)
