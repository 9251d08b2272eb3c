"""quality_scale.yaml lists every Integration Quality Scale rule; hassfest skips custom code."""

from pathlib import Path

import homeassistant
import yaml

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "microdc"
STATUSES = {"todo", "done", "exempt"}


def _all_rules() -> set[str]:
    """The rules as Home Assistant's own integrations record them: the union of their files."""
    rules: set[str] = set()
    for path in (Path(homeassistant.__file__).parent / "components").glob("*/quality_scale.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        rules |= set(data.get("rules", {}))
    return rules


def test_every_rule_has_a_status() -> None:
    """No rule is missing, unknown or without a valid status; exemptions say why."""
    ours = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))
    rules = ours["rules"]
    known = _all_rules()
    assert len(known) > 40, "Home Assistant's rule list could not be read"
    assert set(rules) == known
    for rule, value in rules.items():
        status = value["status"] if isinstance(value, dict) else value
        assert status in STATUSES, rule
        if status == "exempt":
            assert isinstance(value, dict), rule
            assert value.get("comment"), rule
