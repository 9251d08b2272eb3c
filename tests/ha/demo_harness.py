"""The whole demo site in Home Assistant (four Modbus units and the BACnet controller), with
one clock for the simulator, Home Assistant's timers and the heat ledgers.

Used by the fault matrix, the restart property test, the security tests and
benchmarks/reliability.py; tests/ha/conftest.py holds their fixtures (a simulator of each
module's own, and the loaded demo site). The simulator holds still (--speed 0): ``advance``
moves simulated time, fires Home Assistant's timers to the same instant and lets the polls that
fall due run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import logging
from typing import Any
from unittest.mock import patch

from bacpypes3.appservice import SSM  # type: ignore[import-untyped]
from homeassistant.config_entries import ConfigEntryState, ConfigSubentryData
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import get_scheduled_timer_handles
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.microdc import heat_accounting
from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.device_builder import MODBUS_POOL
from custom_components.microdc.heat_accounting import SiteHeatAccounting
from custom_components.microdc.lib.protocols.modbus import ModbusConnectionPool
from tests.ha.bacnet_site import BACNET_OPTIONS, INSTANCE, device_subentry
from tests.simulator_process import SimulatorProcess

POLL_S = 10
ENTRY_ID = "demosite"
SITE_NAME = "Corner Shop"
BACNET_ID = "hvac"
BACNET_NAME = "hvac-controller"  # the simulator's name for it (faults' device)
# The simulator's Modbus device name -> (unit id, profile); the subentry id is the name.
MODBUS_DEVICES = {
    "rack_pdu": (1, "demo_rack_pdu"),
    "ups": (2, "demo_ups"),
    "environment": (3, "demo_environment"),
    "heat_meter": (4, "demo_heat_meter"),
}
DEVICES = (*MODBUS_DEVICES, BACNET_NAME)
METER_RESOLUTION_WH = 10.0  # the demo heat meter counts hundredths of a kWh
PDU_RESOLUTION_WH = 1.0  # the demo PDU counts Wh
# Short timeouts: a silent device is noticed within one poll, and a poll never outlasts the
# interval. Reconnects back off from 50 ms (1 s by default) to keep outages short.
MODBUS_TIMEOUT_S = 0.5


def _is_request_timeout(handle: asyncio.TimerHandle) -> bool:
    """A request's real-time timeout: asyncio.timeout's (microdc's own, pymodbus's) or a
    bacpypes3 transaction's APDU timer."""
    owner = getattr(handle._callback, "__self__", None)
    return isinstance(owner, asyncio.Timeout | SSM)


def jump_clock(hass: HomeAssistant, when: datetime) -> None:
    """Run Home Assistant's timers due by ``when``, but not the timeouts of requests in flight.

    async_fire_time_changed runs every loop timer due within the jump. A request already on
    its way when the clock jumps (a poll that a COV notification asked for, a re-subscription
    after an I-Am) would be timed out at once, with no answer missing; on a site it has its
    real seconds to answer, and so it has here.
    """

    def clock_timers(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
        return [h for h in get_scheduled_timer_handles(loop) if not _is_request_timeout(h)]

    with patch(
        "pytest_homeassistant_custom_component.common.get_scheduled_timer_handles",
        clock_timers,
    ):
        async_fire_time_changed(hass, when)


def _modbus(sim: SimulatorProcess, name: str) -> ConfigSubentryData:
    unit, profile = MODBUS_DEVICES[name]
    return ConfigSubentryData(
        subentry_id=name,
        subentry_type=SUBENTRY_MODBUS_DEVICE,
        title=name.replace("_", " ").title(),
        unique_id=f"{sim.host}:{sim.modbus_port}:{unit}",
        data={
            "host": sim.host,
            "port": sim.modbus_port,
            "framing": "tcp",
            "unit_id": unit,
            "profile": profile,
            "polling": {"scan_interval": POLL_S, "timeout": MODBUS_TIMEOUT_S, "max_gap": 16},
        },
    )


def demo_entry(sim: SimulatorProcess, entry_id: str = ENTRY_ID) -> MockConfigEntry:
    """The demo site as a finished set of flows would store it."""
    bacnet = device_subentry(sim, scan_interval_s=POLL_S)
    bacnet["subentry_id"] = BACNET_ID
    return MockConfigEntry(
        domain=DOMAIN,
        entry_id=entry_id,
        title=SITE_NAME,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: SITE_NAME},
        options=BACNET_OPTIONS,
        subentries_data=[*(_modbus(sim, name) for name in MODBUS_DEVICES), bacnet],
    )


def subentry_of(device: str) -> str:
    """The subentry id of a simulator device name."""
    return BACNET_ID if device == BACNET_NAME else device


