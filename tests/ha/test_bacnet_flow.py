"""The BACnet/IP device subentry flow against the simulator's controller on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
import json
import socket
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microdc.const import CONF_SITE_NAME, DOMAIN, SUBENTRY_BACNET_DEVICE
from custom_components.microdc.lib.devices.bacnet_config import (
    ROLE_KINDS,
    BacnetDeviceConfig,
    device_unique_id,
)
from custom_components.microdc.lib.protocols import bacnet as transport
from custom_components.microdc.settings import BACNET_DEFAULTS
from tests.ha.bacnet_site import (
    BACNET_OPTIONS,
    DEVICE_NAME,
    INSTANCE,
    device_subentry,
    setup_site,
    sim_object,
    state_of,
)
from tests.simulator_process import REPO_ROOT, SimulatorProcess

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Temperatures, flow, valve feedback (analog-input 8..12) and occupancy (binary-input 1..3).
INPUTS = [f"analog-input,{n}" for n in range(1, 13)] + [f"binary-input,{n}" for n in (1, 2, 3)]
VALVES = [f"analog-output,{n}" for n in range(1, 6)]


@pytest.fixture(autouse=True)
async def _network_released() -> Any:
    yield
    assert transport._shared is None, "the BACnet/IP socket is still open"


async def _empty_site(hass: HomeAssistant) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="corner_shop",
        data={CONF_SITE_NAME: "Corner Shop"},
        options=BACNET_OPTIONS,
    )
    entry.add_to_hass(hass)
    return entry


async def _start(hass: HomeAssistant, entry: MockConfigEntry, path: str) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_BACNET_DEVICE), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["discover", "manual"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": path}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == path
    return dict(result)


async def _configure(hass: HomeAssistant, result: dict[str, Any], data: dict[str, Any]) -> Any:
    return await hass.config_entries.subentries.async_configure(result["flow_id"], data)


def _suggested(result: Any) -> dict[str, Any]:
    """What a form proposes, field by field."""
    return {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }


def _address(sim: SimulatorProcess) -> str:
    return f"{sim.host}:{sim.bacnet_port}"


async def test_manual_entry_with_defaults_and_roles(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(
        hass, result, {"address": _address(simulator), "device_instance": INSTANCE}
    )
    assert result["step_id"] == "filter"
    assert result["description_placeholders"] == {"device": DEVICE_NAME, "count": "21"}

    result = await _configure(
        hass,
        result,
        {"object_types": ["analog-input", "analog-output", "binary-input", "binary-output"]},
    )
    assert result["step_id"] == "objects"
    schema = result["data_schema"].schema
    objects_key = next(k for k in schema if k == "objects")
    # Inputs (and values) are chosen by default; outputs are commands, chosen on purpose.
    assert sorted(objects_key.default()) == sorted(INPUTS)
    labels = {
        o["value"]: o["label"] for o in schema[objects_key].config["options"]
    }  # name, id, units and description
    assert labels["analog-input,3"] == (
        "LOOP-FLOW (analog-input,3, cubic-meters-per-hour): Rack water loop flow"
    )

    result = await _configure(
        hass, result, {"objects": [*INPUTS, "analog-output,1"], "polling": {}}
    )
    assert result["step_id"] == "roles"
    result = await _configure(
        hass,
        result,
        {
            "loop_supply_temperature": "analog-input,1",
            "loop_return_temperature": "analog-input,2",
            "loop_flow": "analog-input,3",
            "valve_position": ["analog-output,1"],
            "space_temperature": ["analog-input,5", "analog-input,6"],
            "occupancy": ["binary-input,1"],
        },
    )
    # Names: the device's own name proposed; each object's description offered, under a field
    # labelled by its object name.
    assert result["step_id"] == "names"
    proposed = _suggested(result)
    assert proposed["name"] == DEVICE_NAME
    assert proposed["LOOP-FLOW"] == "Rack water loop flow"
    assert proposed["VLV-STOCKROOM"] == "Heat recovery valve to the stockroom fan coil"
    result = await _configure(
        hass,
        result,
        {
            **proposed,
            "name": "HVAC controller",
            "LOOP-FLOW": "Loop flow",
            "VLV-STOCKROOM": "Stockroom valve",
            "OUTDOOR-T": "",  # cleared: the object name stays
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "HVAC controller"
    subentry = next(iter(entry.subentries.values()))
    assert subentry.unique_id == device_unique_id(INSTANCE)
    config = BacnetDeviceConfig.from_data(subentry.data)
    assert config.address == _address(simulator)
    assert config.cov is True
    assert config.scan_interval_s == 30
    roles = {str(o.object_id): o.role for o in config.objects if o.role}
    assert roles == {
        "analog-input,1": "loop_supply_temperature",
        "analog-input,2": "loop_return_temperature",
        "analog-input,3": "loop_flow",
        "analog-output,1": "valve_position",
        "analog-input,5": "space_temperature",
        "analog-input,6": "space_temperature",
        "binary-input,1": "occupancy",
    }
    valve = config.object(transport.ObjectId("analog-output", 1))
    assert valve is not None
    assert (valve.commandable, valve.units, valve.min_value, valve.max_value) == (
        True,
        "percent",
        0.0,
        100.0,
    )
    supply = config.object(transport.ObjectId("analog-input", 1))
    assert supply is not None
    assert (supply.commandable, supply.units, supply.description) == (
        False,
        "degrees-celsius",
        "Rack water loop supply temperature",
    )
    names = {o.name: o.display_name for o in config.objects}
    assert names["LOOP-FLOW"] == "Loop flow"
    assert names["VLV-STOCKROOM"] == "Stockroom valve"
    assert names["LOOP-SUPPLY-T"] == "Rack water loop supply temperature"
    assert names["OUTDOOR-T"] == "OUTDOOR-T"
    # What the device object says of itself (simulator/sites/demo.yaml), read once here.
    assert config.identity is not None
    assert (config.identity.vendor_name, config.identity.model_name) == (
        "microdc demo",
        "HydroLogic HC-4",
    )

    # The site shows them: entity names and ids from the names, the device as it said.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entities = er.async_get(hass)
    flow_id = entities.async_get_entity_id(
        "sensor", DOMAIN, f"{subentry.subentry_id}_analog-input_3"
    )
    assert flow_id == "sensor.hvac_controller_loop_flow"
    assert state_of(hass, flow_id).attributes["friendly_name"] == "HVAC controller Loop flow"
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, subentry.subentry_id), entry.entry_id
    )
    assert device is not None
    assert (device.name, device.manufacturer, device.model, device.model_id) == (
        "HVAC controller",
        "microdc demo",
        "HydroLogic HC-4",
        None,
    )
    assert device.sw_version == "2.3.1 (application 1.0)"  # bacpypes3's application version
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_directed_discovery_and_filters(
    hass: HomeAssistant, simulator: SimulatorProcess
) -> None:
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "discover")
    result = await _configure(hass, result, {"target": _address(simulator)})
    assert result["step_id"] == "pick"
    options = result["data_schema"].schema["device"].config["options"]
    assert options == [
        {
            "value": f"{INSTANCE}@{_address(simulator)}",
            "label": f"{DEVICE_NAME} (instance {INSTANCE}) at {_address(simulator)}",
        }
    ]
    result = await _configure(hass, result, {"device": options[0]["value"]})
    assert result["step_id"] == "filter"

    # A name pattern that matches nothing is refused on its field.
    result = await _configure(
        hass, result, {"object_types": ["analog-output"], "name_filter": "AHU-*"}
    )
    assert result["errors"] == {"name_filter": "no_match"}
    result = await _configure(hass, result, {"object_types": [], "name_filter": ""})
    assert result["errors"] == {"object_types": "no_types"}
    result = await _configure(
        hass, result, {"object_types": ["analog-output"], "name_filter": "vlv-tenant*"}
    )
    assert result["step_id"] == "objects"
    offered = [o["value"] for o in result["data_schema"].schema["objects"].config["options"]]
    assert offered == ["analog-output,2", "analog-output,3"]

    result = await _configure(hass, result, {"objects": [], "polling": {}})
    assert result["errors"] == {"objects": "none_selected"}
    result = await _configure(
        hass,
        result,
        {"objects": offered, "polling": {"scan_interval": 60, "cov": False, "cov_lifetime": 600}},
    )
    assert result["step_id"] == "roles"
    # One object, one role.
    result = await _configure(
        hass,
        result,
        {"valve_position": ["analog-output,2"], "loop_flow": "analog-output,2"},
    )
    assert result["errors"] == {"valve_position": "role_conflict"} or result["errors"] == {
        "loop_flow": "role_conflict"
    }
    result = await _configure(hass, result, {"valve_position": offered})
    assert result["step_id"] == "names"
    result = await _configure(hass, result, {**_suggested(result), "name": " "})
    assert result["errors"] == {"name": "invalid_name"}
    result = await _configure(hass, result, _suggested(result) | {"name": "Plant"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    config = BacnetDeviceConfig.from_data(next(iter(entry.subentries.values())).data)
    assert [str(o.object_id) for o in config.objects] == offered
    assert (config.scan_interval_s, config.cov, config.cov_lifetime_s) == (60, False, 600)

    # The same device again: already a device of the site.
    result = await _start(hass, entry, "discover")
    result = await _configure(hass, result, {"target": _address(simulator)})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_errors_on_their_fields(hass: HomeAssistant, simulator: SimulatorProcess) -> None:
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(hass, result, {"address": "not an address", "device_instance": 1})
    assert result["errors"] == {"address": "invalid_address"}
    # A device answers here, but it is not instance 1.
    result = await _configure(hass, result, {"address": _address(simulator), "device_instance": 1})
    assert result["errors"] == {"device_instance": "unknown_device_instance"}

    result = await _start(hass, entry, "discover")
    # The simulator's control port speaks HTTP, not BACnet: nobody answers Who-Is there.
    result = await _configure(
        hass, result, {"target": f"{simulator.host}:{simulator.control_port}"}
    )
    assert result["errors"] == {"target": "no_devices"}
    result = await _configure(hass, result, {"target": "300.1.2.3"})
    assert result["errors"] == {"target": "invalid_address"}


async def test_manual_entry_of_a_silent_address(hass: HomeAssistant) -> None:
    """Nothing listens: the address is at fault (after the transport's timeout)."""
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(hass, result, {"address": "127.0.0.1:9", "device_instance": 5})
    assert result["errors"] == {"address": "no_response"}


async def test_reconfigure_to_a_new_address_keeps_entities(
    hass: HomeAssistant,
    simulator: SimulatorProcess,
    simulator_factory: Callable[..., SimulatorProcess],
) -> None:
    """The controller moved (the same device instance at a new address)."""
    entry = await setup_site(hass, device_subentry(simulator))
    subentry = next(iter(entry.subentries.values()))
    registry = er.async_get(hass)
    before = {
        e.unique_id: e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id == subentry.subentry_id
    }
    assert len(before) == 21

    moved = simulator_factory()
    await moved.async_advance(3 * 3600)  # its readings now differ from the first one's
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"instance": str(INSTANCE)}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"address": _address(moved), "polling": {}}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert BacnetDeviceConfig.from_data(entry.subentries[subentry.subentry_id].data).address == (
        _address(moved)
    )
    after = {
        e.unique_id: e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.config_subentry_id == subentry.subentry_id
    }
    assert after == before
    outdoor = next(eid for uid, eid in after.items() if uid.endswith("analog-input_4"))
    expected = sim_object(await moved.async_state(), "analog-input,4")["present_value"]
    assert float(state_of(hass, outdoor).state) == pytest.approx(expected, abs=1e-4)

    # A wrong address is refused on its field and changes nothing.
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"address": "127.0.0.1:9", "polling": {}}
    )
    assert result["errors"] == {"address": "no_response"}
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_site_options_bacnet_section(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(domain=DOMAIN, unique_id="shop", data={CONF_SITE_NAME: "Shop"})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    # What the form shows for every section (other groups of options sit beside BACnet's).
    defaults = {
        str(key.schema): {
            str(field.schema): (field.description or {}).get("suggested_value")
            for field in group.schema.schema
        }
        for key, group in result["data_schema"].schema.items()
    }
    assert defaults["bacnet"]["write_priority"] == 12
    heat = defaults.pop("heat")
    bacnet = {**BACNET_OPTIONS["bacnet"], "local_address": "10.0.0.300/24"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**defaults, "heat": heat, "bacnet": bacnet}
    )
    assert result["errors"] == {"local_address": "invalid_local_address"}
    bacnet = {**BACNET_OPTIONS["bacnet"], "bbmd_address": "192.168.1.1:47808"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**defaults, "heat": heat, "bacnet": bacnet}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["bacnet"]["bbmd_address"] == "192.168.1.1:47808"
    assert entry.options["bacnet"]["write_priority"] == 12


