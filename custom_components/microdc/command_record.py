"""What one site has commanded on its devices, kept between restarts (a Store per site).

A priority array slot does not say who wrote it: two sites (or microdc and another client) at
the same priority look alike. So each site records every command it writes, by device and
point, with its priority and value, and saves the record at once (a crash right after a write
must not make the command anonymous). The devices adopt at start only what the record lists
and the slot still holds (lib/devices/bacnet.py); a relinquish forgets it.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .lib.points import Value

_LOGGER = logging.getLogger(__name__)

STORE_VERSION = 1

type Commands = dict[str, dict[str, dict[str, Value]]]  # device -> point -> priority -> value


def commands_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where a site's record of its commands is kept."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.commands.{entry_id}")


def _commands(data: Any) -> Commands:
    """The stored record, or nothing (logged) if it is not one this version wrote."""
    commands = data.get("commands") if isinstance(data, dict) else None
    if not isinstance(commands, dict):
        return {}
    record: Commands = {}
    for device, points in commands.items():
        if not isinstance(points, dict):
            continue
        for key, priorities in points.items():
            if not isinstance(priorities, dict):
                continue
            for priority, value in priorities.items():
                if str(priority).isdigit() and isinstance(value, bool | int | float):
                    record.setdefault(str(device), {}).setdefault(str(key), {})[str(priority)] = (
                        value
                    )
    return record


class CommandRecord:
    """A site's commands, with one journal per device."""

    def __init__(self, store: Store[dict[str, Any]]) -> None:
        """Empty until async_load()."""
        self._store = store
        self._commands: Commands = {}

    async def async_load(self) -> None:
        """Read the record saved by the last run."""
        self._commands = _commands(await self._store.async_load())

    def journal(self, device: str) -> DeviceJournal:
        """The journal of one device (its subentry id)."""
        return DeviceJournal(self, device)

    def recorded(self, device: str) -> dict[str, dict[int, Value]]:
        """Point -> priority -> value of one device."""
        return {
            key: {int(priority): value for priority, value in priorities.items()}
            for key, priorities in self._commands.get(device, {}).items()
        }

    async def async_written(self, device: str, key: str, priority: int, value: Value) -> None:
        """Note a command and save at once."""
        self._commands.setdefault(device, {}).setdefault(key, {})[str(priority)] = value
        await self._store.async_save({"commands": self._commands})

    async def async_forgotten(self, device: str, key: str, priority: int) -> None:
        """Forget a command and save, if it was recorded."""
        points = self._commands.get(device, {})
        priorities = points.get(key, {})
        if priorities.pop(str(priority), None) is None:
            return
        if not priorities:
            points.pop(key, None)
        if not points:
            self._commands.pop(device, None)
        await self._store.async_save({"commands": self._commands})


class DeviceJournal:
    """One device's view of the site's record (lib/devices/base.CommandJournal)."""

    def __init__(self, record: CommandRecord, device: str) -> None:
        """Bound to one device."""
        self._record = record
        self._device = device

    def recorded(self) -> Mapping[str, Mapping[int, Value]]:
        """Point -> priority -> value."""
        return self._record.recorded(self._device)

    async def async_written(self, key: str, priority: int, value: Value) -> None:
        """Note a command."""
        await self._record.async_written(self._device, key, priority, value)

    async def async_forgotten(self, key: str, priority: int) -> None:
        """Forget a command."""
        await self._record.async_forgotten(self._device, key, priority)
