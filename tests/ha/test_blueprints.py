"""Every blueprint under blueprints/ passes Home Assistant's own blueprint validation."""

from pathlib import Path
from typing import Any

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.errors import InvalidBlueprint
from homeassistant.components.blueprint.models import Blueprint
from homeassistant.util.yaml import load_yaml_dict
import pytest

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"
# One schema per blueprint domain (the folder directly under blueprints/).
SCHEMAS = {"automation": AUTOMATION_BLUEPRINT_SCHEMA}


def _blueprint_files() -> list[Path]:
    return sorted(p for p in BLUEPRINTS.rglob("*") if p.suffix in {".yaml", ".yml"})


def _validate(data: dict[str, Any], domain: str, path: str) -> Blueprint:
    return Blueprint(data, path=path, expected_domain=domain, schema=SCHEMAS[domain])


def test_every_blueprint_is_valid() -> None:
    """Files added later are picked up here without touching this test."""
    for path in _blueprint_files():
        domain = path.relative_to(BLUEPRINTS).parts[0]
        assert domain in SCHEMAS, f"{path.name}: no schema for blueprint domain {domain!r}"
        blueprint = _validate(load_yaml_dict(path), domain, str(path))
        assert blueprint.name, path.name


def test_every_microdc_blueprint_is_found() -> None:
    """The check above sees each shipped blueprint (a moved or renamed file would drop out)."""
    assert {p.name for p in _blueprint_files()} >= {
        "ups_power_events.yaml",
        "divert_heat_by_occupancy_and_weather.yaml",
        "share_heat_between_tenants.yaml",
        "heat_safety_alert.yaml",
    }


def test_every_blueprint_needs_this_home_assistant() -> None:
    """The heat blueprints declare the release they are written for."""
    for path in _blueprint_files():
        if path.name != "ups_power_events.yaml":
            meta = load_yaml_dict(path)["blueprint"]
            assert meta["homeassistant"]["min_version"] == "2026.10.0", path.name


def test_validation_rejects_a_broken_blueprint() -> None:
    """The check above can fail: a blueprint of the wrong domain, and one with no trigger."""
    wrong_domain = {"blueprint": {"name": "x", "domain": "script", "input": {}}, "sequence": []}
    with pytest.raises(InvalidBlueprint):
        _validate(wrong_domain, "automation", "wrong_domain.yaml")
    with pytest.raises(InvalidBlueprint):
        _validate({"blueprint": {"name": "x"}}, "automation", "no_domain.yaml")
