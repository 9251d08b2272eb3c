"""The site's options flow: one form, a section each for heat, BACnet/IP, the UPS limits, routing.

What the values mean, and their defaults, are in settings.py; this module only asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from homeassistant.config_entries import ConfigFlowResult, OptionsFlowWithReload
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio

from ..const import CONF_LOW_BATTERY_CHARGE, CONF_LOW_BATTERY_RUNTIME, SUBENTRY_HEAT_DESTINATION
from ..lib.heat import Fluid, HeatDomainError, HeatingKind
from ..lib.routing import DefaultRouting
from ..settings import (
    BACNET_DEFAULTS,
    CONF_APDU_RETRIES,
    CONF_APDU_TIMEOUT,
    CONF_BACNET,
    CONF_BBMD_ADDRESS,
    CONF_CONFIRM_TIMEOUT,
    CONF_DEFAULT_ROUTING,
    CONF_DWELL,
    CONF_EFFICIENCY,
    CONF_EMISSION_FACTOR,
    CONF_EXHAUST_LIMIT,
    CONF_FLUID,
    CONF_GRACE,
    CONF_HEAT,
    CONF_HEATING_KIND,
    CONF_HOLD,
    CONF_HYSTERESIS,
    CONF_LOCAL_ADDRESS,
    CONF_LOCAL_INSTANCE,
    CONF_LOCAL_PORT,
    CONF_MAX_READING_GAP,
    CONF_MONITOR_ONLY,
    CONF_ROUTING,
    CONF_SAFETY_PRIORITY,
    CONF_SUPPLY_LIMIT,
    CONF_TARIFF,
    CONF_UPS,
    CONF_WRITE_PRIORITY,
    HEAT_DEFAULTS,
    MAX_GAP_RANGE_S,
    UPS_DEFAULTS,
    HeatOptions,
    check_bacnet,
    check_routing,
    check_write_priority,
    routing_values,
)


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
    return {**BACNET_DEFAULTS, **dict(options.get(CONF_BACNET) or {})}


def current_ups(options: Mapping[str, Any]) -> dict[str, Any]:
    """The section's values to show in the form."""
    return {**UPS_DEFAULTS, **dict(options.get(CONF_UPS) or {})}


def ups_schema() -> probatio.Schema:
    """The ``ups`` section of the site's options form."""
    return probatio.Schema(
        {
            probatio.Required(CONF_LOW_BATTERY_RUNTIME): probatio.All(
                NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=7200,
                        step=10,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="s",
                    )
                ),
                probatio.Coerce(int),
            ),
            probatio.Required(CONF_LOW_BATTERY_CHARGE): probatio.All(
                NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=100,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="%",
                    )
                ),
                probatio.Coerce(int),
            ),
        }
    )


def _number(
    minimum: float, maximum: float, step: float | Literal["any"], unit: str
) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=step,
            unit_of_measurement=unit,
            mode=NumberSelectorMode.BOX,
        )
    )


