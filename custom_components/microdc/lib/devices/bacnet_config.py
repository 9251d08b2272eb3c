"""A BACnet/IP device subentry's settings, typed (no Home Assistant imports).

The subentry stores where the device is (address and device instance), how it is read
(polling and COV) and the objects the engineer chose, each with what the flow learnt about it
(name, units, state texts, commandability, limits) and its optional role. Entities are built
from this without asking the device again, so a site starts even while the device is away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..points import Role
from ..protocols import bacnet_address
from ..protocols.bacnet import ObjectId, ObjectInfo

CONF_ADDRESS = "address"
CONF_DEVICE_INSTANCE = "device_instance"
CONF_OBJECTS = "objects"
CONF_POLLING = "polling"
CONF_SCAN_INTERVAL = "scan_interval"
CONF_COV = "cov"
CONF_COV_LIFETIME = "cov_lifetime"
CONF_IDENTITY = "identity"

# BACnet/IP's own port, one definition (the transport's).
DEFAULT_BACNET_PORT = bacnet_address.DEFAULT_BACNET_PORT
# COV pushes changes at once; the poll is only the fallback (objects without COV, and
# noticing a device that went silent), so it can be slower than a Modbus device's.
DEFAULT_SCAN_INTERVAL_S = 30
DEFAULT_COV_LIFETIME_S = 300

# Roles a building controller's object can play (DESIGN.md): the kind of object that fits,
# and whether several objects may share the role (a site has several valves and spaces).
# Keyed by Role, so a role spelt wrong fails type checking instead of storing a role that
# object_point() cannot read (and quietly treats as none).
ROLE_KINDS: dict[Role, tuple[str, bool]] = {
    Role.LOOP_SUPPLY_TEMPERATURE: ("analog", False),
    Role.LOOP_RETURN_TEMPERATURE: ("analog", False),
    Role.LOOP_FLOW: ("analog", False),
    Role.HEAT_METER_POWER: ("analog", False),
    Role.HEAT_METER_ENERGY: ("analog", False),
    Role.OUTDOOR_TEMPERATURE: ("analog", False),
    Role.VALVE_POSITION: ("analog", True),
    Role.VALVE_FEEDBACK: ("analog", True),
    Role.SPACE_TEMPERATURE: ("analog", True),
    Role.OCCUPANCY: ("binary", True),
    Role.PUMP_COMMAND: ("binary", False),
}


def object_kind(object_id: ObjectId) -> str:
    """analog, binary or multi-state."""
    return object_id.type.rsplit("-", 1)[0]


def object_key(object_id: ObjectId) -> str:
    """The point key of an object: stable, and part of its entities' unique ids."""
    return f"{object_id.type}_{object_id.instance}"


