"""A site's options, typed: heat accounting, the shared BACnet/IP socket, the UPS limits, routing.

Stored in the site entry's options, one section each (heat, bacnet, ups, routing), beside the other
sections of the same options flow (flows/options.py holds the form). Every reader gets defaults
for a site never configured.

BACnet: every site of a Home Assistant instance shares one BACnet/IP socket (BACnet/IP allows one
application per address and port), so two sites with BACnet devices must give the same local
settings; the second site's devices report it if they differ.

The write priority defaults to 12. BACnet reserves 1-2 for life safety, 5 for critical
equipment and 6 for minimum on/off times, and 8 is the operator's manual override: microdc's
heat routing is supervisory optimisation, so it must lose to all of these (a technician on site
always wins) and still beat the building's schedules and default programs, which usually write
at 16. 12 rather than 9 leaves 9-11 for the site's own supervisory programs that should
outrank heat reuse.

UPS: some UPS network cards never raise their low-battery flag; microdc then relies on runtime
and charge against the site's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
from typing import Any

from homeassistant.config_entries import ConfigEntry

from .const import (
    CONF_LOW_BATTERY_CHARGE,
    CONF_LOW_BATTERY_RUNTIME,
    DEFAULT_LOW_BATTERY_CHARGE_PCT,
    DEFAULT_LOW_BATTERY_RUNTIME_S,
)
from .lib.devices.base import HIGHEST_PRIORITY, LOWEST_RESERVED_PRIORITY
from .lib.heat import DisplacedHeating, Fluid, HeatingKind
from .lib.protocols.bacnet import BacnetConfigError, BacnetNetworkConfig
from .lib.routing import DefaultRouting, RoutingSettings, SettingsError

# --- heat ---------------------------------------------------------------------------------

CONF_HEAT: str = "heat"
CONF_FLUID: str = "fluid"
# Seconds: the longest gap between readings that heat accounting integrates across.
CONF_MAX_READING_GAP: str = "max_gap"
CONF_HEATING_KIND: str = "heating_kind"
CONF_EFFICIENCY: str = "efficiency"
CONF_TARIFF: str = "tariff"
CONF_EMISSION_FACTOR: str = "emission_factor"

# A site never configured: a water loop displacing a condensing gas boiler.
HEAT_DEFAULTS: dict[str, Any] = {
    CONF_FLUID: Fluid.WATER.value,
    CONF_MAX_READING_GAP: 300,  # s: a few missed polls at the usual 10 to 30 s scan intervals
    CONF_HEATING_KIND: HeatingKind.GAS_BOILER.value,
    CONF_EFFICIENCY: 0.9,
    CONF_TARIFF: 0.10,
    # kg CO₂e per kWh of natural gas burnt (gross calorific value), as in the UK government's
    # greenhouse gas conversion factors (about 0.18) and similar national tables.
    CONF_EMISSION_FACTOR: 0.18,
}
MAX_GAP_RANGE_S = (30, 86400)


@dataclass(frozen=True, slots=True)
class HeatOptions:
    """A site's heat options, as the heat domain wants them."""

    fluid: Fluid
    max_gap_s: float
    displaced: DisplacedHeating

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> HeatOptions:
        """Read the heat section of an entry's options (defaults for missing values).

        Raises HeatDomainError (or ValueError) for values the domain refuses.
        """
        heat = {**HEAT_DEFAULTS, **dict(options.get(CONF_HEAT) or {})}
        return cls(
            fluid=Fluid(heat[CONF_FLUID]),
            max_gap_s=float(heat[CONF_MAX_READING_GAP]),
            displaced=DisplacedHeating(
                kind=HeatingKind(heat[CONF_HEATING_KIND]),
                efficiency=float(heat[CONF_EFFICIENCY]),
                tariff_per_kwh=float(heat[CONF_TARIFF]),
                emission_factor_kg_per_kwh=float(heat[CONF_EMISSION_FACTOR]),
            ),
        )

    @classmethod
    def from_entry(cls, entry: ConfigEntry[Any]) -> HeatOptions:
        """The options of a site entry."""
        return cls.from_options(entry.options)


# --- BACnet -------------------------------------------------------------------------------

CONF_BACNET = "bacnet"
CONF_LOCAL_ADDRESS = "local_address"
CONF_LOCAL_PORT = "local_port"
CONF_LOCAL_INSTANCE = "local_device_instance"
CONF_BBMD_ADDRESS = "bbmd_address"
CONF_WRITE_PRIORITY = "write_priority"
CONF_APDU_TIMEOUT = "apdu_timeout"
CONF_APDU_RETRIES = "apdu_retries"

