"""The BACnet/IP device subentry flow: find a controller, choose its objects and their roles.

Steps: find the device (Who-Is, by local broadcast or directed to an address, or address and
device instance by hand) -> read its object list and each object's name, type, units and
description -> filter by object type and name -> choose objects (inputs and values by
default: outputs are commands, chosen on purpose) -> optionally say which role each plays.
Reconfigure moves the device to a new address; its objects, entities and history stay.

Every read goes through the site's shared BACnet/IP socket, acquired for the step and given
back after it (the running site holds its own reference).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import dataclasses
import fnmatch
import logging
from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
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

from ..lib.devices.bacnet_config import (
    CONF_ADDRESS,
    CONF_COV,
    CONF_COV_LIFETIME,
    CONF_DEVICE_INSTANCE,
    CONF_POLLING,
    CONF_SCAN_INTERVAL,
    DEFAULT_COV_LIFETIME_S,
    DEFAULT_SCAN_INTERVAL_S,
    IDENTITY_PROPERTIES,
    ROLE_KINDS,
    BacnetDeviceConfig,
    BacnetObjectConfig,
    DeviceObjectIdentity,
    default_selection,
    device_unique_id,
    object_kind,
    with_default_port,
)
from ..lib.points import Role
from ..lib.protocols.bacnet import (
    VALUE_OBJECT_TYPES,
    BacnetConfigError,
    BacnetError,
    BacnetNetwork,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    DiscoveredDevice,
    ObjectId,
    ObjectInfo,
)
from ..lib.protocols.bacnet_address import (
    InvalidAddressError,
    UnresolvedHostError,
    async_resolve,
    is_host_name,
)
from ..settings import BacnetSiteSettings
from .naming import unused_name

_LOGGER = logging.getLogger(__name__)

CONF_TARGET = "target"
CONF_DEVICE = "device"
CONF_OBJECT_TYPES = "object_types"
CONF_NAME_FILTER = "name_filter"
CONF_OBJECTS = "objects"
DISCOVERY_TIMEOUT_S = 3.0


class NetworkUnavailableError(BacnetError):
    """The site's BACnet settings cannot open the shared socket (not the device's fault)."""


def _box(minimum: float, maximum: float, unit: str | None = None) -> Any:
    config = NumberSelectorConfig(min=minimum, max=maximum, step=1, mode=NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return probatio.All(NumberSelector(config), probatio.Coerce(int))


def _polling_section() -> Any:
    return section(
        probatio.Schema(
            {
                probatio.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL_S): _box(
                    1, 3600, "s"
                ),
                probatio.Required(CONF_COV, default=True): BooleanSelector(),
                probatio.Required(CONF_COV_LIFETIME, default=DEFAULT_COV_LIFETIME_S): _box(
                    60, 86400, "s"
                ),
            }
        ),
        {"collapsed": True},
    )


def _object_label(info: ObjectInfo) -> str:
    units = f", {info.units}" if info.units else ""
    description = f": {info.description}" if info.description else ""
    return f"{info.name or info.object_id} ({info.object_id}{units}){description}"


def _device_label(device: DiscoveredDevice) -> str:
    return f"{device.name or 'unnamed'} (instance {device.instance}) at {device.address}"


def _matches(info: ObjectInfo, types: list[str], pattern: str) -> bool:
    """Of a chosen type, and named like the pattern (case-insensitive; * and ? wildcards)."""
    if info.object_id.type not in types:
        return False
    if not pattern:
        return True
    name = (info.name or "").lower()
    pattern = pattern.lower()
    if any(char in pattern for char in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


class BacnetDeviceSubentryFlow(ConfigSubentryFlow):
    """Add a BACnet/IP device to a site, or move it to a new address."""

    def __init__(self) -> None:
        """Nothing found or read yet."""
        self._found: dict[str, DiscoveredDevice] = {}
        self._device: DiscoveredDevice | None = None
        self._infos: dict[str, ObjectInfo] = {}
        self._limits: dict[str, tuple[float | None, float | None]] = {}
        self._matching: list[str] = []
        self._chosen: list[str] = []
        self._polling: dict[str, Any] = {}
        self._identity: DeviceObjectIdentity | None = None
        self._roles: dict[str, str] = {}
        # Resolved address -> the host name typed for it: the subentry keeps the name.
        self._typed: dict[str, str] = {}

    async def _async_resolve(self, typed: str, field: str) -> tuple[str | None, dict[str, str]]:
        """The typed address as ``a.b.c.d:port``, or the error on its field."""
        try:
            resolved = await async_resolve(typed)
        except InvalidAddressError:
            return None, {field: "invalid_address"}
        except UnresolvedHostError as err:
            _LOGGER.debug("BACnet address %r not resolved: %s", typed, err)
            return None, {field: "cannot_resolve"}
        if is_host_name(typed):
            self._typed[resolved] = with_default_port(typed)
        return resolved, {}

    @contextlib.asynccontextmanager
    async def _network(self) -> AsyncIterator[BacnetNetwork]:
        """The shared socket with the site's settings, for the length of one step."""
        try:
            settings = BacnetSiteSettings.from_options(self._get_entry().options)
            network = await BacnetNetwork.acquire(settings.network)
        except BacnetError as err:
            raise NetworkUnavailableError(str(err)) from err
        try:
            yield network
        finally:
            await network.release()

    def _configured(self, instance: int, exclude: str | None = None) -> bool:
        return any(
            subentry.unique_id == device_unique_id(instance) and subentry.subentry_id != exclude
            for subentry in self._get_entry().subentries.values()
        )

    # --- finding the device ---

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Discover devices, or enter one by hand."""
        return self.async_show_menu(step_id="user", menu_options=["discover", "manual"])

    async def async_step_discover(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Who-Is: to the local broadcast address, or directed to an address."""
        errors: dict[str, str] = {}
        if user_input is not None:
            target = str(user_input.get(CONF_TARGET) or "").strip()
            resolved: str | None = None
            if target:
                resolved, errors = await self._async_resolve(target, CONF_TARGET)
            if not errors:
                errors, found = await self._async_discover(target, resolved)
            if not errors:
                self._found = {
                    f"{d.instance}@{d.address}": d
                    for d in sorted(found, key=lambda d: d.instance)
                    if not self._configured(d.instance)
                }
                if found and not self._found:
                    return self.async_abort(reason="already_configured")
                if not self._found:
                    errors[CONF_TARGET] = "no_devices"
                else:
                    return await self.async_step_pick()
        return self.async_show_form(
            step_id="discover",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema({probatio.Optional(CONF_TARGET): TextSelector()}), user_input
            ),
            errors=errors,
        )

    async def _async_discover(
        self, target: str, resolved: str | None
    ) -> tuple[dict[str, str], list[DiscoveredDevice]]:
        """Who-Is to the resolved target (None: broadcast); the form's errors, or who answered."""
        try:
            async with self._network() as network:
                return {}, await network.discover(resolved, timeout_s=DISCOVERY_TIMEOUT_S)
        except NetworkUnavailableError as err:
            _LOGGER.warning("BACnet/IP socket unavailable: %s", err)
            return {"base": "network_unavailable"}, []
        except BacnetConfigError as err:
            _LOGGER.debug("Who-Is to %r failed: %s", target, err)
            return {CONF_TARGET: "invalid_address" if target else "no_broadcast"}, []
        except BacnetError as err:
            _LOGGER.debug("Who-Is to %r failed: %s", target, err)
            return {"base": "network_unavailable"}, []

    async def async_step_pick(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose one of the devices that answered."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device = self._found.get(str(user_input[CONF_DEVICE]))
            if device is None:
                errors[CONF_DEVICE] = "unknown_device"
            else:
                errors = await self._async_read_device(device.address, device.instance)
                if not errors:
                    return await self.async_step_filter()
                if "base" not in errors:
                    errors = {CONF_DEVICE: next(iter(errors.values()))}
        options = [
            SelectOptionDict(value=key, label=_device_label(device))
            for key, device in self._found.items()
        ]
        return self.async_show_form(
            step_id="pick",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_DEVICE): SelectSelector(
                        SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST)
                    )
                }
            ),
            errors=errors,
            description_placeholders={"count": str(len(options))},
        )

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Address and device instance, for a device that does not answer Who-Is."""
        errors: dict[str, str] = {}
        if user_input is not None:
            address = str(user_input[CONF_ADDRESS]).strip()
            instance = int(user_input[CONF_DEVICE_INSTANCE])
            if not address:
                errors[CONF_ADDRESS] = "invalid_address"
            elif self._configured(instance):
                return self.async_abort(reason="already_configured")
            else:
                resolved, errors = await self._async_resolve(address, CONF_ADDRESS)
                if resolved is not None:
                    errors = await self._async_read_device(resolved, instance)
                if not errors:
                    return await self.async_step_filter()
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_ADDRESS): TextSelector(),
                        probatio.Required(CONF_DEVICE_INSTANCE): _box(0, 4194302),
                    }
                ),
                user_input,
            ),
            errors=errors,
        )

    async def _async_identify(
        self, network: BacnetNetwork, address: str, instance: int
    ) -> tuple[DiscoveredDevice | None, dict[str, str]]:
        client = network.device(address, instance)
        try:
            return await client.identify(timeout_s=DISCOVERY_TIMEOUT_S), {}
        except BacnetTimeoutError:
            return None, {CONF_ADDRESS: "no_response"}
        except BacnetUnknownObjectError:
            return None, {CONF_DEVICE_INSTANCE: "unknown_device_instance"}
        finally:
            await client.close()

    async def _async_read_device(self, address: str, instance: int) -> dict[str, str]:
        """Identify the device and read its objects; the form's errors (empty when read)."""
        try:
            async with self._network() as network:
                device, errors = await self._async_identify(network, address, instance)
                if device is None:
                    return errors
                client = network.device(address, instance)
                client.info = device
                try:
                    object_ids = [
                        oid
                        for oid in await client.read_object_list()
                        if oid.type in VALUE_OBJECT_TYPES
                    ]
                    infos = await client.read_objects(object_ids)
                    limited = [oid for oid in object_ids if infos[oid].commandable]
                    limits = await client.read_properties(
                        [
                            (oid, ("min-pres-value", "max-pres-value"))
                            for oid in limited
                            if object_kind(oid) == "analog"
                        ]
                    )
                    device_object = ObjectId("device", instance)
                    said = await client.read_properties([(device_object, IDENTITY_PROPERTIES)])
                finally:
                    await client.close()
        except NetworkUnavailableError as err:
            _LOGGER.warning("BACnet/IP socket unavailable: %s", err)
            return {"base": "network_unavailable"}
        except BacnetConfigError as err:
            _LOGGER.debug("Reading %s at %s failed: %s", instance, address, err)
            return {CONF_ADDRESS: "invalid_address"}
        except BacnetTimeoutError:
            return {CONF_ADDRESS: "no_response"}
        except BacnetError as err:
            _LOGGER.debug("Reading %s at %s failed: %s", instance, address, err)
            return {CONF_ADDRESS: "read_failed"}
        self._device = device
        self._infos = {str(oid): infos[oid] for oid in object_ids}
        # A property the device refuses is an error in its place: the fallback shows instead.
        self._identity = DeviceObjectIdentity.from_properties(
            {name: said.get((device_object, name)) for name in IDENTITY_PROPERTIES}
        )

        def number(value: Any) -> float | None:
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            return float(value) if is_number else None

        self._limits = {
            str(oid): (
                number(limits.get((oid, "min-pres-value"))),
                number(limits.get((oid, "max-pres-value"))),
            )
            for oid in object_ids
        }
        return {}

    # --- choosing objects ---

    def _types(self) -> list[str]:
        return sorted({info.object_id.type for info in self._infos.values()})

    async def async_step_filter(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Narrow a long object list by type and name."""
        if not self._infos:
            return self.async_abort(reason="no_objects")
        errors: dict[str, str] = {}
        types = self._types()
        if user_input is not None:
            chosen_types = list(user_input.get(CONF_OBJECT_TYPES) or [])
            pattern = str(user_input.get(CONF_NAME_FILTER) or "").strip()
            self._matching = [
                key for key, info in self._infos.items() if _matches(info, chosen_types, pattern)
            ]
            if not chosen_types:
                errors[CONF_OBJECT_TYPES] = "no_types"
            elif not self._matching:
                errors[CONF_NAME_FILTER] = "no_match"
            else:
                return await self.async_step_objects()
        assert self._device is not None
        return self.async_show_form(
            step_id="filter",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_OBJECT_TYPES, default=types): SelectSelector(
                            SelectSelectorConfig(
                                options=types, multiple=True, mode=SelectSelectorMode.LIST
                            )
                        ),
                        probatio.Optional(CONF_NAME_FILTER): TextSelector(),
                    }
                ),
                user_input,
            ),
            errors=errors,
            description_placeholders={
                "device": self._device.name or str(self._device.instance),
                "count": str(len(self._infos)),
            },
        )

    async def async_step_objects(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Choose which objects become entities."""
        errors: dict[str, str] = {}
        if user_input is not None and CONF_OBJECTS in user_input:
            self._chosen = [key for key in user_input[CONF_OBJECTS] if key in self._infos]
            self._polling = dict(user_input.get(CONF_POLLING) or {})
            if not self._chosen:
                errors[CONF_OBJECTS] = "none_selected"
            else:
                return await self.async_step_roles()
        matching = [self._infos[key] for key in self._matching]
        default = [str(oid) for oid in default_selection([i.object_id for i in matching])]
        options = [
            SelectOptionDict(value=str(info.object_id), label=_object_label(info))
            for info in matching
        ]
        return self.async_show_form(
            step_id="objects",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_OBJECTS, default=default): SelectSelector(
                        SelectSelectorConfig(
                            options=options, multiple=True, mode=SelectSelectorMode.LIST
                        )
                    ),
                    probatio.Required(CONF_POLLING): _polling_section(),
                }
            ),
            errors=errors,
        )

    def _role_fields(self) -> dict[Role, list[SelectOptionDict]]:
        fields: dict[Role, list[SelectOptionDict]] = {}
        for role, (kind, _multiple) in ROLE_KINDS.items():
            options = [
                SelectOptionDict(value=key, label=self._infos[key].name or key)
                for key in self._chosen
                if object_kind(self._infos[key].object_id) == kind
            ]
            if options:
                fields[role] = options
        return fields

    async def async_step_roles(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Optionally, what each object means to the site (heat accounting finds it by role)."""
        fields = self._role_fields()
        errors: dict[str, str] = {}
        if user_input is not None and fields:
            roles: dict[str, str] = {}
            for role in fields:
                value = user_input.get(role.value)
                keys = value if isinstance(value, list) else ([value] if value else [])
                for key in keys:
                    if key in roles and roles[key] != role.value:
                        errors[role.value] = "role_conflict"
                    roles[key] = role.value
            if not errors:
                self._roles = roles
                return await self.async_step_names()
        if not fields:
            return await self.async_step_names()
        schema: dict[Any, Any] = {
            probatio.Optional(role.value): SelectSelector(
                SelectSelectorConfig(
                    options=options,
                    multiple=ROLE_KINDS[role][1],
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
            for role, options in fields.items()
        }
        return self.async_show_form(
            step_id="roles",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(schema), user_input),
            errors=errors,
        )

    def _name_fields(self) -> dict[str, str]:
        """Object key -> its field in the names form: the object name (the field's label, as
        there is no translation for it), or its id where two chosen objects share a name."""
        names = [self._infos[key].name for key in self._chosen]
        return {
            key: name if name and names.count(name) == 1 else key
            for key, name in zip(self._chosen, names, strict=True)
        }

    def _proposed_device_name(self) -> str:
        assert self._device is not None
        device = self._device
        model = None if self._identity is None else self._identity.model_name
        proposal = device.name or model or f"BACnet device {device.instance}"
        return unused_name(proposal, (s.title for s in self._get_entry().subentries.values()))

    async def async_step_names(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """The device's name, and each object's: its description is offered, for the
        all-caps object names (VLV-STOCKROOM) a controller's programmer chose."""
        fields = self._name_fields()
        errors: dict[str, str] = {}
        if user_input is not None:
            title = str(user_input.get(CONF_NAME) or "").strip()
            if title:
                names = {
                    key: str(user_input.get(field) or "").strip() for key, field in fields.items()
                }
                return self._create(title, names)
            errors[CONF_NAME] = "invalid_name"
        suggested: dict[str, Any] = user_input or {
            CONF_NAME: self._proposed_device_name(),
            **{
                field: self._infos[key].description or self._infos[key].name
                for key, field in fields.items()
            },
        }
        schema: dict[Any, Any] = {probatio.Required(CONF_NAME): TextSelector()}
        schema |= {probatio.Optional(field): TextSelector() for field in fields.values()}
        return self.async_show_form(
            step_id="names",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(schema), suggested),
            errors=errors,
        )

    def _create(self, title: str, names: dict[str, str]) -> SubentryFlowResult:
        assert self._device is not None
        device = self._device
        polling = self._polling
        roles = self._roles
        config = BacnetDeviceConfig(
            address=self._typed.get(device.address, device.address),
            device_instance=device.instance,
            objects=tuple(
                dataclasses.replace(
                    BacnetObjectConfig.from_info(
                        self._infos[key], roles.get(key), self._limits.get(key, (None, None))
                    ),
                    # Cleared, or the object name typed: named by the object name.
                    entity_name=names.get(key) or None,
                )
                for key in self._chosen
            ),
            scan_interval_s=float(polling.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S)),
            cov=bool(polling.get(CONF_COV, True)),
            cov_lifetime_s=int(polling.get(CONF_COV_LIFETIME, DEFAULT_COV_LIFETIME_S)),
            identity=self._identity,
        )
        return self.async_create_entry(
            title=title,
            data=config.as_data(),
            unique_id=device_unique_id(device.instance),
        )

    # --- reconfigure ---

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """A new address (or polling) for the same device; its objects and entities stay."""
        subentry = self._get_reconfigure_subentry()
        current = BacnetDeviceConfig.from_data(subentry.data)
        errors: dict[str, str] = {}
        if user_input is not None:
            typed = str(user_input[CONF_ADDRESS]).strip()
            address = with_default_port(typed) if typed else ""
            polling = dict(user_input.get(CONF_POLLING) or {})
            resolved, errors = await self._async_resolve(typed, CONF_ADDRESS)
            try:
                if resolved is not None:
                    async with self._network() as network:
                        _device, errors = await self._async_identify(
                            network, resolved, current.device_instance
                        )
            except NetworkUnavailableError as err:
                _LOGGER.warning("BACnet/IP socket unavailable: %s", err)
                errors = {"base": "network_unavailable"}
            except BacnetConfigError:
                errors = {CONF_ADDRESS: "invalid_address"}
            except BacnetError:
                errors = {CONF_ADDRESS: "no_response"}
            if not errors:
                config = dataclasses.replace(
                    current,
                    address=address,
                    scan_interval_s=float(polling.get(CONF_SCAN_INTERVAL, current.scan_interval_s)),
                    cov=bool(polling.get(CONF_COV, current.cov)),
                    cov_lifetime_s=int(polling.get(CONF_COV_LIFETIME, current.cov_lifetime_s)),
                )
                return self.async_update_reload_and_abort(
                    self._get_entry(), subentry, data=config.as_data()
                )
        suggested = user_input or {
            CONF_ADDRESS: current.address,
            CONF_POLLING: {
                CONF_SCAN_INTERVAL: current.scan_interval_s,
                CONF_COV: current.cov,
                CONF_COV_LIFETIME: current.cov_lifetime_s,
            },
        }
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(
                    {
                        probatio.Required(CONF_ADDRESS): TextSelector(),
                        probatio.Required(CONF_POLLING): _polling_section(),
                    }
                ),
                suggested,
            ),
            errors=errors,
            description_placeholders={"instance": str(current.device_instance)},
        )