async def test_device_without_rpm_or_segmentation(
    hass: HomeAssistant, simulator_factory: Callable[..., SimulatorProcess]
) -> None:
    """The object list element by element, the metadata property by property."""
    small = simulator_factory()
    status, answer = await small.async_request(
        "POST", "/bacnet", b'{"rpm_enabled": false, "segmentation": false}'
    )
    assert status == 200, answer
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "manual")
    result = await _configure(
        hass, result, {"address": _address(small), "device_instance": INSTANCE}
    )
    assert result["step_id"] == "filter"
    assert result["description_placeholders"]["count"] == "21"
    result = await _configure(hass, result, {"object_types": ["analog-output"]})
    labels = [o["label"] for o in result["data_schema"].schema["objects"].config["options"]]
    assert labels[0] == (
        "VLV-STOCKROOM (analog-output,1, percent): Heat recovery valve to the stockroom fan coil"
    )
    requests = (await small.async_state())["requests"]["bacnet"]
    # One element per request (22 objects + the count), then single reads of each property.
    assert requests["read-property"] > 21 * 4
    assert requests.get("read-property-multiple", 0) >= 1  # tried once, refused


async def test_broadcast_discovery(hass: HomeAssistant) -> None:
    """Loopback has no broadcast peers: nothing answers; without a prefix, no broadcast."""
    entry = await _empty_site(hass)
    result = await _start(hass, entry, "discover")
    result = await _configure(hass, result, {})
    assert result["errors"] == {"target": "no_devices"}

    lone = MockConfigEntry(
        domain=DOMAIN,
        unique_id="lone_shop",
        data={CONF_SITE_NAME: "Lone Shop"},
        options={"bacnet": {**BACNET_OPTIONS["bacnet"], "local_address": "127.0.0.1"}},
    )
    lone.add_to_hass(hass)
    result = await _start(hass, lone, "discover")
    result = await _configure(hass, result, {"target": ""})
    assert result["errors"] == {"target": "no_broadcast"}