DEFAULT_WRITE_PRIORITY = 12
BACNET_DEFAULTS: dict[str, Any] = {
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
        values = {**BACNET_DEFAULTS, **dict(options.get(CONF_BACNET) or {})}
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

    @staticmethod
    def write_priority_of(options: Mapping[str, Any]) -> int:
        """The priority microdc writes at, even where the network settings are unusable."""
        values = {**BACNET_DEFAULTS, **dict(options.get(CONF_BACNET) or {})}
        return int(values[CONF_WRITE_PRIORITY])


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


def check_write_priority(values: Mapping[str, Any]) -> dict[str, str]:
    """The write priority's error, if any: 1-4 belong to life safety, never to microdc.

    Apart from check_bacnet so that a site stored with such a priority still loads (its
    writes are refused by the device layer) and the form says why when it is next saved.
    """
    priority = values.get(CONF_WRITE_PRIORITY, DEFAULT_WRITE_PRIORITY)
    try:
        number = int(priority)
    except TypeError, ValueError:
        return {CONF_WRITE_PRIORITY: "reserved_priority"}
    if not LOWEST_RESERVED_PRIORITY < number <= HIGHEST_PRIORITY:
        return {CONF_WRITE_PRIORITY: "reserved_priority"}
    return {}


# --- UPS ----------------------------------------------------------------------------------

CONF_UPS = "ups"
UPS_DEFAULTS: dict[str, Any] = {
    CONF_LOW_BATTERY_RUNTIME: DEFAULT_LOW_BATTERY_RUNTIME_S,
    CONF_LOW_BATTERY_CHARGE: DEFAULT_LOW_BATTERY_CHARGE_PCT,
}


@dataclass(frozen=True, slots=True)
class UpsLimits:
    """Runtime and charge under which a UPS is low on battery, whatever its own flag says."""

    runtime_s: float
    charge_pct: float

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> UpsLimits:
        """Read the ups section of an entry's options (defaults for missing values)."""
        ups: Mapping[str, Any] = {**UPS_DEFAULTS, **(options.get(CONF_UPS) or {})}
        return cls(float(ups[CONF_LOW_BATTERY_RUNTIME]), float(ups[CONF_LOW_BATTERY_CHARGE]))


# --- routing ------------------------------------------------------------------------------

CONF_ROUTING = "routing"
CONF_EXHAUST_LIMIT = "exhaust_limit"
CONF_SUPPLY_LIMIT = "supply_limit"
CONF_HYSTERESIS = "hysteresis"
CONF_HOLD = "hold"
CONF_DWELL = "dwell"
CONF_GRACE = "grace"
CONF_CONFIRM_TIMEOUT = "confirm_timeout"
CONF_SAFETY_PRIORITY = "safety_priority"
CONF_DEFAULT_ROUTING = "default_routing"
CONF_MONITOR_ONLY = "monitor_only"

_ROUTING_LIB = RoutingSettings()
# A site never configured for routing: the router's own defaults, except the default routing.
# "relinquish" rather than the router's "reject": with no request microdc then holds no valve,
# so a site upgraded from a version without routing keeps its valves as its building sets them
# until someone asks for heat (safety still acts on its limits).
ROUTING_DEFAULTS: dict[str, Any] = {
    CONF_EXHAUST_LIMIT: _ROUTING_LIB.exhaust_limit,
    CONF_SUPPLY_LIMIT: _ROUTING_LIB.supply_limit,
    CONF_HYSTERESIS: _ROUTING_LIB.hysteresis,
    CONF_HOLD: int(_ROUTING_LIB.hold),
    CONF_DWELL: int(_ROUTING_LIB.dwell),
    CONF_GRACE: int(_ROUTING_LIB.grace),
    CONF_CONFIRM_TIMEOUT: int(_ROUTING_LIB.confirm_timeout),
    CONF_SAFETY_PRIORITY: _ROUTING_LIB.safety_priority,
    CONF_DEFAULT_ROUTING: DefaultRouting.RELINQUISH.value,
    CONF_MONITOR_ONLY: False,
}
# The router's settings field each option sets (SettingsError names the router's field).
_ROUTING_FIELDS = {
    "exhaust_limit": CONF_EXHAUST_LIMIT,
    "supply_limit": CONF_SUPPLY_LIMIT,
    "hysteresis": CONF_HYSTERESIS,
    "hold": CONF_HOLD,
    "dwell": CONF_DWELL,
    "grace": CONF_GRACE,
    "confirm_timeout": CONF_CONFIRM_TIMEOUT,
    "safety_priority": CONF_SAFETY_PRIORITY,
    "default": CONF_DEFAULT_ROUTING,
    "comfort_priority": CONF_WRITE_PRIORITY,  # the site's write priority, under BACnet
}


def routing_values(options: Mapping[str, Any]) -> dict[str, Any]:
    """The routing section's values: the stored ones over the defaults."""
    return {**ROUTING_DEFAULTS, **dict(options.get(CONF_ROUTING) or {})}


def routing_settings(values: Mapping[str, Any], comfort_priority: int) -> RoutingSettings:
    """The router's settings from the section's values; SettingsError if they are refused."""
    values = {**ROUTING_DEFAULTS, **values}
    try:
        default = DefaultRouting(values[CONF_DEFAULT_ROUTING])
    except ValueError as err:
        raise SettingsError("default", "invalid", str(err)) from err
    return RoutingSettings(
        exhaust_limit=float(values[CONF_EXHAUST_LIMIT]),
        supply_limit=float(values[CONF_SUPPLY_LIMIT]),
        hysteresis=float(values[CONF_HYSTERESIS]),
        hold=float(values[CONF_HOLD]),
        dwell=float(values[CONF_DWELL]),
        grace=float(values[CONF_GRACE]),
        confirm_timeout=float(values[CONF_CONFIRM_TIMEOUT]),
        default=default,
        comfort_priority=comfort_priority,
        safety_priority=int(values[CONF_SAFETY_PRIORITY]),
        monitor_only=bool(values[CONF_MONITOR_ONLY]),
    )


def check_routing(values: Mapping[str, Any], comfort_priority: int) -> dict[str, str]:
    """Errors of the routing section, keyed by field (``routing_<code>`` translation keys)."""
    try:
        routing_settings(values, comfort_priority)
    except SettingsError as err:
        return {_ROUTING_FIELDS.get(err.field, "base"): f"routing_{err.code}"}
    return {}
