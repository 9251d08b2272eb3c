"""The heat destination subentry flow: where a site's recovered heat can go.

A heat destination is a stockroom, a tenant's space or a shared heating loop, with the valve
point(s) whose opening sends heat there, chosen among the site's devices' points, and
optionally a heat meter of its own on its branch. ``reject`` (the dry cooler, outdoors) always
exists and is not a subentry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio

from ..const import SUBENTRY_HEAT_DESTINATION
from ..destination_config import (
    CONF_BRANCH_METER,
    CONF_KIND,
    CONF_VALVES,
    NO_METER,
    DestinationKind,
    HeatDestinationConfig,
)
from ..lib.heat import REJECT
from ..site_points import (
    async_site_points,
    branch_meter_choices,
    meter_devices,
    valve_candidates,
)


class HeatDestinationSubentryFlow(ConfigSubentryFlow):
    """Add or change a heat destination of a site."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name the destination, its kind, its valves and its meter."""
        return await self._async_step_destination("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a destination; its recovered heat so far stays with it."""
        return await self._async_step_destination("reconfigure", user_input)

    async def _async_step_destination(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        points = await async_site_points(self.hass, entry)
        valves = {p.ref: p.label for p in valve_candidates(points)}
        meters = meter_devices(points)
        if not valves:
            return self.async_abort(reason="no_valve_points")
        reconfiguring = step_id == "reconfigure"
        current = self._get_reconfigure_subentry() if reconfiguring else None
        other_branch_meters = {
            str(subentry.data[CONF_BRANCH_METER])
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_HEAT_DESTINATION
            and (current is None or subentry.subentry_id != current.subentry_id)
            and subentry.data.get(CONF_BRANCH_METER)
        }
        errors: dict[str, str] = {}
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip()
            chosen = [str(v) for v in user_input.get(CONF_VALVES, [])]
            taken = {
                ref: subentry.title
                for subentry in entry.subentries.values()
                if subentry.subentry_type == SUBENTRY_HEAT_DESTINATION
                and (current is None or subentry.subentry_id != current.subentry_id)
                for ref in subentry.data.get(CONF_VALVES, ())
            }
            titles = {
                subentry.title.casefold()
                for subentry in entry.subentries.values()
                if subentry.subentry_type == SUBENTRY_HEAT_DESTINATION
                and (current is None or subentry.subentry_id != current.subentry_id)
            }
            if not any(char.isalnum() for char in name) or name.casefold() == REJECT:
                errors[CONF_NAME] = "invalid_destination_name"
            elif name.casefold() in titles:
                errors[CONF_NAME] = "destination_name_taken"
            elif not chosen or any(ref not in valves for ref in chosen):
                errors[CONF_VALVES] = "invalid_valves"
            elif any(ref in taken for ref in chosen):
                errors[CONF_VALVES] = "valve_taken"
            elif (meter := user_input.get(CONF_BRANCH_METER) or NO_METER) in other_branch_meters:
                errors[CONF_BRANCH_METER] = "branch_meter_taken"
            elif meter != NO_METER and (
                meter not in meters or not set(meters) - other_branch_meters - {meter}
            ):
                # The rack's loop needs a meter of its own: the first one that is no branch's.
                errors[CONF_BRANCH_METER] = "branch_meter_is_loop_meter"
            else:
                config = HeatDestinationConfig(
                    kind=DestinationKind(user_input[CONF_KIND]),
                    valves=tuple(chosen),
                    branch_meter=None if meter == NO_METER else str(meter),
                )
                if current is not None:
                    return self.async_update_reload_and_abort(
                        entry, current, title=name, data=config.as_data()
                    )
                return self.async_create_entry(title=name, data=config.as_data())
        suggested: dict[str, Any] | None = user_input
        if suggested is None and current is not None:
            suggested = {**current.data, CONF_NAME: current.title}
            suggested[CONF_BRANCH_METER] = current.data.get(CONF_BRANCH_METER) or NO_METER
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _schema(valves, branch_meter_choices(points, other_branch_meters)), suggested
            ),
            errors=errors,
        )


def _options(choices: Mapping[str, str]) -> list[SelectOptionDict]:
    return [SelectOptionDict(value=value, label=label) for value, label in choices.items()]


def _schema(valves: Mapping[str, str], meters: Mapping[str, str]) -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Required(CONF_NAME): TextSelector(),
            probatio.Required(CONF_KIND, default=DestinationKind.STOCKROOM.value): SelectSelector(
                SelectSelectorConfig(
                    options=[kind.value for kind in DestinationKind],
                    translation_key="destination_kind",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(CONF_VALVES): SelectSelector(
                SelectSelectorConfig(
                    options=_options(valves), multiple=True, mode=SelectSelectorMode.DROPDOWN
                )
            ),
            probatio.Required(CONF_BRANCH_METER, default=NO_METER): SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=NO_METER, label="—"),
                        *_options(meters),
                    ],
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
        }
    )
