"""The site's UPS options: when a UPS counts as low on battery, whatever its own flag says.

Stored in the site entry's options under the ``ups`` section, beside the other sections of the
site's options flow (heat_options.py). Some UPS network cards never raise their low-battery
flag; microdc then relies on runtime and charge against these limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
)
import probatio

from .const import (
    CONF_LOW_BATTERY_CHARGE,
    CONF_LOW_BATTERY_RUNTIME,
    DEFAULT_LOW_BATTERY_CHARGE_PCT,
    DEFAULT_LOW_BATTERY_RUNTIME_S,
)

CONF_UPS = "ups"
DEFAULTS: dict[str, Any] = {
    CONF_LOW_BATTERY_RUNTIME: DEFAULT_LOW_BATTERY_RUNTIME_S,
    CONF_LOW_BATTERY_CHARGE: DEFAULT_LOW_BATTERY_CHARGE_PCT,
}


def ups_limits(options: Mapping[str, Any]) -> tuple[float, float]:
    """(runtime in s, charge in %) under which a UPS is low on battery."""
    ups: Mapping[str, Any] = {**DEFAULTS, **(options.get(CONF_UPS) or {})}
    return float(ups[CONF_LOW_BATTERY_RUNTIME]), float(ups[CONF_LOW_BATTERY_CHARGE])


def current_ups(options: Mapping[str, Any]) -> dict[str, Any]:
    """The section's values to show in the form."""
    return {**DEFAULTS, **dict(options.get(CONF_UPS) or {})}


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
