"""Where Home Assistant finds profiles: the built-in folder and the user's own."""

from __future__ import annotations

import logging
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, USER_PROFILES_DIR
from .lib.profile import BUILTIN_PROFILES_DIR, ProfileLoadResult, load_profiles

_LOGGER = logging.getLogger(__name__)

ISSUE_INVALID_PROFILES = "invalid_profiles"
ISSUE_INVALID_PROFILE_COPIES = "invalid_profile_copies"  # same issue, worded for built-in copies


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
    # A repair issue lists the bad files until they are fixed (or removed).
    if result.errors:
        # A skipped file named like a profile that did load is a broken copy of a built-in
        # one: its devices keep running on the built-in profile, without the user's changes.
        copies = sorted(
            {error.file for error in result.errors if Path(error.file).stem in result.profiles}
        )
        ir.async_create_issue(
            hass,
            DOMAIN,
            ISSUE_INVALID_PROFILES,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_INVALID_PROFILE_COPIES if copies else ISSUE_INVALID_PROFILES,
            translation_placeholders={
                "folder": "/".join(USER_PROFILES_DIR),
                "errors": "\n".join(f"- {error}" for error in result.errors),
                "copies": ", ".join(copies),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, ISSUE_INVALID_PROFILES)
    return result
