"""Routing tests run without Home Assistant: undo the suite-wide autouse hass fixture."""

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override tests/conftest.py's fixture, which would start a Home Assistant per test."""
