"""The site's heat options: the loop's fluid, the integration gap and the displaced heating.

Stored in the site entry's options under the ``heat`` section, so that other option groups
of the site can sit beside it as sections of the same options flow. ``HeatOptions.from_entry``
turns them into the heat domain's types, with defaults for a site never configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from homeassistant.config_entries import ConfigEntry, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio

from .bacnet_options import CONF_BACNET, bacnet_schema, check_bacnet, current_bacnet
from .heat import DisplacedHeating, Fluid, HeatDomainError, HeatingKind
from .ups_options import CONF_UPS, current_ups, ups_schema

CONF_HEAT: str = "heat"
CONF_FLUID: str = "fluid"
CONF_MAX_GAP: str = "max_gap"
CONF_HEATING_KIND: str = "heating_kind"
CONF_EFFICIENCY: str = "efficiency"
CONF_TARIFF: str = "tariff"
CONF_EMISSION_FACTOR: str = "emission_factor"

# A site never configured: a water loop displacing a condensing gas boiler.
DEFAULTS: dict[str, Any] = {
    CONF_FLUID: Fluid.WATER.value,
    CONF_MAX_GAP: 300,  # s: a few missed polls at the usual 10 to 30 s scan intervals
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
        heat = {**DEFAULTS, **dict(options.get(CONF_HEAT) or {})}
        return cls(
            fluid=Fluid(heat[CONF_FLUID]),
            max_gap_s=float(heat[CONF_MAX_GAP]),
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
            probatio.Required(CONF_MAX_GAP): _number(*MAX_GAP_RANGE_S, 1, "s"),
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


class SiteOptionsFlow(OptionsFlowWithReload):
    """The site's options; saving them reloads the site (its figures depend on them)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One form; each group of options is a section."""
        errors: dict[str, str] = {}
        if user_input is not None:
            errors = check_heat(user_input[CONF_HEAT])
            errors |= check_bacnet(user_input.get(CONF_BACNET) or {})
            if not errors:
                return self.async_create_entry(data={**self.config_entry.options, **user_input})
        current = user_input or {
            CONF_HEAT: {**DEFAULTS, **dict(self.config_entry.options.get(CONF_HEAT) or {})},
            CONF_BACNET: current_bacnet(self.config_entry.options),
            CONF_UPS: current_ups(self.config_entry.options),
        }
        schema = probatio.Schema(
            {
                probatio.Required(CONF_HEAT): section(heat_schema(self.hass), {"collapsed": False}),
                # The shared BACnet/IP socket and write priority (bacnet_options.py).
                probatio.Required(CONF_BACNET): section(bacnet_schema(), {"collapsed": True}),
                # When a UPS counts as low on battery whatever its flag says (ups_options.py).
                probatio.Required(CONF_UPS): section(ups_schema(), {"collapsed": True}),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, current),
            errors=errors,
            description_placeholders={"currency": self.hass.config.currency},
        )