def test_every_field_is_labelled_and_described() -> None:
    """Each field of the BACnet forms has a label and a description, roles included."""
    strings = json.loads(
        (REPO_ROOT / "custom_components" / "microdc" / "strings.json").read_text("utf-8")
    )
    steps = strings["config_subentries"][SUBENTRY_BACNET_DEVICE]["step"]
    groups = [steps[name] for name in steps if name != "user"]
    groups += [s for step in steps.values() for s in step.get("sections", {}).values()]
    groups.append(strings["options"]["step"]["init"]["sections"]["bacnet"])
    for group in groups:
        assert set(group["data"]) == set(group["data_description"]), group
    assert set(steps["roles"]["data"]) == set(ROLE_KINDS)
    assert set(steps["objects"]["sections"]["polling"]["data"]) == {
        "scan_interval",
        "cov",
        "cov_lifetime",
    }
    assert set(strings["options"]["step"]["init"]["sections"]["bacnet"]["data"]) == set(
        BACNET_DEFAULTS
    )


async def test_socket_unavailable_is_a_form_error(hass: HomeAssistant) -> None:
    """The site's port is held by other software: said on the form, not as a device fault."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id="busy_shop",
            data={CONF_SITE_NAME: "Busy Shop"},
            options={"bacnet": {**BACNET_OPTIONS["bacnet"], "local_port": port}},
        )
        entry.add_to_hass(hass)
        result = await _start(hass, entry, "discover")
        result = await _configure(hass, result, {"target": "127.0.0.1:47808"})
        assert result["errors"] == {"base": "network_unavailable"}
        result = await _start(hass, entry, "manual")
        result = await _configure(hass, result, {"address": "127.0.0.1", "device_instance": 7})
        assert result["errors"] == {"base": "network_unavailable"}
