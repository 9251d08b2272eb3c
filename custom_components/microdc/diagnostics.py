"""Diagnostics download: the site's configuration, each device's profile, plan and last poll.

Host names, addresses, ports, BACnet device instances, unique ids (which embed the host), the
site's name and the devices' titles are redacted: a support thread must not publish whose shop
it is or where its equipment sits on its network. Subentry ids still tell the devices apart.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST
from homeassistant.core import HomeAssistant

from .const import CONF_SITE_NAME
from .models import MicrodcConfigEntry

# BACnet: the devices' addresses and the site's own (settings.py) are network locations.
TO_REDACT = {
    CONF_HOST,
    CONF_SITE_NAME,  # often the shop's own name
    "unique_id",
    "endpoint",
    "address",
    "local_address",
    "bbmd_address",
    "port",
    "local_port",
    "device_instance",
    "local_device_instance",
    "title",  # a device's title is often its network name (a BACnet device's object name)
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MicrodcConfigEntry
) -> dict[str, Any]:
    """Everything support needs to see why a device reads wrong, without where it is."""
    site = entry.runtime_data
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
        # The priority the site writes at (BACnet; Modbus has none).
        "write_priority": site.write_priority,
        # Each device as its protocol sees it: a Modbus device's profile, read plan and last
        # poll; a BACnet device's objects, commands and COV state (lib/devices/).
        "devices": {
            subentry_id: async_redact_data(coordinator.diagnostics(), TO_REDACT)
            for subentry_id, coordinator in site.devices.items()
        },
        # Which inputs heat accounting found and its ledger's own figures (heat_accounting.py).
        "heat": None if site.heat is None else site.heat.diagnostics(),
    }
