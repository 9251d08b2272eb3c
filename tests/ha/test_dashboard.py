"""dashboards/microdc.yaml: the ERF hint card says why ERF reads above 100 %, in words."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template
import yaml

from tests.simulator_process import REPO_ROOT

ERF_TODAY = "sensor.demo_site_energy_reuse_factor_today"


def _cards(node: Any) -> list[dict[str, Any]]:
    """Every card of the dashboard, stacks and conditional cards opened."""
    if isinstance(node, list):
        return [card for item in node for card in _cards(item)]
    if not isinstance(node, dict):
        return []
    inner = [*node.get("cards", []), *([node["card"]] if "card" in node else [])]
    return ([node] if "type" in node else []) + _cards(inner) + _cards(node.get("views", []))


def _erf_hint() -> dict[str, Any]:
    dashboard = yaml.safe_load((REPO_ROOT / "dashboards" / "microdc.yaml").read_text("utf-8"))
    (hint,) = [
        card
        for card in _cards(dashboard)
        if card["type"] == "conditional" and card["conditions"][0].get("entity") == ERF_TODAY
    ]
    assert hint["conditions"] == [{"condition": "numeric_state", "entity": ERF_TODAY, "above": 100}]
    return dict(hint["card"])


async def test_the_erf_hint_says_why_in_words(hass: HomeAssistant) -> None:
    content = Template(_erf_hint()["content"], hass)
    hass.states.async_set(
        ERF_TODAY,
        "152.9",
        {"above_100_percent_because": ["it_energy_unknown", "heat_set_aside"]},
    )
    text = content.async_render(parse_result=False)
    assert "Above 100 %" in text
    assert "a PDU was not read for a while; some heat was set aside" in text
    assert "it_energy_unknown" not in text
    # Without reasons (the attribute is the lifetime ERF's rule): the meters disagree.
    hass.states.async_set(ERF_TODAY, "152.9", {})
    assert "the heat and IT meters disagree." in content.async_render(parse_result=False)
