"""Where Home Assistant finds profiles: the built-in folder and the user's own."""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.core import HomeAssistant

from .const import USER_PROFILES_DIR
from .profile import BUILTIN_PROFILES_DIR, ProfileLoadResult, load_profiles

_LOGGER = logging.getLogger(__name__)


def user_profiles_dir(hass: HomeAssistant) -> Path:
    """<config>/microdc/profiles: the user's own profiles, optional."""
    return Path(hass.config.path(*USER_PROFILES_DIR))


async def async_load_profiles(hass: HomeAssistant) -> ProfileLoadResult:
    """Load built-in and user profiles off the event loop; log each bad file's errors."""
    result = await hass.async_add_executor_job(
        load_profiles, BUILTIN_PROFILES_DIR, user_profiles_dir(hass)
    )
    for error in result.errors:
        _LOGGER.warning("Profile not loaded: %s", error)
    return result
