"""Load a site file (YAML) into the specs the simulator's model and servers are built from.

A site file (see simulator/sites/demo.yaml, the default) has these top-level sections:

- physics parameters read by simulator/model.py: clock, outdoor, rack, room, loop, destinations,
  valves, spaces, ups, heat_meter, pdu (documented in the file and in model.py);
- ``modbus.devices``: per device name a unit id, a profile id (a file under
  custom_components/microdc/profiles/) and per point key the model quantity it serves,
  ``{quantity: NAME, factor: F}`` to convert units (e.g. W to kW: 0.001), or ``{value: N}``
  for a constant;
- ``bacnet``: one device (name, device_instance, vendor_identifier, model_name) and its objects.
  Each object has type (``analog-input``, ``binary-input``, ``analog-output``, ``binary-output``),
  instance, name, description, units (BACnet engineering units as bacpypes3 spells them, e.g.
  ``degrees-celsius``; none on binary objects), and either ``quantity`` (inputs: the model
  quantity it shows) or ``valve`` / ``pump`` (outputs: what its priority array's winner
  commands through SiteModel.command_valve / command_pump), plus ``relinquish_default`` on
  outputs (a number for analog, ``active`` / ``inactive`` for binary) and an optional
  ``cov_increment``; an input may scale its quantity with ``factor`` (e.g. Wh to kWh: 0.001);
- ``bacnet_meters``: a list of further BACnet devices, each shaped like ``bacnet`` with inputs
  only: the heat meters (BTU meters, energy valves) on the loop and its branches, each its own
  device instance on its own port, as such meters are on a site's network. Their counters are
  the model's (heat_meter_energy_wh for the loop, destination_energy_wh.<d> per branch), so
  they agree with the Modbus heat meter.

Errors name the file and the field (SiteError, a ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the environment

SITES_DIR = Path(__file__).parent / "sites"
DEFAULT_SITE = SITES_DIR / "demo.yaml"
# The integration's built-in profiles: the simulator reads them as data, never imports them.
PROFILES_DIR = Path(__file__).parent.parent / "custom_components" / "microdc" / "profiles"

BACNET_INPUT_TYPES = ("analog-input", "binary-input")
BACNET_OUTPUT_TYPES = ("analog-output", "binary-output")


class SiteError(ValueError):
    """A site file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class PointSource:
    """Where a Modbus point's value comes from: a model quantity (times factor) or a constant."""

    quantity: str | None = None
    constant: float | None = None
    factor: float = 1.0


@dataclass(frozen=True)
class ModbusDeviceSpec:
    """One Modbus unit on the site's gateway."""

    name: str
    unit_id: int
    profile: str
    points: dict[str, PointSource]


@dataclass(frozen=True)
class BacnetObjectSpec:
    """One BACnet object of the site's controller."""

    type: str
    instance: int
    name: str
    description: str
    units: str | None = None
    quantity: str | None = None
    valve: str | None = None
    pump: str | None = None
    relinquish_default: float | str | None = None
    cov_increment: float | None = None
    factor: float = 1.0


@dataclass(frozen=True)
class BacnetDeviceSpec:
    """The site's BACnet device and its objects."""

    name: str
    device_instance: int
    vendor_identifier: int
    model_name: str
    objects: tuple[BacnetObjectSpec, ...]


@dataclass(frozen=True)
class Site:
    """A parsed site file."""

    name: str
    path: Path
    params: dict[str, Any]
    modbus_devices: tuple[ModbusDeviceSpec, ...]
    bacnet: BacnetDeviceSpec | None
    profiles_dir: Path = field(default=PROFILES_DIR)
    bacnet_meters: tuple[BacnetDeviceSpec, ...] = ()

    def bacnet_devices(self) -> tuple[BacnetDeviceSpec, ...]:
        """Every BACnet device of the site: the controller first, then the meters."""
        return (*(() if self.bacnet is None else (self.bacnet,)), *self.bacnet_meters)

    def modbus_device(self, key: str | int) -> ModbusDeviceSpec:
        """Find a Modbus device by name, profile id or unit id (KeyError if none)."""
        for device in self.modbus_devices:
            if key in (device.name, device.profile, device.unit_id) or (
                isinstance(key, str) and key.isdigit() and int(key) == device.unit_id
            ):
                return device
        raise KeyError(key)


