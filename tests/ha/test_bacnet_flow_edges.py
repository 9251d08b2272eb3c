"""The BACnet/IP device subentry flow at its edges, against the simulator's controller:
name filters without wildcards, blank or taken entries, a device that stops answering between
discovery and reading, and a reconfigure that cannot reach the network or parse the address.
"""

from __future__ import annotations

import socket
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN
from custom_components.microdc.lib.devices.bacnet_config import BacnetDeviceConfig
from custom_components.microdc.lib.protocols import bacnet as transport
from tests.ha.bacnet_site import BACNET_OPTIONS, DEVICE_NAME, INSTANCE, device_subentry
from tests.ha.test_bacnet_flow import _address, _configure, _empty_site, _start
from tests.simulator_process import SimulatorProcess

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
async def _network_released() -> Any:
    yield
    assert transport._shared is None, "the BACnet/IP socket is still open"


def _offered(result: Any) -> list[str]:
    return [o["value"] for o in result["data_schema"].schema["objects"].config["options"]]


async def test_name_filter_without_wildcards_is_a_substring(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """A plain word finds every object of the chosen types whose name contains it, in any
    case; objects of other types are not offered even when their name matches."""
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(
        hass, result, {"address": _address(simulator), "device_instance": INSTANCE}
    )
    assert result["step_id"] == "filter"
    result = await _configure(
        hass, result, {"object_types": ["binary-input"], "name_filter": "LoOp"}
    )
    assert result["errors"] == {"name_filter": "no_match"}  # the loop has no binary input
    result = await _configure(
        hass, result, {"object_types": ["analog-input", "analog-output"], "name_filter": "TeNaNt"}
    )
    assert result["step_id"] == "objects"
    assert _offered(result) == [
        "analog-input,6",
        "analog-input,7",
        "analog-output,2",
        "analog-output,3",
        "analog-input,9",  # the valves' position feedback, in the device's object list order
        "analog-input,10",
    ]


async def test_manual_blank_address_and_a_device_already_in_the_site(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """A blank address is refused on its field; a device instance the site already has is
    not added twice (before anything is sent)."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=BACNET_OPTIONS,
        subentries_data=[device_subentry(simulator)],
    )
    entry.add_to_hass(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(hass, result, {"address": "   ", "device_instance": INSTANCE})
    assert result["errors"] == {"address": "invalid_address"}
    result = await _configure(
        hass, result, {"address": _address(simulator), "device_instance": INSTANCE}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(entry.subentries) == 1


async def test_device_that_stops_answering_after_discovery(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """Found by Who-Is, then offline when picked: the pick is refused on the device field and
    the same form stays usable; once it answers again the flow goes on."""
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "discover")
    result = await _configure(hass, result, {"target": _address(simulator)})
    assert result["step_id"] == "pick"
    device = f"{INSTANCE}@{_address(simulator)}"
    try:
        await simulator.async_inject_fault("device_offline", device=DEVICE_NAME)
        result = await _configure(hass, result, {"device": device})
    finally:
        await simulator.async_clear_faults()
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pick"
    assert result["errors"] == {"device": "no_response"}
    result = await _configure(hass, result, {"device": device})
    assert result["step_id"] == "filter"
    assert result["description_placeholders"] == {"device": DEVICE_NAME, "count": "21"}


async def test_reconfigure_errors_change_nothing(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    """An address that is not one, and a site whose BACnet port is taken by other software:
    each is said on the form and the device's stored address stays."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        for options, address, errors in (
            (BACNET_OPTIONS, "not an address", {"address": "invalid_address"}),
            (
                {"bacnet": {**BACNET_OPTIONS["bacnet"], "local_port": port}},
                _address(simulator),
                {"base": "network_unavailable"},
            ),
        ):
            entry = MockConfigEntry(
                domain=DOMAIN,
                unique_id=f"shop_{len(errors)}_{next(iter(errors))}",
                data={CONF_SITE_NAME: "Corner Shop"},
                options=options,
                subentries_data=[device_subentry(simulator)],
            )
            entry.add_to_hass(hass)
            subentry = next(iter(entry.subentries.values()))
            result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
            assert result["step_id"] == "reconfigure"
            result = await hass.config_entries.subentries.async_configure(
                result["flow_id"], {"address": address, "polling": {}}
            )
            assert result["type"] is FlowResultType.FORM
            assert result["errors"] == errors
            stored = BacnetDeviceConfig.from_data(entry.subentries[subentry.subentry_id].data)
            assert stored.address == _address(simulator)
