"""What a site leaves behind: nothing, after a failed setup or after it is deleted."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_MODBUS_DEVICE
from custom_components.microdc.lib.protocols import bacnet as transport
from custom_components.microdc.site import Site
from tests.ha.bacnet_site import BACNET_OPTIONS, device_subentry
from tests.simulator_process import SimulatorProcess


@pytest.mark.usefixtures("socket_enabled")
async def test_failed_setup_gives_the_bacnet_socket_back(
    hass: HomeAssistant, simulator: SimulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup fails after the BACnet device took the shared socket: the socket is closed."""

    async def failing_forward(*_args: Any) -> None:
        raise RuntimeError("injected: a platform failed to set up")

    # No peer can make Home Assistant's platform setup fail: the failure is injected here.
    monkeypatch.setattr(hass.config_entries, "async_forward_entry_setups", failing_forward)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=BACNET_OPTIONS,
        subentries_data=[device_subentry(simulator)],
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.runtime_data.devices == {}  # each device was set up, then released
    assert transport._shared is None, "the BACnet/IP socket is still open"


async def test_deleting_a_site_removes_its_heat_ledger(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """The heat ledger's Store goes with the site; another site's stays."""
    sites = [
        MockConfigEntry(domain=DOMAIN, unique_id=name, data={CONF_SITE_NAME: name})
        for name in ("north", "south")
    ]
    for site in sites:
        site.add_to_hass(hass)
        hass_storage[f"{DOMAIN}.heat.{site.entry_id}"] = {
            "version": 1,
            "minor_version": 1,
            "key": f"{DOMAIN}.heat.{site.entry_id}",
            "data": {"ledger": {}},
        }
        assert await hass.config_entries.async_setup(site.entry_id)
    await hass.async_block_till_done()

    await hass.config_entries.async_remove(sites[0].entry_id)
    await hass.async_block_till_done()

    assert f"{DOMAIN}.heat.{sites[0].entry_id}" not in hass_storage
    assert f"{DOMAIN}.heat.{sites[1].entry_id}" in hass_storage


@pytest.mark.usefixtures("socket_enabled")
async def test_a_device_added_while_the_site_starts_is_set_up(
    hass: HomeAssistant, simulator: SimulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device subentry that arrives while the site is starting (a person adding devices one
    after another, each reloading the site) is not lost until some later reload."""

    def modbus(unit: int, profile: str) -> ConfigSubentry:
        return ConfigSubentry(
            data=MappingProxyType(
                {
                    "host": "127.0.0.1",
                    "port": simulator.modbus_port,
                    "unit_id": unit,
                    "profile": profile,
                }
            ),
            subentry_type=SUBENTRY_MODBUS_DEVICE,
            title=profile,
            unique_id=f"127.0.0.1:{simulator.modbus_port}:{unit}",
        )

    entry = MockConfigEntry(domain=DOMAIN, unique_id="shop", data={CONF_SITE_NAME: "Shop"})
    entry.add_to_hass(hass)
    hass.config_entries.async_add_subentry(entry, modbus(1, "demo_rack_pdu"))
    start = Site.async_start
    added: list[str] = []

    async def start_while_a_device_is_added(site: Site) -> None:
        # The race, made certain: the second device lands after the site read its subentries,
        # before it watches them (nothing on the network can order it: the timing is injected).
        await start(site)
        if not added:
            ups = modbus(2, "demo_ups")
            added.append(ups.subentry_id)
            hass.config_entries.async_add_subentry(entry, ups)

    monkeypatch.setattr(Site, "async_start", start_while_a_device_is_added)
    # The reload the late device asks for may already be under way when setup returns.
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert added[0] in entry.runtime_data.devices
    assert len(entry.runtime_data.devices) == 2
    assert await hass.config_entries.async_unload(entry.entry_id)
