"""A generated plant room: one Modbus profile of many points and the fleet file that serves it.

Used by benchmarks/scale.py (and the fleet smoke test): ``write_plant_room(folder, ...)`` writes
``<folder>/microdc/profiles/plant_meter.yaml`` (where microdc looks for a user's own profiles)
and ``<folder>/fleet.yaml`` for ``python -m simulator --fleet``, and returns what was made.

The profile looks like a plant-room energy meter or drive: groups of 16-bit readings, signed
temperatures and 32-bit counters in holding registers, floats in input registers, with the gaps
real register maps have (a short one inside a group, a long one between the two input banks),
so the block planner has something to merge and something it must not merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROFILE_ID = "plant_meter"
GROUP = (  # one group of holding-register points: (data type, scale, unit, device class)
    ("u16", 0.1, "V", "voltage"),
    ("u16", 0.01, "A", "current"),
    ("u16", 1.0, "W", "power"),
    ("u16", 0.1, "%", None),
    ("u16", 0.01, "Hz", "frequency"),
    ("u16", 1.0, None, None),
    ("s16", 0.1, "°C", "temperature"),
    ("s16", 0.1, "°C", "temperature"),
    ("u32", 1.0, "Wh", "energy"),
    ("u32", 1.0, "s", "duration"),
)


@dataclass(frozen=True, slots=True)
class PlantRoom:
    """What was generated: the files and the names a benchmark needs."""

    fleet_file: Path
    profiles_dir: Path
    modbus_devices: tuple[tuple[int, int], ...]  # (gateway index, unit id)
    bacnet_devices: tuple[int, ...]  # device instances
    cov_objects: dict[int, tuple[int, ...]]  # device instance -> analog inputs with COV
    points_per_device: int
    objects_per_device: int


def profile_points(points: int) -> dict[str, dict[str, Any]]:
    """``points`` points: 60 % in holding registers (groups of GROUP), the rest input floats."""
    holding = points * 6 // 10
    result: dict[str, dict[str, Any]] = {}
    address = 0
    for index in range(holding):
        data_type, scale, unit, device_class = GROUP[index % len(GROUP)]
        if index and index % len(GROUP) == 0:
            address += 4  # a short reserved gap between groups: read through
        point: dict[str, Any] = {"table": "holding", "address": address, "data_type": data_type}
        if scale != 1.0:
            point["scale"] = scale
        if unit is not None:
            point["unit"] = unit
        if device_class is not None:
            point["device_class"] = device_class
        point["state_class"] = "total_increasing" if unit == "Wh" else "measurement"
        result[f"h{index:03d}"] = point
        address += 2 if data_type == "u32" else 1
    address = 0
    floats = points - holding
    for index in range(floats):
        if index == floats // 2:
            address += 40  # the second bank starts far away: a separate read
        result[f"i{index:03d}"] = {
            "table": "input",
            "address": address,
            "data_type": "f32",
            "unit": "°C",
            "device_class": "temperature",
            "state_class": "measurement",
            "precision": 2,
        }
        address += 2
    return result


def _value(point: dict[str, Any], seed: int) -> float:
    if point["data_type"] == "f32":
        return 18.0 + (seed % 70) / 10
    if point["data_type"] == "s16":
        return 15.0 + (seed % 100) / 10
    scale = float(point.get("scale", 1.0))
    return round((100 + seed % 900) * scale, 6)


def write_plant_room(
    folder: Path,
    *,
    gateways: int = 5,
    units_per_gateway: int = 10,
    points: int = 100,
    controllers: int = 10,
    objects: int = 200,
    cov_share: float = 0.1,
    vary_share: float = 0.2,
) -> PlantRoom:
    """Write the profile and the fleet file under folder; see the module docstring."""
    profiles_dir = folder / "microdc" / "profiles"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    point_specs = profile_points(points)
    profile = {
        "manufacturer": "microdc benchmark",
        "model": f"Plant meter {points}",
        "description": "Generated for benchmarks/scale.py",
        "protocol": "modbus",
        "points": point_specs,
    }
    (profiles_dir / f"{PROFILE_ID}.yaml").write_text(
        yaml.safe_dump(profile, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    quantities: dict[str, float] = {}
    vary: dict[str, float] = {}
    fleet_gateways = []
    modbus_devices = []
    seed = 0
    for gateway in range(gateways):
        devices = {}
        for unit in range(1, units_per_gateway + 1):
            name = f"meter-{gateway + 1}-{unit:02d}"
            mapping = {}
            for key, spec in point_specs.items():
                seed += 1
                quantity = f"{name}.{key}"
                quantities[quantity] = _value(spec, seed)
                if seed % round(1 / vary_share) == 0:
                    # Twenty raw steps either way (two degrees for a float).
                    floating = spec["data_type"] == "f32"
                    vary[quantity] = 2.0 if floating else 20 * float(spec.get("scale", 1.0))
                mapping[key] = quantity
            devices[name] = {"unit_id": unit, "profile": PROFILE_ID, "points": mapping}
            modbus_devices.append((gateway, unit))
        fleet_gateways.append({"devices": devices})
    fleet_bacnet, cov_objects = _controllers(controllers, objects, cov_share, quantities, vary)
    fleet = {
        "name": "Generated plant room",
        "profiles_dir": "microdc/profiles",
        "quantities": quantities,
        "vary": vary,
        "vary_period_s": 300,
        "gateways": fleet_gateways,
        "bacnet": fleet_bacnet,
    }
    fleet_file = folder / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet, sort_keys=False), encoding="utf-8")
    return PlantRoom(
        fleet_file=fleet_file,
        profiles_dir=profiles_dir,
        modbus_devices=tuple(modbus_devices),
        bacnet_devices=tuple(3100 + c for c in range(controllers)),
        cov_objects=cov_objects,
        points_per_device=points,
        objects_per_device=objects,
    )


def _controllers(
    controllers: int,
    objects: int,
    cov_share: float,
    quantities: dict[str, float],
    vary: dict[str, float],
) -> tuple[list[dict[str, Any]], dict[int, tuple[int, ...]]]:
    """The BACnet controllers' sections of the fleet file, and their COV objects."""
    fleet_bacnet = []
    cov_objects: dict[int, tuple[int, ...]] = {}
    cov_every = round(1 / cov_share)
    for controller in range(controllers):
        instance = 3100 + controller
        name = f"ahu-{controller + 1:02d}"
        items = []
        with_cov = []
        for index in range(objects):
            quantity = f"{name}.o{index:03d}"
            binary = index % 10 == 9
            cov = index % cov_every == 0
            item: dict[str, Any] = {
                "type": "binary-input" if binary else "analog-input",
                "instance": index,
                "name": f"{name.upper()} point {index:03d}",
                "description": f"generated object {index}",
                "quantity": quantity,
                "cov": cov,
            }
            if binary:
                quantities[quantity] = float(index % 2)
            else:
                item["units"] = "degrees-celsius"
                item["cov_increment"] = 0.1
                quantities[quantity] = 20.0 + (index % 50) / 10
                # COV objects keep still unless a benchmark moves them; a fifth of the
                # others drift, so the polls see change.
                if not cov and index % 5 == 1:
                    vary[quantity] = 1.5
                if cov:
                    with_cov.append(index)
            items.append(item)
        fleet_bacnet.append({"name": name, "device_instance": instance, "objects": items})
        cov_objects[instance] = tuple(with_cov)
    return fleet_bacnet, cov_objects
