"""What one site has commanded on its BACnet devices, kept between restarts.

A priority array slot does not say who wrote it: two sites (or microdc and another client) at
the same priority look alike. So each site records every command it writes, by device
instance and object, with the value written, and saves the record at once (a crash right after
a write must not make the command anonymous). At start a site adopts only the commands its
record lists and whose slot still holds the value it wrote; on relinquish it forgets them.
"""

from __future__ import annotations

import math
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .protocols.bacnet import ObjectId

STORE_VERSION = 1

type Command = float | int | bool


def commands_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where a site's record of its BACnet commands is kept."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.bacnet_commands.{entry_id}")


def same_command(slot: Any, written: Command) -> bool:
    """Whether a priority array slot still holds the value written there.

    Analog values travel as 32-bit REALs: compare within a REAL's precision.
    """
    if slot is None or isinstance(slot, str):
        return False
    if isinstance(written, bool) or isinstance(slot, bool):
        return bool(slot) == bool(written)
    return math.isclose(float(slot), float(written), rel_tol=1e-6, abs_tol=1e-6)


class CommandRecord:
    """A site's commands: device instance -> object -> value written."""

    def __init__(self, store: Store[dict[str, Any]]) -> None:
        self._store = store
        self._commands: dict[str, dict[str, Command]] = {}

    async def async_load(self) -> None:
        data = await self._store.async_load() or {}
        self._commands = {
            str(instance): {str(oid): value for oid, value in objects.items()}
            for instance, objects in (data.get("commands") or {}).items()
        }

    def commands(self, instance: int) -> dict[ObjectId, Command]:
        """The commands this site recorded on one device."""
        return {
            ObjectId.parse(oid): value
            for oid, value in self._commands.get(str(instance), {}).items()
        }

    async def async_written(self, instance: int, object_id: ObjectId, value: Command) -> None:
        self._commands.setdefault(str(instance), {})[str(object_id)] = value
        await self._async_save()

    async def async_forget(self, instance: int, object_id: ObjectId) -> None:
        objects = self._commands.get(str(instance), {})
        if objects.pop(str(object_id), None) is not None:
            if not objects:
                self._commands.pop(str(instance), None)
            await self._async_save()

    async def _async_save(self) -> None:
        await self._store.async_save({"commands": self._commands})
