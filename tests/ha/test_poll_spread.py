"""Many devices on one scan interval are polled spread over it, not in one burst.

Home Assistant starts each coordinator's schedule from the second it was set up in; a plant
room's devices all set up in the same second would then be read, decoded and written together
every interval. The site spreads them: each polls in its own second of the interval.
"""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.coordinator import SPREAD_FROM_DEVICES
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.lib.protocols.modbus import ModbusConnectionPool
from tests.simulator_process import SimulatorProcess

SCAN_S = 10


def _site(sim: SimulatorProcess, devices: int) -> MockConfigEntry:
    """A site of `devices` readers of the demo PDU, as a rack of identical PDUs would be."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Plant room",
        unique_id="plant_room",
        data={CONF_SITE_NAME: "Plant room"},
        subentries_data=[
            {
                "subentry_id": f"pdu_{index}",
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": f"PDU {index}",
                "unique_id": f"{sim.host}:{sim.modbus_port}:1:{index}",
                "data": {
                    "host": sim.host,
                    "port": sim.modbus_port,
                    "framing": "tcp",
                    "unit_id": 1,
                    "profile": "demo_rack_pdu",
                    "polling": {"scan_interval": SCAN_S, "timeout": 2.0, "max_gap": 16},
                },
            }
            for index in range(devices)
        ],
    )


async def _poll_times(
    hass: HomeAssistant, sim: SimulatorProcess, devices: int
) -> dict[str, list[float]]:
    """Each device's first two poll times (seconds since set-up) after the set-up's own.

    Home Assistant schedules polls on the event loop's monotonic clock (loop.call_at). The
    test runs that clock ahead of real time, a tenth of a second at a time, so the loop runs
    what falls due; real time still passes underneath, for the sockets' own waits.
    """
    hass.data[MODBUS_POOL] = ModbusConnectionPool()
    entry = _site(sim, devices)
    entry.add_to_hass(hass)
    real_time = hass.loop.time
    ahead = [0.0]
    start = real_time()
    polled: dict[str, list[float]] = {}
    with patch.object(hass.loop, "time", lambda: real_time() + ahead[0]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        for coordinator in entry.runtime_data.devices.values():
            title = coordinator.subentry.title
            polled[title] = []

            def _updated(title: str = title) -> None:
                polled[title].append(hass.loop.time() - start)

            entry.async_on_unload(coordinator.async_add_listener(_updated))
        while hass.loop.time() - start < 3 * SCAN_S:
            ahead[0] += 0.1
            await hass.async_block_till_done(wait_background_tasks=True)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    return {title: [t for t in times if t > SCAN_S / 2][:2] for title, times in polled.items()}


async def test_many_devices_poll_each_in_its_own_second(
    hass: HomeAssistant, simulator: SimulatorProcess, socket_enabled: None
) -> None:
    """Eight devices on a 10 s interval: spread over it, each once per interval, phase kept."""
    polled = await _poll_times(hass, simulator, SPREAD_FROM_DEVICES)
    assert all(len(times) == 2 for times in polled.values()), polled
    firsts = sorted(times[0] for times in polled.values())
    # Home Assistant alone would put all eight within half a second.
    busiest = max(sum(1 for t in firsts if second <= t < second + 1) for second in firsts)
    assert busiest <= 2, polled
    assert firsts[-1] - firsts[0] > SCAN_S / 2, polled
    assert all(abs(later - first - SCAN_S) < 1.0 for first, later in polled.values()), polled


async def test_a_few_devices_poll_as_home_assistant_schedules_them(
    hass: HomeAssistant, simulator: SimulatorProcess, socket_enabled: None
) -> None:
    """Below the threshold nothing moves: a small shop's devices poll together."""
    polled = await _poll_times(hass, simulator, SPREAD_FROM_DEVICES - 1)
    assert all(len(times) == 2 for times in polled.values()), polled
    firsts = [times[0] for times in polled.values()]
    assert max(firsts) - min(firsts) < 1.5, polled
