"""manifest.json and hacs.json carry what hassfest and HACS require of a custom integration."""

import json
from pathlib import Path
import re

from awesomeversion import AwesomeVersion
import homeassistant
from homeassistant.const import __version__ as ha_version
import pytest

ROOT = Path(__file__).parents[2]
INTEGRATION = ROOT / "custom_components" / "microdc"

REQUIRED_MANIFEST_KEYS = {
    "domain": str,
    "name": str,
    "version": str,
    "documentation": str,
    "issue_tracker": str,
    "codeowners": list,
    "config_flow": bool,
    "integration_type": str,
    "iot_class": str,
    "loggers": list,
    "requirements": list,
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}


@pytest.fixture(name="manifest")
def manifest_fixture() -> dict[str, object]:
    """The integration's manifest."""
    return json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))


def _ha_constraints() -> dict[str, str]:
    """Home Assistant's own pins (package_constraints.txt), name -> version."""
    text = (Path(homeassistant.__file__).parent / "package_constraints.txt").read_text("utf-8")
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", text, re.MULTILINE)
    return {name.lower(): version for name, version in pins}


def test_manifest_has_every_required_key(manifest: dict[str, object]) -> None:
    """Every key hassfest and HACS ask of a custom integration, with the right type."""
    for key, kind in REQUIRED_MANIFEST_KEYS.items():
        assert isinstance(manifest.get(key), kind), key
    assert manifest["domain"] == INTEGRATION.name
    assert manifest["iot_class"] in IOT_CLASSES
    assert manifest["integration_type"] in INTEGRATION_TYPES
    assert manifest["config_flow"] is True
    # Home Assistant refuses to load a custom integration whose version does not parse.
    assert AwesomeVersion(str(manifest["version"])).valid
    for url_key in ("documentation", "issue_tracker"):
        assert str(manifest[url_key]).startswith("https://")


def test_requirements_agree_with_home_assistant_and_tests(manifest: dict[str, object]) -> None:
    """Pins that Home Assistant also pins must match it; the test environment uses the same."""
    constraints = _ha_constraints()
    tested = (ROOT / "requirements_test.txt").read_text(encoding="utf-8")
    requirements = manifest["requirements"]
    assert isinstance(requirements, list)
    assert requirements, "microdc needs its protocol libraries"
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement} is not pinned"
        if name.lower() in constraints:
            assert constraints[name.lower()] == version, requirement
        assert re.search(rf"^{re.escape(requirement)}$", tested, re.MULTILINE), requirement


def test_hacs_json() -> None:
    """hacs.json names the integration and a Home Assistant version that we test against."""
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert isinstance(hacs["name"], str)
    assert hacs["name"]
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)


def test_translations_match_strings() -> None:
    """translations/en.json is what Home Assistant shows; it must be strings.json exactly."""
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    english = json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8"))
    assert english == strings


def test_brand_icon_is_a_png() -> None:
    """HACS and the UI show brand/icon.png."""
    assert (INTEGRATION / "brand" / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
