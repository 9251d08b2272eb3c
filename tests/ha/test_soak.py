"""A simulated week of the demo site with random faults and restarts: nothing leaks.

Skipped unless MICRODC_SOAK_DAYS is set (benchmarks/reliability.py sets it and reads the
report written to MICRODC_SOAK_REPORT). Measured before and after, each time with the site
loaded and polled: resident memory, the process's open sockets, asyncio tasks and the
event loop's scheduled timers (bacpypes3's included).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Generator
import gc
import json
import logging
import os
import random

from homeassistant.core import HomeAssistant
import psutil
import pytest

from tests.ha.demo_harness import BACNET_NAME, MODBUS_DEVICES, DemoSite, microdc_problems
from tests.simulator_process import SimulatorProcess, start_simulator

DAYS = float(os.environ.get("MICRODC_SOAK_DAYS", "0"))
STEP_S = 3600.0  # a poll every simulated hour: a week in about three minutes
FAULTS = [("device_offline", d) for d in (*MODBUS_DEVICES, BACNET_NAME)] + [
    ("gateway_silent", None),
    ("bacnet_restart", None),
    ("mains_outage", None),
    ("pump_failure", None),
    ("slow_replies", "environment"),
]

pytestmark = pytest.mark.skipif(not DAYS, reason="a soak runs from benchmarks/reliability.py")


@pytest.fixture(scope="module")
def soak_simulator() -> Generator[SimulatorProcess]:
    sim = start_simulator(speed=0.0, seed=3)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def _measure() -> dict[str, float]:
    gc.collect()
    process = psutil.Process()
    loop = asyncio.get_running_loop()
    return {
        "rss_mib": process.memory_info().rss / 2**20,
        # Objects the collector tracks: a leak of Python objects grows these; memory the
        # allocator keeps after a peak (resident, not in use) does not.
        "objects": len(gc.get_objects()),
        "types": dict(Counter(type(o).__qualname__ for o in gc.get_objects()).most_common(40)),
        "sockets": len(process.net_connections(kind="all")),
        "fds": process.num_fds(),
        "tasks": len(asyncio.all_tasks()),
        # asyncio keeps them here, cancelled ones too until their time comes (a finished
        # request's timeout, say): count the live ones, which a leak would grow.
        "timers": sum(not h.cancelled() for h in loop._scheduled),  # type: ignore[attr-defined]
        "cancelled_timers": sum(h.cancelled() for h in loop._scheduled),  # type: ignore[attr-defined]
    }


@pytest.mark.timeout(600)  # a week at speed outlasts the suite's 120 s per test
async def test_a_week_with_faults_and_restarts(
    hass: HomeAssistant,
    soak_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The capture keeps every record it takes, with the tracebacks and frames of the faults'
    # debug lines: a week of them grew the test's memory by some 14 MiB that no site holds.
    # Warnings and errors are what microdc_problems judges (microdc logs tracebacks at error).
    caplog.set_level(logging.WARNING)
    rng = random.Random(15)
    sim = soak_simulator
    site = DemoSite(hass, sim, monkeypatch)
    await site.load()
    for _ in range(5):
        await site.advance(STEP_S)
    before = _measure()
    faults = restarts = problems = logged = 0
    steps = int(DAYS * 86400 / STEP_S)
    middle: dict[str, float] | None = None
    for step in range(steps):
        if step == steps // 2:
            # Halfway: growth that levels off (caches filling) shows less in the second half
            # than in the first; a leak grows alike in both.
            middle = _measure()
        roll = rng.random()
        if roll < 0.1:
            fault, device = rng.choice(FAULTS)
            params = {"delay_s": 1.0} if fault == "slow_replies" else {}
            await sim.async_inject_fault(fault, device, **params)
            faults += 1
        elif roll < 0.13:
            await site.unload()
            await site.down(rng.choice([60.0, 120.0]))
            await site.load()
            restarts += 1
        await site.advance(STEP_S)
        if step % 3 == 2:
            await sim.async_clear_faults()
        if step % 24 == 23:
            # A day's log is judged, then let go: the capture would otherwise hold every record
            # of the week, memory no site holds, and the soak measures the site's.
            problems += len(microdc_problems(caplog.records, allowed_outages=10**6))
            logged += len(caplog.records)
            caplog.clear()
    await sim.async_clear_faults()
    for _ in range(5):
        await site.advance(STEP_S)
    after = _measure()
    await site.unload()
    report = {
        "days": DAYS,
        "faults": faults,
        "restarts": restarts,
        "before": before,
        "middle": middle,
        "after": after,
        "log_records": logged + len(caplog.records),
        "problems": problems + len(microdc_problems(caplog.records, allowed_outages=10**6)),
    }
    if path := os.environ.get("MICRODC_SOAK_REPORT"):
        with open(path, "w", encoding="utf-8") as out:  # noqa: ASYNC230 - tiny, at the end
            json.dump(report, out)
    assert after["sockets"] <= before["sockets"]
    assert after["tasks"] <= before["tasks"] + 2
