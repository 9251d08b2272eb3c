"""The heat destination subentry flow: where a site's recovered heat can go.

A heat destination is a stockroom, a tenant's space or a shared heating loop, with the valve
point(s) whose opening sends heat there, chosen among the site's devices' points, and
optionally a heat meter of its own on its branch. ``reject`` (the dry cooler, outdoors) always
exists and is not a subentry.

A collapsed "routing" section holds what the heat router needs beyond that: the space
temperature and its limit, a feedback point for each of the first four valves (in the order
chosen), and the valves' open and closed positions. It is checked as the router would check it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
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
    CONF_CLOSED,
    CONF_FEEDBACK,
    CONF_KIND,
    CONF_OPEN,
    CONF_SPACE,
    CONF_SPACE_LIMIT,
    CONF_VALVES,
    DEFAULT_CLOSED_PCT,
    DEFAULT_OPEN_PCT,
    NO_METER,
    DestinationKind,
    HeatDestinationConfig,
)
from ..lib.heat import REJECT
from ..lib.points import PointRef
from ..lib.routing import Destination, DestinationError, DestinationKind as RouteKind, Valve
from ..site_points import (
    async_site_points,
    branch_meter_choices,
    feedback_candidates,
    meter_devices,
    space_candidates,
    valve_candidates,
)

CONF_ROUTING = "routing"
FEEDBACK_FIELDS = ("feedback_1", "feedback_2", "feedback_3", "feedback_4")
# The router's refusals, by the field the form shows them on.
_DESTINATION_ERRORS = {
    "space_without_limit": CONF_SPACE_LIMIT,
    "bad_space_limit": CONF_SPACE_LIMIT,
    "bad_position": CONF_OPEN,
    "open_is_closed": CONF_CLOSED,
    "feedback_is_command": FEEDBACK_FIELDS[0],
}


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
        spaces = {p.ref: p.label for p in space_candidates(points)}
        feedbacks = {p.ref: p.label for p in feedback_candidates(points)}
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
            # The points other destinations command or read their valves' positions from:
            # the router refuses a site where one point serves two destinations.
            taken = {
                str(ref)
                for subentry in entry.subentries.values()
                if subentry.subentry_type == SUBENTRY_HEAT_DESTINATION
                and (current is None or subentry.subentry_id != current.subentry_id)
                for ref in (
                    *subentry.data.get(CONF_VALVES, ()),
                    *dict(subentry.data.get(CONF_FEEDBACK) or {}).values(),
                )
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
            elif valve_error := _check_valves(chosen, valves, taken):
                errors[CONF_VALVES] = valve_error
            elif (meter := user_input.get(CONF_BRANCH_METER) or NO_METER) in other_branch_meters:
                errors[CONF_BRANCH_METER] = "branch_meter_taken"
            elif meter != NO_METER and (
                meter not in meters or not set(meters) - other_branch_meters - {meter}
            ):
                # The rack's loop needs a meter of its own: the first one that is no branch's.
                errors[CONF_BRANCH_METER] = "branch_meter_is_loop_meter"
            elif routing_errors := _check_routing(
                chosen, dict(user_input.get(CONF_ROUTING) or {}), spaces, feedbacks, taken
            ):
                errors |= routing_errors
            else:
                config = HeatDestinationConfig(
                    kind=DestinationKind(user_input[CONF_KIND]),
                    valves=tuple(chosen),
                    branch_meter=None if meter == NO_METER else str(meter),
                    **_routing_config(chosen, dict(user_input.get(CONF_ROUTING) or {})),
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
            suggested[CONF_ROUTING] = _routing_suggested(
                HeatDestinationConfig.from_data(current.data)
            )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _schema(
                    valves, branch_meter_choices(points, other_branch_meters), spaces, feedbacks
                ),
                suggested,
            ),
            errors=errors,
        )


def _options(choices: Mapping[str, str]) -> list[SelectOptionDict]:
    return [SelectOptionDict(value=value, label=label) for value, label in choices.items()]


def _check_valves(chosen: list[str], valves: Mapping[str, str], taken: set[str]) -> str | None:
    """The error of the valves chosen, if any."""
    if not chosen or any(ref not in valves for ref in chosen):
        return "invalid_valves"
    if len(set(chosen)) != len(chosen):
        # The router would refuse the whole site at its next start, not just this destination.
        return "duplicate_valves"
    if any(ref in taken for ref in chosen):
        return "valve_taken"
    return None


def _feedback_of(chosen: list[str], routing: Mapping[str, Any]) -> dict[str, str]:
    """Valve -> feedback point, the n-th feedback field belonging to the n-th valve chosen."""
    return {
        valve: str(routing[name])
        for valve, name in zip(chosen, FEEDBACK_FIELDS, strict=False)
        if routing.get(name)
    }


def _routing_config(chosen: list[str], routing: Mapping[str, Any]) -> dict[str, Any]:
    space = routing.get(CONF_SPACE) or None
    limit = routing.get(CONF_SPACE_LIMIT)
    return {
        "space": None if space is None else str(space),
        "space_limit": None if space is None or limit is None else float(limit),
        "feedback": _feedback_of(chosen, routing),
        "open_pct": float(routing.get(CONF_OPEN, DEFAULT_OPEN_PCT)),
        "closed_pct": float(routing.get(CONF_CLOSED, DEFAULT_CLOSED_PCT)),
    }


def _check_points(
    chosen: list[str],
    routing: Mapping[str, Any],
    spaces: Mapping[str, str],
    feedbacks: Mapping[str, str],
    taken: set[str],
) -> dict[str, str]:
    """Errors of the points the routing section names."""
    space = routing.get(CONF_SPACE) or None
    errors: dict[str, str] = {}
    if space is not None and space not in spaces:
        errors[CONF_SPACE] = "invalid_space_temperature"
    elif space is None and routing.get(CONF_SPACE_LIMIT) is not None:
        errors[CONF_SPACE] = "space_limit_without_space"
    for index, name in enumerate(FEEDBACK_FIELDS):
        ref = routing.get(name)
        if not ref:
            continue
        if ref not in feedbacks:
            errors[name] = "invalid_feedback"
        elif index >= len(chosen):
            errors[name] = "feedback_without_valve"
        elif ref in chosen:
            errors[name] = "feedback_is_a_valve"
        elif ref in taken:
            errors[name] = "feedback_taken"
    return errors


def _check_routing(
    chosen: list[str],
    routing: Mapping[str, Any],
    spaces: Mapping[str, str],
    feedbacks: Mapping[str, str],
    taken: set[str],
) -> dict[str, str]:
    """Errors of the routing section, as the router itself would refuse the destination."""
    errors = _check_points(chosen, routing, spaces, feedbacks, taken)
    if errors:
        return errors
    config = _routing_config(chosen, routing)
    space, feedback = config["space"], config["feedback"]
    try:
        Destination(
            "check",
            "check",
            RouteKind.STOCKROOM,
            tuple(
                Valve(
                    PointRef.parse(valve),
                    config["open_pct"],
                    config["closed_pct"],
                    PointRef.parse(feedback[valve]) if valve in feedback else None,
                )
                for valve in chosen
            ),
            None if space is None else PointRef.parse(space),
            config["space_limit"],
        )
    except DestinationError as err:
        return {_DESTINATION_ERRORS.get(err.code, "base"): f"routing_{err.code}"}
    except ValueError:
        return {"base": "routing_bad_point"}
    return {}


def _routing_suggested(config: HeatDestinationConfig) -> dict[str, Any]:
    suggested: dict[str, Any] = {CONF_OPEN: config.open_pct, CONF_CLOSED: config.closed_pct}
    if config.space is not None:
        suggested[CONF_SPACE] = config.space
        suggested[CONF_SPACE_LIMIT] = config.space_limit
    for valve, name in zip(config.valves, FEEDBACK_FIELDS, strict=False):
        if valve in config.feedback:
            suggested[name] = config.feedback[valve]
    return suggested


def _percent() -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=0, max=100, step=1, unit_of_measurement="%", mode=NumberSelectorMode.BOX
        )
    )


def _routing_schema(spaces: Mapping[str, str], feedbacks: Mapping[str, str]) -> probatio.Schema:
    choose = SelectSelector(
        SelectSelectorConfig(options=_options(feedbacks), mode=SelectSelectorMode.DROPDOWN)
    )
    return probatio.Schema(
        {
            probatio.Optional(CONF_SPACE): SelectSelector(
                SelectSelectorConfig(options=_options(spaces), mode=SelectSelectorMode.DROPDOWN)
            ),
            probatio.Optional(CONF_SPACE_LIMIT): NumberSelector(
                NumberSelectorConfig(
                    min=5, max=60, step=0.5, unit_of_measurement="°C", mode=NumberSelectorMode.BOX
                )
            ),
            **{probatio.Optional(name): choose for name in FEEDBACK_FIELDS},
            probatio.Required(CONF_OPEN, default=DEFAULT_OPEN_PCT): _percent(),
            probatio.Required(CONF_CLOSED, default=DEFAULT_CLOSED_PCT): _percent(),
        }
    )


def _schema(
    valves: Mapping[str, str],
    meters: Mapping[str, str],
    spaces: Mapping[str, str] | None = None,
    feedbacks: Mapping[str, str] | None = None,
) -> probatio.Schema:
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
            # The heat router's settings of the destination (docs/routing.md).
            probatio.Optional(CONF_ROUTING, default={}): section(
                _routing_schema(spaces or {}, feedbacks or {}), {"collapsed": True}
            ),
        }
    )
