"""A poll tells the entities of the points that changed, not every entity of the device.

A device hands an unchanged point the same Reading again; the coordinator then calls only the
listeners whose points' Readings changed, and the device-wide ones (heat accounting, the
router). When the device stops or starts answering, every listener is told.
"""

from __future__ import annotations

from collections import Counter

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.lib.protocols.modbus import ModbusConnectionPool
from tests.simulator_process import SimulatorProcess


async def test_a_poll_tells_only_the_listeners_of_what_changed(
    hass: HomeAssistant, simulator: SimulatorProcess, socket_enabled: None
) -> None:
    hass.data[MODBUS_POOL] = ModbusConnectionPool()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Shop",
        unique_id="shop",
        data={CONF_SITE_NAME: "Shop"},
        subentries_data=[
            {
                "subentry_id": "pdu",
                "subentry_type": SUBENTRY_MODBUS_DEVICE,
                "title": "PDU",
                "unique_id": f"{simulator.host}:{simulator.modbus_port}:1",
                "data": {
                    "host": simulator.host,
                    "port": simulator.modbus_port,
                    "framing": "tcp",
                    "unit_id": 1,
                    "profile": "demo_rack_pdu",
                    "polling": {"scan_interval": 10, "timeout": 2.0, "max_gap": 16},
                },
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data.devices["pdu"]
    told: Counter[str] = Counter()
    for name, context in (
        ("firmware", frozenset({"firmware_version"})),
        ("energy", frozenset({"energy"})),
        ("device", None),
    ):
        entry.async_on_unload(
            coordinator.async_add_listener(lambda name=name: told.update([name]), context)
        )
    try:
        await coordinator.async_refresh()  # nothing moved: the simulator's clock holds still
        assert told == Counter({"device": 1})
        await simulator.async_advance(600)  # ten minutes of load: the energy counter rises
        await coordinator.async_refresh()
        assert told == Counter({"device": 2, "energy": 1})
        await simulator.async_inject_fault("device_offline", device="rack_pdu")
        await coordinator.async_refresh()
        assert not coordinator.last_update_success
        assert told == Counter({"device": 3, "energy": 2, "firmware": 1})
        await simulator.async_clear_faults()
        await coordinator.async_refresh()
        assert coordinator.last_update_success
        assert told == Counter({"device": 4, "energy": 3, "firmware": 2})
    finally:
        await simulator.async_clear_faults()
        assert await hass.config_entries.async_unload(entry.entry_id)
