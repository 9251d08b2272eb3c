"""The typed config entry of a site: its runtime data is the Site."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry

from .site import Site

type MicrodcConfigEntry = ConfigEntry[Site]
