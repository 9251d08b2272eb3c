"""Host names in the BACnet device flow and at site start, against the simulator on 127.0.0.1.

``localhost`` resolves through the system's name service (the hosts file) to 127.0.0.1;
``.invalid`` is reserved (RFC 2606) and never resolves.
"""

from __future__ import annotations

import socket
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest

from custom_components.microdc.const import DOMAIN
from custom_components.microdc.device_builder import HOST_UNRESOLVED
from custom_components.microdc.lib.devices.bacnet_config import (
    BacnetDeviceConfig,
    device_unique_id,
)
from custom_components.microdc.lib.protocols import bacnet as transport
from custom_components.microdc.lib.protocols.bacnet_address import (
    InvalidAddressError,
    UnresolvedHostError,
    async_resolve,
)
from tests.ha.bacnet_site import (
    INSTANCE,
    bacnet_coordinators,
    coordinator_of,
    device_subentry,
    entity_id_of,
    setup_site,
    state_of,
    wait_for,
)
from tests.ha.test_bacnet_flow import _configure, _empty_site, _start
from tests.simulator_process import SimulatorProcess

pytestmark = pytest.mark.usefixtures("socket_enabled")

UNKNOWN_HOST = "no-such-controller.invalid"


@pytest.fixture(autouse=True)
def _name_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a real name service says of a name it does not know.

    The test harness refuses every lookup but localhost's with its own RuntimeError; this
    answers ``.invalid`` names as a resolver does (no simulator can play DNS).
    """
    lookup = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
async def _network_released() -> Any:
    yield
    assert transport._shared is None, "the BACnet/IP socket is still open"


async def test_resolve_forms() -> None:
    assert await async_resolve("192.168.10.20") == "192.168.10.20:47808"
    assert await async_resolve(" 192.168.10.20:47809 ") == "192.168.10.20:47809"
    assert await async_resolve("localhost:47809") == "127.0.0.1:47809"
    assert await async_resolve("192.168.10.255/24:47808") == "192.168.10.255/24:47808"
    for bad in ("not an address", "300.1.2.3", "host:port", "host:70000", ":47808", ""):
        with pytest.raises(InvalidAddressError):
            await async_resolve(bad)
    with pytest.raises(UnresolvedHostError):
        await async_resolve(UNKNOWN_HOST)


async def test_manual_entry_by_host_name_keeps_the_name(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(hass, result, {"address": UNKNOWN_HOST, "device_instance": INSTANCE})
    assert result["errors"] == {"address": "cannot_resolve"}
    typed = f"localhost:{simulator.bacnet_port}"
    result = await _configure(hass, result, {"address": typed, "device_instance": INSTANCE})
    assert result["step_id"] == "filter"
    result = await _configure(hass, result, {"object_types": ["analog-input"]})
    result = await _configure(hass, result, {"objects": ["analog-input,1"], "polling": {}})
    result = await _configure(hass, result, {})  # no roles
    result = await _configure(hass, result, {"name": "Plant"})
    config = BacnetDeviceConfig.from_data(next(iter(entry.subentries.values())).data)
    assert config.address == typed


async def test_directed_discovery_by_host_name(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "discover")
    result = await _configure(hass, result, {"target": UNKNOWN_HOST})
    assert result["errors"] == {"target": "cannot_resolve"}
    result = await _configure(hass, result, {"target": "bad host!"})
    assert result["errors"] == {"target": "invalid_address"}
    result = await _configure(hass, result, {"target": f"localhost:{simulator.bacnet_port}"})
    assert result["step_id"] == "pick"
    (option,) = result["data_schema"].schema["device"].config["options"]
    assert option["value"] == f"{INSTANCE}@127.0.0.1:{simulator.bacnet_port}"
    result = await _configure(hass, result, {"device": option["value"]})
    result = await _configure(hass, result, {"object_types": ["analog-input"]})
    result = await _configure(hass, result, {"objects": ["analog-input,1"], "polling": {}})
    result = await _configure(hass, result, {})  # no roles
    result = await _configure(hass, result, {"name": "Plant"})
    config = BacnetDeviceConfig.from_data(next(iter(entry.subentries.values())).data)
    assert config.address == f"localhost:{simulator.bacnet_port}"


async def test_reconfigure_to_a_host_name(hass: HomeAssistant, simulator: SimulatorProcess) -> None:
    entry = await setup_site(hass, device_subentry(simulator))
    subentry_id = next(iter(entry.subentries))
    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"address": UNKNOWN_HOST, "polling": {}}
    )
    assert result["errors"] == {"address": "cannot_resolve"}
    typed = f"localhost:{simulator.bacnet_port}"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"address": typed, "polling": {}}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert BacnetDeviceConfig.from_data(entry.subentries[subentry_id].data).address == typed
    await hass.config_entries.async_unload(entry.entry_id)


def _unresolved_issue(hass: HomeAssistant, subentry_id: str) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{HOST_UNRESOLVED}{subentry_id}")


async def test_site_starts_with_a_host_name(
    hass: HomeAssistant, simulator: SimulatorProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Resolved at start: the device reads; an unknown name leaves only that device out, with
    a repair issue naming the device and the host, gone with the device."""
    named = device_subentry(simulator)
    named["data"]["address"] = f"localhost:{simulator.bacnet_port}"
    away = device_subentry(simulator)
    away["data"]["address"] = f"{UNKNOWN_HOST}:{simulator.bacnet_port}"
    away["data"]["device_instance"] = INSTANCE + 1
    away.update(title="Away controller", unique_id=device_unique_id(INSTANCE + 1))
    entry = await setup_site(hass, named, away)
    assert entry.state is ConfigEntryState.LOADED
    supply_id = entity_id_of(hass, entry, "sensor", "analog-input,1")
    await wait_for(lambda: state_of(hass, supply_id).state != STATE_UNAVAILABLE, "read")
    assert coordinator_of(entry).device.client.address == f"127.0.0.1:{simulator.bacnet_port}"
    # The device whose name does not resolve is not set up: no coordinator, no entities,
    # and the log says which device and why.
    away_id = next(s.subentry_id for s in entry.subentries.values() if s.title == "Away controller")
    assert [c.subentry.title for c in bacnet_coordinators(entry)] == [named["title"]]
    assert away_id not in entry.runtime_data.devices
    assert not [
        e
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if e.config_subentry_id == away_id
    ]
    assert f"Away controller: not set up: {UNKNOWN_HOST}: " in caplog.text
    issue = _unresolved_issue(hass, away_id)
    assert issue is not None
    assert issue.translation_key == "bacnet_host_unresolved"
    assert issue.translation_placeholders == {"device": "Away controller", "host": UNKNOWN_HOST}
    named_id = next(s for s in entry.subentries if s != away_id)
    assert _unresolved_issue(hass, named_id) is None
    # Removing the device (the site reloads) removes its issue.
    assert hass.config_entries.async_remove_subentry(entry, away_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert _unresolved_issue(hass, away_id) is None
    await hass.config_entries.async_unload(entry.entry_id)


async def test_unresolved_host_issue_clears_when_the_device_builds(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """The controller's name is not found at start: a repair issue; reconfigured to an
    address that resolves, the site reloads, the device reads and the issue is gone.

    The simulator cannot play DNS: the name that never resolves is a ``.invalid`` one,
    answered as a resolver would (this module's _name_service), and the address that does is
    ``localhost`` from the hosts file. A name becoming known later (then a reload) would take
    a patch of the resolver, a fault injection; the device building again is what clears the
    issue either way.
    """
    away = device_subentry(simulator)
    away["data"]["address"] = f"{UNKNOWN_HOST}:{simulator.bacnet_port}"
    entry = await setup_site(hass, away)
    subentry_id = next(iter(entry.subentries))
    assert subentry_id not in entry.runtime_data.devices
    assert _unresolved_issue(hass, subentry_id) is not None

    result = await entry.start_subentry_reconfigure_flow(hass, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"address": f"localhost:{simulator.bacnet_port}", "polling": {}}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert subentry_id in entry.runtime_data.devices
    assert _unresolved_issue(hass, subentry_id) is None
    supply_id = entity_id_of(hass, entry, "sensor", "analog-input,1")
    await wait_for(lambda: state_of(hass, supply_id).state != STATE_UNAVAILABLE, "read")
    await hass.config_entries.async_unload(entry.entry_id)