def heat_schema(hass: HomeAssistant) -> probatio.Schema:
    """The fields of the heat section; the tariff's unit is Home Assistant's currency."""
    return probatio.Schema(
        {
            probatio.Required(CONF_FLUID): SelectSelector(
                SelectSelectorConfig(
                    options=[fluid.value for fluid in Fluid],
                    translation_key=CONF_FLUID,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(CONF_MAX_READING_GAP): _number(*MAX_GAP_RANGE_S, 1, "s"),
            probatio.Required(CONF_HEATING_KIND): SelectSelector(
                SelectSelectorConfig(
                    options=[kind.value for kind in HeatingKind],
                    translation_key=CONF_HEATING_KIND,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(CONF_EFFICIENCY): _number(0.01, 10, "any", ""),
            probatio.Required(CONF_TARIFF): _number(0, 100, "any", f"{hass.config.currency}/kWh"),
            probatio.Required(CONF_EMISSION_FACTOR): _number(0, 10, "any", "kg CO₂e/kWh"),
        }
    )


def check_heat(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Errors of the heat section, keyed by field (empty when the values are usable)."""
    try:
        HeatOptions.from_options({CONF_HEAT: user_input})
    except HeatDomainError:
        return {CONF_EFFICIENCY: f"invalid_efficiency_{user_input[CONF_HEATING_KIND]}"}
    except ValueError:
        return {"base": "invalid_heat_options"}
    return {}


def routing_schema() -> probatio.Schema:
    """The fields of the routing section: the heat router's limits, timers and priorities.

    The ranges are the router's own (lib/routing/settings.py); the safety priority's box
    allows 1-16 so that a priority of 1-4 gets its own error rather than a range message.
    """
    return probatio.Schema(
        {
            probatio.Required(CONF_EXHAUST_LIMIT): _number(15, 90, 0.5, "°C"),
            probatio.Required(CONF_SUPPLY_LIMIT): _number(15, 100, 0.5, "°C"),
            probatio.Required(CONF_HYSTERESIS): _number(0.1, 20, 0.1, "K"),
            probatio.Required(CONF_HOLD): probatio.All(
                _number(0, 86400, 1, "s"), probatio.Coerce(int)
            ),
            probatio.Required(CONF_DWELL): probatio.All(
                _number(0, 86400, 1, "s"), probatio.Coerce(int)
            ),
            probatio.Required(CONF_GRACE): probatio.All(
                _number(0, 3600, 1, "s"), probatio.Coerce(int)
            ),
            probatio.Required(CONF_CONFIRM_TIMEOUT): probatio.All(
                _number(1, 3600, 1, "s"), probatio.Coerce(int)
            ),
            probatio.Required(CONF_SAFETY_PRIORITY): probatio.All(
                _box(1, 16), probatio.Coerce(int)
            ),
            probatio.Required(CONF_DEFAULT_ROUTING): SelectSelector(
                SelectSelectorConfig(
                    options=[d.value for d in DefaultRouting],
                    translation_key=CONF_DEFAULT_ROUTING,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(CONF_MONITOR_ONLY): BooleanSelector(),
        }
    )


class SiteOptionsFlow(OptionsFlowWithReload):
    """The site's options; saving them reloads the site (its figures depend on them)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form; each group of options is a section."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = check_heat(user_input[CONF_HEAT])
            errors |= check_bacnet(user_input.get(CONF_BACNET) or {})
            errors |= check_write_priority(user_input.get(CONF_BACNET) or {})
            if CONF_ROUTING in user_input and self._has_destinations():
                comfort = int(
                    {
                        **current_bacnet(self.config_entry.options),
                        **user_input.get(CONF_BACNET, {}),
                    }[CONF_WRITE_PRIORITY]
                )
                errors |= check_routing(user_input[CONF_ROUTING], comfort)
            if not errors:
                return self.async_create_entry(data={**self.config_entry.options, **user_input})
        current = user_input or {
            CONF_HEAT: {**HEAT_DEFAULTS, **dict(self.config_entry.options.get(CONF_HEAT) or {})},
            CONF_BACNET: current_bacnet(self.config_entry.options),
            CONF_UPS: current_ups(self.config_entry.options),
            CONF_ROUTING: routing_values(self.config_entry.options),
        }
        schema = probatio.Schema(
            {
                probatio.Required(CONF_HEAT): section(heat_schema(self.hass), {"collapsed": False}),
                # The shared BACnet/IP socket and write priority (bacnet_options.py).
                probatio.Required(CONF_BACNET): section(bacnet_schema(), {"collapsed": True}),
                # When a UPS counts as low on battery whatever its flag says (ups_options.py).
                probatio.Required(CONF_UPS): section(ups_schema(), {"collapsed": True}),
                # The heat router's limits, timers and priorities (settings.py, docs/routing.md).
                probatio.Optional(CONF_ROUTING): section(routing_schema(), {"collapsed": True}),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, current),
            errors=errors,
            description_placeholders={"currency": self.hass.config.currency},
        )

    def _has_destinations(self) -> bool:
        """Routing is checked only where there is something to route."""
        return any(
            s.subentry_type == SUBENTRY_HEAT_DESTINATION
            for s in self.config_entry.subentries.values()
        )
