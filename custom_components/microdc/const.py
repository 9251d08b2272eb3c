"""Constants shared by microdc's Home Assistant glue."""

from typing import Final

DOMAIN: Final = "microdc"

CONF_SITE_NAME: Final = "site_name"