@dataclass(frozen=True, slots=True)
class BacnetObjectConfig:
    """One chosen object, as the flow read it."""

    object_id: ObjectId
    name: str
    description: str | None = None
    units: str | None = None
    commandable: bool = False
    state_texts: tuple[str, ...] | None = None
    role: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    # The name the engineer gave its entities in the flow (None: the object name, as every
    # object added before microdc asked).
    entity_name: str | None = None

    @property
    def display_name(self) -> str:
        """How the object's entities are named."""
        return self.entity_name or self.name

    @property
    def key(self) -> str:
        return object_key(self.object_id)

    @property
    def kind(self) -> str:
        return object_kind(self.object_id)

    @classmethod
    def from_info(
        cls,
        info: ObjectInfo,
        role: str | None = None,
        limits: tuple[float | None, float | None] = (None, None),
    ) -> BacnetObjectConfig:
        """An object as read from the device."""
        return cls(
            object_id=info.object_id,
            name=info.name or str(info.object_id),
            description=info.description or None,
            units=info.units,
            commandable=info.commandable,
            state_texts=info.state_texts,
            role=role,
            min_value=limits[0],
            max_value=limits[1],
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> BacnetObjectConfig:
        texts = data.get("state_texts")
        return cls(
            object_id=ObjectId.parse(str(data["object"])),
            name=str(data["name"]),
            description=data.get("description"),
            units=data.get("units"),
            commandable=bool(data.get("commandable", False)),
            state_texts=None if texts is None else tuple(str(t) for t in texts),
            role=data.get("role"),
            min_value=_optional_float(data.get("min")),
            max_value=_optional_float(data.get("max")),
            entity_name=data.get("entity_name"),
        )

    def as_data(self) -> dict[str, Any]:
        # Without a name of its own the data keeps the shape earlier versions stored.
        named = {} if self.entity_name is None else {"entity_name": self.entity_name}
        return named | {
            "object": str(self.object_id),
            "name": self.name,
            "description": self.description,
            "units": self.units,
            "commandable": self.commandable,
            "state_texts": None if self.state_texts is None else list(self.state_texts),
            "role": self.role,
            "min": self.min_value,
            "max": self.max_value,
        }


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class DeviceObjectIdentity:
    """The device object's own words: vendor-name, model-name and its software versions."""

    vendor_name: str | None = None
    model_name: str | None = None
    firmware_revision: str | None = None
    application_software_version: str | None = None

    @classmethod
    def from_properties(cls, values: Mapping[str, Any]) -> DeviceObjectIdentity | None:
        """From the properties read (a missing or refused one is None); None if none said."""

        def text(name: str) -> str | None:
            value = values.get(name)
            if not isinstance(value, str) or value.strip().casefold() in _NOT_SAID:
                return None
            return value.strip()

        identity = cls(
            text("vendor-name"),
            text("model-name"),
            text("firmware-revision"),
            text("application-software-version"),
        )
        return None if identity == cls() else identity

    @classmethod
    def from_data(cls, data: Any) -> DeviceObjectIdentity | None:
        if not isinstance(data, Mapping):
            return None
        return cls(**{name: data.get(name) for name in IDENTITY_FIELDS})

    def as_data(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in IDENTITY_FIELDS}

    @property
    def software(self) -> str | None:
        """One line for the device page: the firmware, and the application when it differs."""
        firmware, application = self.firmware_revision, self.application_software_version
        if firmware and application and application != firmware:
            return f"{firmware} (application {application})"
        return firmware or application


# What some stacks put in a property they must have but have nothing for.
_NOT_SAID = frozenset({"", "n/a", "na", "none", "unknown", "-"})

IDENTITY_FIELDS = (
    "vendor_name",
    "model_name",
    "firmware_revision",
    "application_software_version",
)
# The device object's properties the flow reads when the device is added.
IDENTITY_PROPERTIES = (
    "vendor-name",
    "model-name",
    "firmware-revision",
    "application-software-version",
)


@dataclass(frozen=True, slots=True)
class BacnetDeviceConfig:
    """Where the device is, which objects microdc shows, and how it reads them."""

    address: str
    device_instance: int
    objects: tuple[BacnetObjectConfig, ...]
    scan_interval_s: float = DEFAULT_SCAN_INTERVAL_S
    cov: bool = True
    cov_lifetime_s: int = DEFAULT_COV_LIFETIME_S
    # What the device object said of itself when the device was added (None: not read, as
    # for devices added before microdc read them, or not given by the device).
    identity: DeviceObjectIdentity | None = None

    @property
    def object_ids(self) -> list[ObjectId]:
        return [obj.object_id for obj in self.objects]

    def object(self, object_id: ObjectId) -> BacnetObjectConfig | None:
        return next((obj for obj in self.objects if obj.object_id == object_id), None)

    def object_by_key(self, key: str) -> BacnetObjectConfig | None:
        return next((obj for obj in self.objects if obj.key == key), None)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> BacnetDeviceConfig:
        polling: Mapping[str, Any] = data.get(CONF_POLLING) or {}
        return cls(
            address=str(data[CONF_ADDRESS]).strip(),
            device_instance=int(data[CONF_DEVICE_INSTANCE]),
            objects=tuple(BacnetObjectConfig.from_data(o) for o in data.get(CONF_OBJECTS, ())),
            scan_interval_s=float(polling.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL_S)),
            cov=bool(polling.get(CONF_COV, True)),
            cov_lifetime_s=int(polling.get(CONF_COV_LIFETIME, DEFAULT_COV_LIFETIME_S)),
            identity=DeviceObjectIdentity.from_data(data.get(CONF_IDENTITY)),
        )

    def as_data(self) -> dict[str, Any]:
        # Without an identity the data keeps the shape earlier versions stored.
        identity = {} if self.identity is None else {CONF_IDENTITY: self.identity.as_data()}
        return identity | {
            CONF_ADDRESS: self.address,
            CONF_DEVICE_INSTANCE: self.device_instance,
            CONF_OBJECTS: [obj.as_data() for obj in self.objects],
            CONF_POLLING: {
                CONF_SCAN_INTERVAL: self.scan_interval_s,
                CONF_COV: self.cov,
                CONF_COV_LIFETIME: self.cov_lifetime_s,
            },
        }


def device_unique_id(device_instance: int) -> str:
    """A device instance is unique on a BACnet internetwork; its address may change."""
    return f"bacnet:{device_instance}"


def with_default_port(address: str) -> str:
    """``host`` becomes ``host:47808``; ``host:port`` stays."""
    address = address.strip()
    return address if ":" in address else f"{address}:{DEFAULT_BACNET_PORT}"


def default_selection(objects: Sequence[ObjectId]) -> list[ObjectId]:
    """Inputs and values: what a building shows. Outputs are commands, chosen on purpose."""
    return [oid for oid in objects if not oid.type.endswith("-output")]
