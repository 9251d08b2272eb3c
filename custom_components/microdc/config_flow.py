"""Config flow for microdc: one config entry per site."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import TextSelector
from homeassistant.util import slugify
import probatio

from .const import (
    CONF_SITE_NAME,
    DOMAIN,
    SUBENTRY_BACNET_DEVICE,
    SUBENTRY_HEAT_DESTINATION,
    SUBENTRY_MODBUS_DEVICE,
)
from .flows.bacnet import BacnetDeviceSubentryFlow
from .flows.heat_destination import HeatDestinationSubentryFlow
from .flows.modbus import ModbusDeviceSubentryFlow
from .flows.options import SiteOptionsFlow

# Home Assistant validates with probatio, voluptuous's successor; its typed APIs expect it.
SITE_SCHEMA = probatio.Schema({probatio.Required(CONF_SITE_NAME): TextSelector()})


class MicrodcConfigFlow(ConfigFlow, domain=DOMAIN):
    """Create a site: the name is all a facility manager needs to start."""

    VERSION = 1
    MINOR_VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the site's name."""
        errors: dict[str, str] = {}
        if user_input is not None:
            site_name = user_input[CONF_SITE_NAME].strip()
            # slugify() turns a name without letters or digits into "unknown": refuse it first.
            if not any(char.isalnum() for char in site_name):
                errors[CONF_SITE_NAME] = "invalid_site_name"
            else:
                await self.async_set_unique_id(slugify(site_name))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=site_name, data={CONF_SITE_NAME: site_name})
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(SITE_SCHEMA, user_input),
            errors=errors,
        )

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """A site's devices and heat destinations are its subentries."""
        return {
            SUBENTRY_MODBUS_DEVICE: ModbusDeviceSubentryFlow,
            SUBENTRY_BACNET_DEVICE: BacnetDeviceSubentryFlow,
            SUBENTRY_HEAT_DESTINATION: HeatDestinationSubentryFlow,
        }

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> SiteOptionsFlow:
        """The site's options (heat accounting; other groups join as sections)."""
        return SiteOptionsFlow()
