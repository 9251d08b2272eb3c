"""Fixtures shared by the tests of the whole demo site (tests/ha/demo_harness.py's DemoSite)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

from homeassistant.core import HomeAssistant
import pytest

from tests.ha.demo_harness import DemoSite
from tests.simulator_process import SimulatorProcess, start_simulator


@pytest.fixture(scope="module")
def module_simulator() -> Generator[SimulatorProcess]:
    """A simulator of the test module's own, time held still (--speed 0).

    Not the session's ``simulator``: what a module does to it outlives DELETE /faults (counter
    jumps, written points), so no other module's tests may see it.
    """
    sim = start_simulator(speed=0.0)
    try:
        yield sim
    finally:
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


@pytest.fixture
async def demo(
    hass: HomeAssistant,
    module_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncGenerator[DemoSite]:
    """The demo site loaded on the module's simulator; its faults and COV limit undone after."""
    site = DemoSite(hass, module_simulator, monkeypatch)
    await site.load()
    try:
        yield site
    finally:
        await module_simulator.async_clear_faults()
        await module_simulator.async_request("POST", "/bacnet", {"cov_table_size": None})
        await site.unload()
