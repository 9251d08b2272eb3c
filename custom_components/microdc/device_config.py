"""A Modbus device subentry's settings, typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.const import CONF_HOST, CONF_PORT

from .const import (
    CONF_FRAMING,
    CONF_MAX_REGISTER_GAP,
    CONF_POLLING,
    CONF_PROFILE,
    CONF_SCAN_INTERVAL,
    CONF_TIMEOUT,
    CONF_UNIT_ID,
    DEFAULT_MAX_REGISTER_GAP,
    DEFAULT_MODBUS_PORT,
    DEFAULT_SCAN_INTERVAL_S,
    DEFAULT_TIMEOUT_S,
)
from .lib.protocols.modbus import Endpoint, Framing


@dataclass(frozen=True, slots=True)
class ModbusDeviceConfig:
    """Where a device is, what it is, and how it is polled."""

    host: str
    port: int
    framing: Framing
    unit_id: int
    profile_id: str
    scan_interval_s: float = DEFAULT_SCAN_INTERVAL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_gap: int = DEFAULT_MAX_REGISTER_GAP

    @property
    def endpoint(self) -> Endpoint:
        """The connection this device shares with others behind the same gateway."""
        return Endpoint(self.host, self.port, self.framing)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ModbusDeviceConfig:
        """Read a subentry's data (as the flow stored it)."""
        polling: Mapping[str, Any] = data.get(CONF_POLLING, {})
        return cls(
            host=str(data[CONF_HOST]).strip(),
            port=int(data.get(CONF_PORT, DEFAULT_MODBUS_PORT)),
            framing=Framing(data.get(CONF_FRAMING, Framing.TCP)),
            unit_id=int(data[CONF_UNIT_ID]),
            profile_id=str(data[CONF_PROFILE]),
            scan_interval_s=float(polling.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S)),
            timeout_s=float(polling.get(CONF_TIMEOUT, DEFAULT_TIMEOUT_S)),
            max_gap=int(polling.get(CONF_MAX_REGISTER_GAP, DEFAULT_MAX_REGISTER_GAP)),
        )

    def as_data(self) -> dict[str, Any]:
        """The subentry data for these settings."""
        return {
            CONF_HOST: self.host,
            CONF_PORT: self.port,
            CONF_FRAMING: self.framing.value,
            CONF_UNIT_ID: self.unit_id,
            CONF_PROFILE: self.profile_id,
            CONF_POLLING: {
                CONF_SCAN_INTERVAL: self.scan_interval_s,
                CONF_TIMEOUT: self.timeout_s,
                CONF_MAX_REGISTER_GAP: self.max_gap,
            },
        }

    @property
    def unique_id(self) -> str:
        """One subentry per unit behind an endpoint."""
        return f"{self.host.lower()}:{self.port}:{self.unit_id}"
