"""Every built-in profile's entities have names and states in strings.json, for their platform.

A point's entity is named by its translation key, else its role (when no other point of the
device shares it), else its key; the translation lives under the platform the point lands on
(a writable number is entity.number, not entity.sensor). This walks each built-in profile
through the platforms' own schemas, so a point that moves platform is checked where it lands.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

from homeassistant.const import Platform
import pytest

from custom_components.microdc import binary_sensor, number, select, sensor, switch, valve
from custom_components.microdc.discovery import PointSchema
from custom_components.microdc.lib.points import Point
from custom_components.microdc.lib.profile import BUILTIN_PROFILES_DIR, load_profiles

PACKAGE = Path(sensor.__file__).parent
PLATFORM_SCHEMAS: dict[Platform, tuple[PointSchema[Any], ...]] = {
    Platform.SENSOR: sensor.SCHEMAS,
    Platform.BINARY_SENSOR: binary_sensor.SCHEMAS,
    Platform.NUMBER: number.SCHEMAS,
    Platform.SWITCH: switch.SCHEMAS,
    Platform.SELECT: select.SCHEMAS,
    Platform.VALVE: valve.SCHEMAS,
}


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """No Home Assistant instance needed here (overrides the suite's autouse fixture)."""


def _entities() -> Iterator[tuple[str, Platform, Any]]:
    """(profile id, platform, description) of every entity the built-in profiles make."""
    result = load_profiles(BUILTIN_PROFILES_DIR)
    assert result.errors == []
    for profile_id, profile in sorted(result.profiles.items()):
        points: dict[str, Point] = {k: p.as_point() for k, p in profile.points.items()}
        for platform, schemas in PLATFORM_SCHEMAS.items():
            for point in points.values():
                schema = next((s for s in schemas if s.matches(point)), None)
                if schema is not None:
                    for description in schema.describe(point, points):
                        yield profile_id, platform, description


def _entity_strings(file: Path) -> dict[str, Any]:
    entity: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))["entity"]
    return entity


@pytest.mark.parametrize("file", ["strings.json", "translations/en.json"])
def test_every_builtin_entity_is_translated_for_its_platform(file: str) -> None:
    strings = _entity_strings(PACKAGE / file)
    missing: list[str] = []
    for profile_id, platform, description in _entities():
        where = f"{profile_id}.{description.key} ({platform})"
        key = description.translation_key
        if key is None:
            # Named from its key: only the demo profiles may (their points are made up).
            if not profile_id.startswith("demo_"):
                missing.append(f"{where}: no translation key")
            continue
        entry = strings.get(platform, {}).get(key)
        if entry is None or not entry.get("name"):
            missing.append(f"{where}: entity.{platform}.{key}.name")
            continue
        for option in getattr(description, "options", None) or []:
            if option not in entry.get("state", {}):
                missing.append(f"{where}: entity.{platform}.{key}.state.{option}")
    assert missing == []
