"""Diagnostics download: the site's configuration, each device's profile, plan and last poll.

Host names, addresses, unique ids (which embed the host) and the site's name are redacted: a
support thread must not publish whose shop it is or where its equipment sits on its network.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from . import MicrodcConfigEntry
from .const import CONF_SITE_NAME
from .coordinator import ModbusDeviceCoordinator
from .heat_accounting import heat_diagnostics

# BACnet: the devices' addresses and the site's own (bacnet_options.py) are network locations.
TO_REDACT = {
    CONF_HOST,
    CONF_SITE_NAME,  # often the shop's own name
    "unique_id",
    "endpoint",
    "address",
    "local_address",
    "bbmd_address",
}


def _value(value: Any) -> Any:
    """A reading as JSON: flag sets become sorted lists."""
    return sorted(value) if isinstance(value, frozenset) else value


def _device(coordinator: ModbusDeviceCoordinator) -> dict[str, Any]:
    device = coordinator.device
    profile = coordinator.profile
    statistics = device.last_statistics
    result = coordinator.data
    return {
        "title": coordinator.subentry.title,
        "endpoint": str(device.connection.endpoint),
        "unit_id": device.unit_id,
        "profile": {
            "profile_id": profile.profile_id,
            "manufacturer": profile.manufacturer,
            "model": profile.model,
            "source": profile.source,
            "points": len(profile.points),
        },
        "plan": [
            {
                "table": block.table.value,
                "address": block.address,
                "count": block.count,
                "points": [point.key for point in block.points],
            }
            for block in device.plan
        ],
        "skipped_points": sorted(device.skipped),
        "last_update_success": coordinator.last_update_success,
        "last_exception": repr(coordinator.last_exception) if coordinator.last_exception else None,
        "last_poll": None
        if statistics is None
        else {
            "requests": statistics.requests,
            "errors": statistics.errors,
            "blocks": statistics.blocks,
            "duration_ms": round(statistics.duration_s * 1000, 1),
        },
        "connection": {
            "connected": device.connection.connected,
            "connects": device.connection.connects,
            "backoff_s": device.connection.backoff,
            "timeout_s": device.connection.timeout,
        },
        "values": None
        if result is None
        else {key: _value(value) for key, value in sorted(result.values.items())},
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MicrodcConfigEntry
) -> dict[str, Any]:
    """Everything support needs to see why a device reads wrong, without where it is."""
    return {
        "entry": async_redact_data(
            # The entry's title is the site's name (device titles are profile names: kept).
            {"title": REDACTED, "data": dict(entry.data), "options": dict(entry.options)},
            TO_REDACT,
        ),
        "subentries": [
            async_redact_data(
                {
                    "subentry_type": subentry.subentry_type,
                    "title": subentry.title,
                    "unique_id": subentry.unique_id,
                    "data": dict(subentry.data),
                },
                TO_REDACT,
            )
            for subentry in entry.subentries.values()
        ],
        "modbus_devices": {
            subentry_id: async_redact_data(_device(coordinator), TO_REDACT)
            for subentry_id, coordinator in entry.runtime_data.modbus_devices.items()
        },
        # Each BACnet device's object list and COV state (bacnet_coordinator.py).
        "bacnet_devices": {
            subentry_id: async_redact_data(coordinator.diagnostics(), TO_REDACT)
            for subentry_id, coordinator in entry.runtime_data.bacnet.devices.items()
        },
        # Which inputs heat accounting found and its ledger's own figures (heat_accounting.py).
        "heat": heat_diagnostics(hass, entry),
    }
