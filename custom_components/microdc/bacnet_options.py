"""The site's BACnet settings: the local end of the one shared BACnet/IP socket, and priority.

Stored in the site entry's options under the ``bacnet`` section of the site options flow.
Every site of a Home Assistant instance shares one BACnet/IP socket (BACnet/IP allows one
application per address and port), so two sites with BACnet devices must give the same local
settings; the second site's devices report it if they differ.

The write priority defaults to 12. BACnet reserves 1-2 for life safety, 5 for critical
equipment and 6 for minimum on/off times, and 8 is the operator's manual override: microdc's
heat routing is supervisory optimisation, so it must lose to all of these (a technician on site
always wins) and still beat the building's schedules and default programs, which usually write
at 16. 12 rather than 9 leaves 9-11 for the site's own supervisory programs that should
outrank heat reuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
from typing import Any

from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
)
import probatio

from .protocols.bacnet import BacnetConfigError, BacnetNetworkConfig

CONF_BACNET = "bacnet"
CONF_LOCAL_ADDRESS = "local_address"
CONF_LOCAL_PORT = "local_port"
CONF_LOCAL_INSTANCE = "local_device_instance"
CONF_BBMD_ADDRESS = "bbmd_address"
CONF_WRITE_PRIORITY = "write_priority"
CONF_APDU_TIMEOUT = "apdu_timeout"
CONF_APDU_RETRIES = "apdu_retries"

DEFAULT_WRITE_PRIORITY = 12
DEFAULTS: dict[str, Any] = {
    CONF_LOCAL_ADDRESS: "host",  # the primary interface, as bacpypes3 finds it
    CONF_LOCAL_PORT: 47808,
    CONF_LOCAL_INSTANCE: 4194302,  # the highest legal instance: rarely taken by a controller
    CONF_BBMD_ADDRESS: "",
    CONF_WRITE_PRIORITY: DEFAULT_WRITE_PRIORITY,
    CONF_APDU_TIMEOUT: 3.0,
    CONF_APDU_RETRIES: 2,
}


@dataclass(frozen=True, slots=True)
class BacnetSiteSettings:
    """The network settings and the priority microdc writes at."""

    network: BacnetNetworkConfig
    write_priority: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> BacnetSiteSettings:
        """Read the bacnet section (defaults for what is missing); BacnetConfigError if bad."""
        values = {**DEFAULTS, **dict(options.get(CONF_BACNET) or {})}
        errors = check_bacnet(values)
        if errors:
            raise BacnetConfigError(f"invalid BACnet settings: {sorted(errors)}")
        bbmd = str(values[CONF_BBMD_ADDRESS] or "").strip() or None
        return cls(
            network=BacnetNetworkConfig(
                address=str(values[CONF_LOCAL_ADDRESS]).strip(),
                port=int(values[CONF_LOCAL_PORT]),
                device_instance=int(values[CONF_LOCAL_INSTANCE]),
                bbmd_address=bbmd,
                apdu_timeout_s=float(values[CONF_APDU_TIMEOUT]),
                apdu_retries=int(values[CONF_APDU_RETRIES]),
            ),
            write_priority=int(values[CONF_WRITE_PRIORITY]),
        )


def _valid_local_address(text: str) -> bool:
    if text == "host":
        return True
    try:
        ipaddress.IPv4Interface(text)
    except ValueError:
        return False
    return True


def _valid_bbmd(text: str) -> bool:
    if not text:
        return True
    host, _, port = text.partition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return not port or (port.isdigit() and 1 <= int(port) <= 65535)


def check_bacnet(values: Mapping[str, Any]) -> dict[str, str]:
    """Errors of the bacnet section, keyed by field (empty when usable)."""
    errors: dict[str, str] = {}
    if not _valid_local_address(str(values.get(CONF_LOCAL_ADDRESS, "")).strip()):
        errors[CONF_LOCAL_ADDRESS] = "invalid_local_address"
    if not _valid_bbmd(str(values.get(CONF_BBMD_ADDRESS) or "").strip()):
        errors[CONF_BBMD_ADDRESS] = "invalid_bbmd_address"
    return errors


def _box(minimum: float, maximum: float, step: float = 1, unit: str | None = None) -> Any:
    config = NumberSelectorConfig(min=minimum, max=maximum, step=step, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def bacnet_schema() -> probatio.Schema:
    """The fields of the bacnet section of the site options."""
    return probatio.Schema(
        {
            probatio.Required(CONF_LOCAL_ADDRESS): TextSelector(),
            probatio.Required(CONF_LOCAL_PORT): probatio.All(_box(0, 65535), probatio.Coerce(int)),
            probatio.Required(CONF_LOCAL_INSTANCE): probatio.All(
                _box(0, 4194302), probatio.Coerce(int)
            ),
            probatio.Optional(CONF_BBMD_ADDRESS): TextSelector(),
            probatio.Required(CONF_WRITE_PRIORITY): probatio.All(_box(1, 16), probatio.Coerce(int)),
            probatio.Required(CONF_APDU_TIMEOUT): _box(0.1, 60, 0.1, "s"),
            probatio.Required(CONF_APDU_RETRIES): probatio.All(_box(0, 10), probatio.Coerce(int)),
        }
    )


def current_bacnet(options: Mapping[str, Any]) -> dict[str, Any]:
    """The section's values to show: the stored ones over the defaults."""
    return {**DEFAULTS, **dict(options.get(CONF_BACNET) or {})}