class DemoSite:
    """A loaded demo site and one clock for everything."""

    def __init__(
        self, hass: HomeAssistant, sim: SimulatorProcess, patch: Any, entry_id: str = ENTRY_ID
    ) -> None:
        """patch: pytest's monkeypatch (the ledgers' clock follows the simulated one)."""
        self.hass = hass
        self.sim = sim
        self.entry = demo_entry(sim, entry_id)
        self.start = dt_util.utcnow()
        self.ahead = timedelta()
        patch.setattr(heat_accounting, "utc_timestamp", self.timestamp)

    def timestamp(self) -> float:
        return (self.start + self.ahead).timestamp()

    async def load(self) -> None:
        hass = self.hass
        hass.data[MODBUS_POOL] = ModbusConnectionPool(backoff_initial=0.05, backoff_max=0.5)
        if hass.config_entries.async_get_entry(self.entry.entry_id) is None:
            self.entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(self.entry.entry_id)
        await hass.async_block_till_done()
        assert self.entry.state is ConfigEntryState.LOADED

    async def unload(self) -> None:
        if self.entry.state is ConfigEntryState.LOADED:
            assert await self.hass.config_entries.async_unload(self.entry.entry_id)
            await self.hass.async_block_till_done()

    async def down(self, seconds: float) -> None:
        """Home Assistant is down: simulated time passes, nothing polls."""
        await self.sim.async_advance(seconds)
        self.ahead += timedelta(seconds=seconds)

    async def remove(self) -> None:
        """Remove the site: its Store and entities go with it, and the registry forgets them.

        The harness's subentry ids are fixed, so the next site of the same test (a property
        test's next example) has the same unique ids, and Home Assistant would bring back the
        removed site's entities as its own: real sites never share subentry ids, and a
        registry restoring another entry's entities mid-removal raised KeyError in its index.
        """
        await self.hass.async_block_till_done(wait_background_tasks=True)
        await self.hass.config_entries.async_remove(self.entry.entry_id)
        await self.hass.async_block_till_done()
        registry = er.async_get(self.hass)
        for key, deleted in list(registry.deleted_entities.items()):
            if deleted.config_entry_id in (None, self.entry.entry_id):
                del registry.deleted_entities[key]

    async def reload(self) -> None:
        assert await self.hass.config_entries.async_reload(self.entry.entry_id)
        await self.hass.async_block_till_done()

    async def advance(
        self, seconds: float = POLL_S, during: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        """Time passes for the simulator and Home Assistant; the polls that fall due run.

        during: awaited after the timers fired and before the polls are waited for, so it
        happens while they are in flight (a fault injected mid-poll).
        """
        await self.sim.async_advance(seconds)
        self.ahead += timedelta(seconds=seconds)
        jump_clock(self.hass, self.start + self.ahead)
        if during is not None:
            await during()
        await self.hass.async_block_till_done(wait_background_tasks=True)

    @property
    def heat(self) -> SiteHeatAccounting:
        heat = self.entry.runtime_data.heat
        assert heat is not None
        return heat

    def device_entities(self) -> dict[str, str]:
        """entity id -> subentry id, for every enabled entity of a device."""
        return {
            e.entity_id: e.config_subentry_id or ""
            for e in er.async_entries_for_config_entry(er.async_get(self.hass), self.entry.entry_id)
            if e.disabled_by is None and e.config_subentry_id is not None
        }

    def available(self) -> set[str]:
        """The device entities that show a state."""
        return {
            entity_id
            for entity_id in self.device_entities()
            if (state := self.hass.states.get(entity_id)) is not None
            and state.state != STATE_UNAVAILABLE
        }

    def entity_of(self, device: str, key: str) -> str:
        for platform in ("sensor", "binary_sensor"):
            unique_id = f"{subentry_of(device)}_{key}"
            if entity_id := er.async_get(self.hass).async_get_entity_id(
                platform, DOMAIN, unique_id
            ):
                return entity_id
        raise AssertionError(f"no entity {device}.{key}")

    def totals(self) -> dict[str, float]:
        """Every energy total of the site (kWh as shown, Wh in the ledgers)."""
        totals: dict[str, float] = {
            "ledger.captured_wh": self.heat.totals.captured_wh,
            "ledger.it_wh": self.heat.it_total_wh,
        }
        registry = er.async_get(self.hass)
        for entry in er.async_entries_for_config_entry(registry, self.entry.entry_id):
            if (entry.capabilities or {}).get("state_class") != "total_increasing":
                continue
            state = self.hass.states.get(entry.entity_id)
            if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
                continue
            totals[entry.entity_id] = float(state.state)
        return totals

    async def truth(self) -> dict[str, float]:
        """The simulator's ground truth in Wh."""
        ledgers = (await self.sim.async_state())["ledgers"]
        return {"heat": float(ledgers["heat_to_loop_wh"]), "it": float(ledgers["it_energy_wh"])}


def microdc_problems(
    records: list[logging.LogRecord], allowed_outages: int = 0
) -> list[logging.LogRecord]:
    """microdc's log records that should not be there: any traceback; any error except Home
    Assistant's coordinator's one "Error fetching <device> data" line per outage (its
    convention for a device becoming unavailable, logged once, then "recovered" at info)."""
    problems = []
    outages = 0
    for record in records:
        if not record.name.startswith("custom_components.microdc"):
            continue
        if record.exc_info:
            problems.append(record)
        elif record.levelno >= logging.ERROR:
            if record.getMessage().startswith(("Error fetching", "Timeout fetching")):
                outages += 1
                if outages <= allowed_outages:
                    continue
            problems.append(record)
    return problems


__all__ = ["INSTANCE", "DemoSite"]
