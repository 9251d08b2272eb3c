"""Diagnostics and logs of the whole demo site give away no host, port, device instance or name.

The diagnostics dump is walked entirely (keys and values); the log is read over a run with
faults (a device offline, the gateway silent, the controller restarting).
"""

from __future__ import annotations

from collections.abc import Iterator
import json
import logging
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from custom_components.microdc.diagnostics import async_get_config_entry_diagnostics
from tests.ha.demo_harness import BACNET_NAME, INSTANCE, SITE_NAME, DemoSite
from tests.simulator_process import SimulatorProcess


def _secrets(sim: SimulatorProcess) -> list[str]:
    return [
        sim.host,
        f":{sim.modbus_port}",
        str(sim.modbus_port),
        str(sim.bacnet_port),
        str(INSTANCE),
        SITE_NAME,
        BACNET_NAME,
    ]


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(data, list | tuple | set | frozenset):
        for value in data:
            yield from _strings(value)
    else:
        yield str(data)


async def test_diagnostics_redact_every_host_port_instance_and_name(
    hass: HomeAssistant,
    module_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = DemoSite(hass, module_simulator, monkeypatch)
    await site.load()
    try:
        await site.advance()
        dump = await async_get_config_entry_diagnostics(hass, site.entry)
        json.dumps(dump)  # it is a download: it must serialise
        leaks = {
            secret: text
            for text in _strings(dump)
            for secret in _secrets(module_simulator)
            if secret in text
        }
        assert not leaks, leaks
        assert len(list(_strings(dump))) > 200  # the walk saw the whole dump
    finally:
        await site.unload()


async def test_no_host_or_name_in_a_log_line_above_debug(
    hass: HomeAssistant,
    module_simulator: SimulatorProcess,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    sim = module_simulator
    site = DemoSite(hass, sim, monkeypatch)
    await site.load()
    try:
        await site.advance()
        for fault, device in (
            ("device_offline", "ups"),
            ("gateway_silent", None),
            ("device_offline", BACNET_NAME),
            ("bacnet_restart", None),
        ):
            await sim.async_inject_fault(fault, device)
            await site.advance()
            await site.advance()
            await sim.async_clear_faults()
            await site.advance()
            await site.advance()
    finally:
        await site.unload()
    lines = [
        f"{r.levelname} {r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("custom_components.microdc") and r.levelno > logging.DEBUG
    ]
    assert lines  # outages were logged
    # Names are how a person recognises the device in the log; network locations are not.
    secrets = [s for s in _secrets(sim) if s not in (SITE_NAME, BACNET_NAME)]
    leaks = [line for line in lines for secret in secrets if secret in line]
    assert not leaks, leaks
