"""The base of entities that command a point: number, valve, switch and select.

They write through their device's coordinator at the site's priority (BACnet; Modbus has no
priorities), and can give their command back (``microdc.relinquish``) where the protocol can.
Their state is what the device holds, i.e. whatever priority wins, so a higher-priority
override on site shows as it is.
"""

from __future__ import annotations

from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN
from .entity import MicrodcPointEntity
from .lib.points import PointRef, Value


class MicrodcCommandEntity(MicrodcPointEntity):
    """An entity whose changes write to its point."""

    @property
    def available(self) -> bool:
        """Unavailable without a reading to show (after a failed poll, a fault)."""
        reading = self.reading
        return super().available and reading is not None and reading.value is not None

    @property
    def held_number(self) -> float | None:
        """What the device holds, as a number (None: no numeric reading)."""
        value = self.coordinator.value(self.point.key)
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    async def async_command(self, value: Value) -> None:
        """Write the value at the site's priority, unless the site or its safety says no."""
        site = self.coordinator.config_entry.runtime_data
        if site.monitor_only:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="routing_monitor_only",
                translation_placeholders={"site": site.entry.title},
            )
        ref = PointRef(self.coordinator.subentry.subentry_id, self.point.key)
        if site.routing is not None and site.routing.refuses_manual_write(ref, value):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="manual_write_blocked_by_safety",
                translation_placeholders={"entity_id": self.entity_id, "site": site.entry.title},
            )
        await self.coordinator.async_write(self.point.key, value, priority=site.write_priority)

    async def async_relinquish(self) -> None:
        """Give the command back: the next priority (or the point's default) takes over."""
        if not self.coordinator.device.releases:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_a_bacnet_command",
                translation_placeholders={"entity_id": self.entity_id},
            )
        site = self.coordinator.config_entry.runtime_data
        await self.coordinator.async_release(self.point.key, priority=site.write_priority)
