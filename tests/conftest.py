"""Fixtures shared by microdc's Home Assistant tests."""

import pytest

# Imported before any hass fixture puts phcc's own testing_config/custom_components on
# sys.path; otherwise Home Assistant resolves custom_components there and cannot find microdc.
import custom_components.microdc  # noqa: F401

# The site simulator as a real process: the simulator and simulator_factory fixtures.
pytest_plugins = ["tests.simulator_process"]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    enable_custom_integrations: None,
) -> None:
    """Let Home Assistant load microdc from custom_components/ in every test."""