def load_site(path: str | Path | None = None) -> Site:
    """Read and check a site file; the built-in demo site when path is None."""
    site_path = Path(path) if path is not None else DEFAULT_SITE
    try:
        raw = yaml.safe_load(site_path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SiteError(f"{site_path}: cannot read site file: {err}") from err
    except yaml.YAMLError as err:
        raise SiteError(f"{site_path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise SiteError(f"{site_path}: a site file must be a mapping")
    for section in ("clock", "outdoor", "rack", "room", "loop", "destinations", "valves"):
        if not isinstance(raw.get(section), dict):
            raise SiteError(f"{site_path}: section '{section}' is missing or not a mapping")
    return Site(
        name=str(raw.get("name", site_path.stem)),
        path=site_path,
        params=raw,
        modbus_devices=_modbus_devices(site_path, raw.get("modbus") or {}),
        bacnet=_bacnet_device(site_path, raw.get("bacnet")),
        bacnet_meters=_bacnet_meters(site_path, raw.get("bacnet_meters")),
    )


def _bacnet_meters(path: Path, raw: Any) -> tuple[BacnetDeviceSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SiteError(f"{path}: bacnet_meters must be a list of devices")
    meters: list[BacnetDeviceSpec] = []
    for index, item in enumerate(raw):
        where = f"bacnet_meters[{index}]"
        meter = _bacnet_device(path, item, where)
        if meter is None:
            raise SiteError(f"{path}: {where} must be a mapping")
        if any(obj.type not in BACNET_INPUT_TYPES for obj in meter.objects):
            raise SiteError(f"{path}: {where}: a meter has inputs only")
        meters.append(meter)
    return tuple(meters)


def _modbus_devices(path: Path, raw: dict[str, Any]) -> tuple[ModbusDeviceSpec, ...]:
    devices = raw.get("devices") or {}
    if not isinstance(devices, dict):
        raise SiteError(f"{path}: modbus.devices must be a mapping of device name to device")
    specs: list[ModbusDeviceSpec] = []
    for name, dev in devices.items():
        where = f"{path}: modbus.devices.{name}"
        if not isinstance(dev, dict):
            raise SiteError(f"{where}: must be a mapping")
        unit_id = dev.get("unit_id")
        if not isinstance(unit_id, int) or not 0 <= unit_id <= 247:
            raise SiteError(f"{where}.unit_id: must be an integer 0..247")
        if any(s.unit_id == unit_id for s in specs):
            raise SiteError(f"{where}.unit_id: {unit_id} is used twice")
        profile = dev.get("profile")
        if not isinstance(profile, str):
            raise SiteError(f"{where}.profile: must be a profile id")
        points: dict[str, PointSource] = {}
        for key, source in (dev.get("points") or {}).items():
            if isinstance(source, str):
                points[key] = PointSource(quantity=source)
            elif isinstance(source, dict) and isinstance(source.get("value"), int | float):
                points[key] = PointSource(constant=float(source["value"]))
            elif (
                isinstance(source, dict)
                and isinstance(source.get("quantity"), str)
                and isinstance(source.get("factor", 1.0), int | float)
            ):
                points[key] = PointSource(source["quantity"], factor=float(source.get("factor", 1)))
            else:
                raise SiteError(
                    f"{where}.points.{key}: a quantity name, {{quantity: NAME, factor: F}} "
                    "or {value: N}"
                )
        specs.append(ModbusDeviceSpec(str(name), unit_id, profile, points))
    return tuple(specs)


def _bacnet_device(path: Path, raw: Any, section: str = "bacnet") -> BacnetDeviceSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SiteError(f"{path}: {section} must be a mapping")
    instance = raw.get("device_instance")
    if not isinstance(instance, int) or not 0 <= instance < 4194303:
        raise SiteError(f"{path}: {section}.device_instance must be an integer 0..4194302")
    objects: list[BacnetObjectSpec] = []
    for index, obj in enumerate(raw.get("objects") or []):
        where = f"{path}: {section}.objects[{index}]"
        if not isinstance(obj, dict):
            raise SiteError(f"{where}: must be a mapping")
        obj_type = obj.get("type")
        if obj_type not in BACNET_INPUT_TYPES + BACNET_OUTPUT_TYPES:
            raise SiteError(f"{where}.type: one of {BACNET_INPUT_TYPES + BACNET_OUTPUT_TYPES}")
        if obj_type in BACNET_INPUT_TYPES and not isinstance(obj.get("quantity"), str):
            raise SiteError(f"{where}: an input needs the quantity it shows")
        if obj_type in BACNET_OUTPUT_TYPES and not (obj.get("valve") or obj.get("pump")):
            raise SiteError(f"{where}: an output needs the valve or pump it commands")
        if obj_type.startswith("analog") and not obj.get("units"):
            raise SiteError(f"{where}.units: an analog object needs engineering units")
        for key in ("instance", "name", "description"):
            if key not in obj:
                raise SiteError(f"{where}.{key}: required")
        objects.append(
            BacnetObjectSpec(
                type=obj_type,
                instance=int(obj["instance"]),
                name=str(obj["name"]),
                description=str(obj["description"]),
                units=obj.get("units"),
                quantity=obj.get("quantity"),
                valve=obj.get("valve"),
                pump=obj.get("pump"),
                relinquish_default=obj.get("relinquish_default"),
                cov_increment=obj.get("cov_increment"),
                factor=float(obj.get("factor", 1.0)),
            )
        )
    return BacnetDeviceSpec(
        name=str(raw.get("name", "bacnet-device")),
        device_instance=instance,
        vendor_identifier=int(raw.get("vendor_identifier", 999)),
        model_name=str(raw.get("model_name", "simulated controller")),
        objects=tuple(objects),
    )
