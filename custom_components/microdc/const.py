"""Constants shared by microdc's Home Assistant glue."""

from typing import Final

from .lib.protocols import block_planner, modbus

DOMAIN: Final = "microdc"

CONF_SITE_NAME: Final = "site_name"

# Device subentries (ConfigSubentryFlow): one per microdc device.
SUBENTRY_MODBUS_DEVICE: Final = "modbus_device"
CONF_FRAMING: Final = "framing"
CONF_UNIT_ID: Final = "unit_id"
CONF_PROFILE: Final = "profile"
CONF_POLLING: Final = "polling"  # the collapsed section of polling settings
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_TIMEOUT: Final = "timeout"
# Registers: the longest run of unused registers a block read reads through.
CONF_MAX_REGISTER_GAP: Final = "max_gap"

DEFAULT_MODBUS_PORT: Final = 502
DEFAULT_UNIT_ID: Final = 1
DEFAULT_SCAN_INTERVAL_S: Final = 10
# The form's defaults are the transport's own (one definition each).
DEFAULT_TIMEOUT_S: Final = modbus.DEFAULT_TIMEOUT
DEFAULT_MAX_REGISTER_GAP: Final = block_planner.DEFAULT_MAX_GAP
# A point the device refused (illegal address) is read alone again this often.
SUSPECT_REPROBE_S: Final = 600

# The user's own profiles, relative to Home Assistant's configuration folder.
USER_PROFILES_DIR: Final = ("microdc", "profiles")

# Site options: a UPS counts as low on battery under these, whatever its own flag says.
CONF_LOW_BATTERY_RUNTIME: Final = "low_battery_runtime"
CONF_LOW_BATTERY_CHARGE: Final = "low_battery_charge"
DEFAULT_LOW_BATTERY_RUNTIME_S: Final = 300
DEFAULT_LOW_BATTERY_CHARGE_PCT: Final = 20

# BACnet/IP device subentries (flows/bacnet.py); the site's BACnet settings are in settings.py.
SUBENTRY_BACNET_DEVICE: Final = "bacnet_device"
# Heat destination subentries (flows/heat_destination.py).
SUBENTRY_HEAT_DESTINATION: Final = "heat_destination"
SERVICE_RELINQUISH: Final = "relinquish"
