"""The command entities of routed points: the integration disables them once, gives them back.

A site whose controller's entities exist before any heat destination (as when the engineer
adds the devices first), then a destination that routes the stockroom valve, then its removal.
A valve point has a valve entity and a spare number entity (disabled by default): both are the
router's while routed, and only what the router disabled is enabled again.
"""

from __future__ import annotations

from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_HEAT_DESTINATION
from custom_components.microdc.destination_config import (
    CONF_BRANCH_METER,
    CONF_FEEDBACK,
    CONF_KIND,
    CONF_VALVES,
)
from custom_components.microdc.lib.devices.bacnet_config import object_key
from custom_components.microdc.lib.protocols.bacnet import ObjectId
from custom_components.microdc.routed_entities import ROUTED_OPTION
from tests.ha.bacnet_site import BACNET_OPTIONS, demo_objects, device_subentry
from tests.simulator_process import SimulatorProcess

pytestmark = pytest.mark.usefixtures("socket_enabled")
CONTROLLER = "controller"
STOCKROOM_VALVE = ObjectId("analog-output", 1)
TENANT_A_VALVE = ObjectId("analog-output", 2)


def _destination(name: str, valve: ObjectId) -> ConfigSubentry:
    return ConfigSubentry(
        subentry_type=SUBENTRY_HEAT_DESTINATION,
        title=name.title(),
        unique_id=None,
        data=MappingProxyType(
            {
                CONF_KIND: name,
                CONF_VALVES: [f"{CONTROLLER}/{object_key(valve)}"],
                CONF_BRANCH_METER: None,
                CONF_FEEDBACK: {},
            }
        ),
    )


async def _settle(hass: HomeAssistant) -> None:
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_routed_valves_entities_go_to_the_router_and_come_back(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    roles = {str(oid): "valve_position" for oid in (STOCKROOM_VALVE, TENANT_A_VALVE)}
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Corner Shop",
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options={**BACNET_OPTIONS, "routing": {"dwell": 0}},
        subentries_data=[
            {
                **device_subentry(simulator, objects=demo_objects(roles), scan_interval_s=600),
                "subentry_id": CONTROLLER,
            }
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _settle(hass)
    registry = er.async_get(hass)

    def entity(valve: ObjectId, domain: str = "valve") -> er.RegistryEntry:
        entity_id = registry.async_get_entity_id(
            domain, DOMAIN, f"{CONTROLLER}_{object_key(valve)}"
        )
        assert entity_id is not None
        found = registry.async_get(entity_id)
        assert found is not None
        return found

    def marked(entry: er.RegistryEntry) -> bool:
        return bool(entry.options.get(DOMAIN, {}).get(ROUTED_OPTION))

    # No destination yet: the valves are the engineer's to move, by their valve entities.
    assert entity(STOCKROOM_VALVE).disabled_by is None
    assert hass.states.get(entity(STOCKROOM_VALVE).entity_id) is not None
    # Their number entities are spares, disabled by default on a new site.
    for valve in (STOCKROOM_VALVE, TENANT_A_VALVE):
        assert entity(valve, "number").disabled_by is er.RegistryEntryDisabler.INTEGRATION
    # The tenant's number enabled, as a site from before the valve platform has it.
    registry.async_update_entity(entity(TENANT_A_VALVE, "number").entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await _settle(hass)
    assert hass.states.get(entity(TENANT_A_VALVE, "number").entity_id) is not None

    # A destination routes the stockroom valve (the site reloads for it): its entities go.
    stockroom = _destination("stockroom", STOCKROOM_VALVE)
    hass.config_entries.async_add_subentry(entry, stockroom)
    await _settle(hass)
    assert entity(STOCKROOM_VALVE).disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert marked(entity(STOCKROOM_VALVE))
    assert hass.states.get(entity(STOCKROOM_VALVE).entity_id) is None
    assert entity(STOCKROOM_VALVE, "number").disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert marked(entity(STOCKROOM_VALVE, "number"))
    assert entity(TENANT_A_VALVE).disabled_by is None  # not routed: untouched
    assert not marked(entity(TENANT_A_VALVE))

    # The engineer enables the valve on purpose: it stays enabled over reloads.
    registry.async_update_entity(entity(STOCKROOM_VALVE).entity_id, disabled_by=None)
    await hass.config_entries.async_reload(entry.entry_id)
    await _settle(hass)
    assert entity(STOCKROOM_VALVE).disabled_by is None
    assert hass.states.get(entity(STOCKROOM_VALVE).entity_id) is not None

    # A second destination, removed again: the entities it took come back, the enabled
    # number too (the router had disabled it).
    tenant = _destination("tenant", TENANT_A_VALVE)
    hass.config_entries.async_add_subentry(entry, tenant)
    await _settle(hass)
    for domain in ("valve", "number"):
        assert entity(TENANT_A_VALVE, domain).disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert hass.states.get(entity(TENANT_A_VALVE, domain).entity_id) is None
    hass.config_entries.async_remove_subentry(entry, tenant.subentry_id)
    await _settle(hass)
    for domain in ("valve", "number"):
        given_back = entity(TENANT_A_VALVE, domain)
        assert given_back.disabled_by is None, domain
        assert not given_back.options.get(DOMAIN), domain

    # The stockroom's destination removed: its spare number, which the router found disabled,
    # stays disabled (unmarked); the valve the engineer enabled stays enabled.
    hass.config_entries.async_remove_subentry(entry, stockroom.subentry_id)
    await _settle(hass)
    spare = entity(STOCKROOM_VALVE, "number")
    assert spare.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert not marked(spare)
    assert entity(STOCKROOM_VALVE).disabled_by is None
    await hass.config_entries.async_unload(entry.entry_id)
