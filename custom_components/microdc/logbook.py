"""Logbook descriptions of microdc's events: every routing change with its reason, overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN
from .routing import EVENT_HEAT_OVERRIDDEN, EVENT_HEAT_ROUTED


def _shares(shares: dict[str, float]) -> str:
    if not shares:
        return "the building's own controls"
    return ", ".join(f"{name} {share:.0%}" for name, share in sorted(shares.items()))


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe microdc's routing events for the logbook."""

    @callback
    def _routed(event: Event[Any]) -> dict[str, str]:
        data = event.data
        source = data.get("source")
        by = f", asked by {source}" if source else ""
        return {
            LOGBOOK_ENTRY_NAME: str(data.get("site", "microdc")),
            LOGBOOK_ENTRY_MESSAGE: (
                f"heat routed to {_shares(data.get('new') or {})} "
                f"(reason: {data.get('reason')}{by})"
            ),
        }

    @callback
    def _overridden(event: Event[Any]) -> dict[str, str]:
        data = event.data
        return {
            LOGBOOK_ENTRY_NAME: str(data.get("site", "microdc")),
            LOGBOOK_ENTRY_MESSAGE: (
                f"{data.get('point')} is held at priority {data.get('priority')}, above heat "
                "routing's: reported, not fought"
            ),
        }

    async_describe_event(DOMAIN, EVENT_HEAT_ROUTED, _routed)
    async_describe_event(DOMAIN, EVENT_HEAT_OVERRIDDEN, _overridden)
