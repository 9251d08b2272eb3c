"""The Modbus device subentry flow: add or reconfigure a device of a site.

The flow connects and reads every point of the chosen profile before it saves anything, and
reports a failure on the field that is most likely wrong.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from homeassistant.config_entries import ConfigSubentry, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_HOST, CONF_NAME, CONF_PORT
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import probatio

from ..const import (
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
    DEFAULT_UNIT_ID,
    SUBENTRY_MODBUS_DEVICE,
)
from ..device_builder import MODBUS_POOL
from ..device_config import ModbusDeviceConfig
from ..lib.devices.modbus import ModbusDevice, ModbusDeviceError
from ..lib.profile import Profile
from ..lib.protocols.modbus import (
    Framing,
    ModbusConnectError,
    ModbusConnectionPool,
    ModbusTimeoutError,
    ModbusUnitNotAnsweringError,
)
from ..lib.protocols.modbus_endpoints import async_same_host
from ..profile_store import async_load_profiles
from .naming import unused_name

_LOGGER = logging.getLogger(__name__)


def _box(
    minimum: float, maximum: float, step: float = 1, unit: str | None = None
) -> NumberSelector:
    config = NumberSelectorConfig(min=minimum, max=maximum, step=step, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return NumberSelector(config)


def _schema(profiles: dict[str, Profile]) -> probatio.Schema:
    profile_options = [
        SelectOptionDict(value=profile_id, label=f"{profile.manufacturer} {profile.model}")
        for profile_id, profile in sorted(
            profiles.items(), key=lambda item: (item[1].manufacturer, item[1].model)
        )
    ]
    return probatio.Schema(
        {
            probatio.Required(CONF_HOST): TextSelector(),
            probatio.Required(CONF_PORT, default=DEFAULT_MODBUS_PORT): probatio.All(
                _box(1, 65535), probatio.Coerce(int)
            ),
            probatio.Required(CONF_FRAMING, default=Framing.TCP.value): SelectSelector(
                SelectSelectorConfig(
                    options=[framing.value for framing in Framing],
                    translation_key=CONF_FRAMING,
                    mode=SelectSelectorMode.LIST,
                )
            ),
            probatio.Required(CONF_UNIT_ID, default=DEFAULT_UNIT_ID): probatio.All(
                _box(1, 247), probatio.Coerce(int)
            ),
            probatio.Required(CONF_PROFILE): SelectSelector(
                SelectSelectorConfig(options=profile_options, mode=SelectSelectorMode.DROPDOWN)
            ),
            probatio.Required(CONF_POLLING): section(
                probatio.Schema(
                    {
                        probatio.Required(
                            CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL_S
                        ): probatio.All(_box(1, 3600, unit="s"), probatio.Coerce(int)),
                        probatio.Required(CONF_TIMEOUT, default=DEFAULT_TIMEOUT_S): _box(
                            0.5, 60, step=0.5, unit="s"
                        ),
                        probatio.Required(
                            CONF_MAX_REGISTER_GAP, default=DEFAULT_MAX_REGISTER_GAP
                        ): probatio.All(_box(0, 100), probatio.Coerce(int)),
                    }
                ),
                {"collapsed": True},
            ),
        }
    )


async def async_probe_device(
    pool: ModbusConnectionPool, config: ModbusDeviceConfig, profile: Profile
) -> dict[str, str]:
    """Connect and read every point once; return the form's errors (empty when it fits).

    A gateway that accepts the connection but never answers may be speaking the other framing
    (RTU over TCP on a Modbus TCP gateway, or the reverse): both look like a silent unit. So a
    timeout is probed once more with the other framing, and if that answers, the error is on
    the framing field rather than the unit id.
    """
    errors = await _async_probe(pool, config, profile)
    if errors != {CONF_UNIT_ID: "timeout"}:
        return errors
    other = Framing.RTU_OVER_TCP if config.framing is Framing.TCP else Framing.TCP
    if not await _async_probe(pool, dataclasses.replace(config, framing=other), profile):
        return {CONF_FRAMING: "wrong_framing"}
    return errors


async def _async_probe(
    pool: ModbusConnectionPool, config: ModbusDeviceConfig, profile: Profile
) -> dict[str, str]:
    """One probe with the config's framing; the form's errors (empty when it fits).

    The probe borrows the site's connection to the endpoint when there is one: many serial
    gateways accept a single TCP client, which is already microdc.
    """
    connection = pool.acquire(config.endpoint, timeout=config.timeout_s)
    device = ModbusDevice(
        connection,
        config.unit_id,
        profile,
        max_gap=config.max_gap,
        timeout=config.timeout_s,
        probe=True,
    )
    try:
        result = await device.poll()
    except ModbusDeviceError as err:
        match err.cause:
            case ModbusConnectError():
                return {CONF_HOST: "cannot_connect"}
            case ModbusTimeoutError():
                return {CONF_UNIT_ID: "timeout"}
            case ModbusUnitNotAnsweringError():
                return {CONF_UNIT_ID: "unit_not_answering"}
        # An exception code other than "illegal address" or an answer of the wrong shape:
        # the device speaks Modbus but not this profile.
        _LOGGER.debug("Probe of %s failed: %s", config.endpoint, err)
        return {CONF_PROFILE: "profile_mismatch"}
    finally:
        await pool.release(connection)
    if result.skipped or all(value is None for value in result.values.values()):
        _LOGGER.debug(
            "Probe of %s unit %d: refused %s", config.endpoint, config.unit_id, result.skipped
        )
        return {CONF_PROFILE: "profile_mismatch"}
    return {}


def profile_title(profile: Profile, unit_id: int) -> str:
    """The title microdc gave a device before it proposed names (kept on reconfigure)."""
    return f"{profile.manufacturer} {profile.model} (unit {unit_id})"


class ModbusDeviceSubentryFlow(ConfigSubentryFlow):
    """Add a Modbus device to a site, or change where it is."""

    def __init__(self) -> None:
        """Nothing probed yet."""
        self._config: ModbusDeviceConfig | None = None
        self._proposed = ""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask where the device is and which profile describes it."""
        return await self._async_step_device("user", user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a device's address or settings; its entities and history stay."""
        return await self._async_step_device("reconfigure", user_input)

    async def _async_configured(
        self, config: ModbusDeviceConfig, current: ConfigSubentry | None
    ) -> bool:
        """Whether the site has this unit at this port already, by any name of its host."""
        for subentry in self._get_entry().subentries.values():
            if subentry.subentry_type != SUBENTRY_MODBUS_DEVICE or (
                current is not None and subentry.subentry_id == current.subentry_id
            ):
                continue
            other = ModbusDeviceConfig.from_data(subentry.data)
            if (other.port, other.unit_id) == (config.port, config.unit_id) and (
                await async_same_host(other.host, config.host)
            ):
                return True
        return False

    async def _async_step_device(
        self, step_id: str, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        profiles = dict((await async_load_profiles(self.hass)).profiles)
        if not profiles:
            return self.async_abort(reason="no_profiles")
        reconfiguring = step_id == "reconfigure"
        errors: dict[str, str] = {}
        if user_input is not None:
            config = ModbusDeviceConfig.from_data(user_input)
            profile = profiles.get(config.profile_id)
            entry = self._get_entry()
            current = self._get_reconfigure_subentry() if reconfiguring else None
            if not config.host:
                errors[CONF_HOST] = "invalid_host"
            elif profile is None:
                errors[CONF_PROFILE] = "unknown_profile"
            elif await self._async_configured(config, current):
                return self.async_abort(reason="already_configured")
            else:
                pool = self.hass.data.setdefault(MODBUS_POOL, ModbusConnectionPool())
                errors = await async_probe_device(pool, config, profile)
            if not errors and profile is not None and current is not None:
                return self.async_update_reload_and_abort(
                    entry,
                    current,
                    title=self._reconfigured_title(current, profiles, config, profile),
                    data=config.as_data(),
                    unique_id=config.unique_id,
                )
            if not errors and profile is not None:
                self._config = config
                self._proposed = unused_name(
                    profile.proposed_name, {s.title for s in entry.subentries.values()}
                )
                return await self.async_step_name()
        suggested: dict[str, Any] | None = user_input
        if suggested is None and reconfiguring:
            suggested = dict(self._get_reconfigure_subentry().data)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(_schema(profiles), suggested),
            errors=errors,
        )

    @staticmethod
    def _reconfigured_title(
        current: ConfigSubentry,
        profiles: dict[str, Profile],
        config: ModbusDeviceConfig,
        profile: Profile,
    ) -> str:
        """A name the engineer chose stays; a title made from the profile follows the change."""
        before = ModbusDeviceConfig.from_data(current.data)
        old = profiles.get(before.profile_id)
        if old is not None and current.title == profile_title(old, before.unit_id):
            return profile_title(profile, config.unit_id)
        return current.title

    async def async_step_name(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name the device (the profile's device kind is proposed); its entity ids follow."""
        assert self._config is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            name = str(user_input.get(CONF_NAME) or "").strip()
            if name:
                config = self._config
                return self.async_create_entry(
                    title=name, data=config.as_data(), unique_id=config.unique_id
                )
            errors[CONF_NAME] = "invalid_name"
        return self.async_show_form(
            step_id="name",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Required(CONF_NAME): TextSelector()}),
                user_input or {CONF_NAME: self._proposed},
            ),
            errors=errors,
        )
