"""microdc side by side with Home Assistant's core ``modbus`` integration, on the same devices.

One run, one real Home Assistant process (benchmarks/ha_instance.py), the demo site's rack PDU
and UPS served by the simulator (``python -m simulator``, time held still). Both integrations
read them at the same scan interval, each through its own counting proxy
(benchmarks/counting_proxy.py) in front of the simulator's Modbus port:

- core ``modbus``, configured in YAML as its documentation shows, with one sensor per point of
  the two profiles (address, input_type, data_type, swap, scale, precision, nan_value,
  slave = unit id, scan_interval): what a user who writes the YAML by hand gets;
- microdc, with a site and one Modbus device subentry per device created through Home
  Assistant's REST config-flow API, as the UI does.

After a settling period the proxies are reset and both run for ``--scans`` scan intervals.
Requests and bytes per scan are the proxies' counts divided by the scans; values decoded per
scan are the points each integration turns into a value (microdc: every point of the profile,
from its diagnostics; core: its sensors that hold a number); wall time per scan is the median
time from a scan's first request to its last response.

Usage: ``scripts/run python benchmarks/peer_modbus.py [--scans 6] [--scan-interval 5]``.
The last line reads ``requests per scan: microdc X vs core modbus Y (ratio R)``.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path
import statistics
import sys
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from benchmarks.counting_proxy import CountingProxy, Counts, scan_durations
from benchmarks.ha_instance import (
    BASE_CONFIGURATION,
    HomeAssistantProcess,
    core_modbus_requirements,
    suggested,
)
from custom_components.microdc.lib.profile import (
    BUILTIN_PROFILES_DIR,
    DataType,
    Profile,
    RegisterPoint,
    WordOrder,
    load_profile_file,
)
from custom_components.microdc.lib.protocols.block_planner import plan_reads
from simulator.site import load_site
from tests.simulator_process import start_simulator

PROFILES = ("demo_rack_pdu", "demo_ups")
SETTLE_SCANS = 2

# microdc's data types in core modbus's words; bitfields and enums are plain 16-bit words there.
CORE_TYPES = {
    DataType.U16: "uint16",
    DataType.S16: "int16",
    DataType.U32: "uint32",
    DataType.S32: "int32",
    DataType.U64: "uint64",
    DataType.F32: "float32",
    DataType.F64: "float64",
    DataType.BITFIELD: "uint16",
    DataType.ENUM: "uint16",
    DataType.BOOL: "uint16",
}


@dataclass(frozen=True, slots=True)
class Device:
    profile: Profile
    unit_id: int


def core_sensor(device: Device, point: RegisterPoint, scan_interval: int) -> dict[str, Any]:
    """One point as a core modbus sensor (homeassistant/components/modbus/schemas.py)."""
    sensor: dict[str, Any] = {
        "name": f"{device.profile.profile_id} {point.key}",
        "unique_id": f"bench_{device.profile.profile_id}_{point.key}",
        "slave": device.unit_id,
        "address": point.address,
        "input_type": point.table.value,
        "data_type": CORE_TYPES[point.data_type],
        "scan_interval": scan_interval,
    }
    if point.scale != 1:
        sensor["scale"] = point.scale
    if point.offset:
        sensor["offset"] = point.offset
    if point.precision is not None:
        sensor["precision"] = point.precision
    if point.word_order is WordOrder.LITTLE:
        sensor["swap"] = "word"
    if point.nan:
        sensor["nan_value"] = int(min(point.nan))
    if point.unit:
        sensor["unit_of_measurement"] = point.unit
    return sensor


def core_configuration(devices: list[Device], port: int, scan_interval: int) -> str:
    sensors = [
        core_sensor(device, point, scan_interval)
        for device in devices
        for point in device.profile.points.values()
    ]
    hub = {"name": "bench", "type": "tcp", "host": "127.0.0.1", "port": port, "sensors": sensors}
    return BASE_CONFIGURATION + yaml.safe_dump({"modbus": [hub]}, sort_keys=False)


async def add_microdc_site(
    ha: HomeAssistantProcess, devices: list[Device], port: int, scan_interval: int
) -> str:
    """The site and its Modbus devices, through the config-flow REST API; the entry id."""
    created = await ha.flow(
        "/api/config/config_entries/flow", "microdc", {"user": {"site_name": "Peer benchmark"}}
    )
    entry_id = str(created["result"]["entry_id"])
    for device in devices:
        answer = {
            "host": "127.0.0.1",
            "port": port,
            "framing": "tcp",
            "unit_id": device.unit_id,
            "profile": device.profile.profile_id,
            "polling": {"scan_interval": scan_interval, "timeout": 3, "max_gap": 16},
        }
        await ha.flow(
            "/api/config/config_entries/subentries/flow",
            [entry_id, "modbus_device"],
            {"user": answer, "name": suggested},
        )
    return entry_id


async def microdc_values(ha: HomeAssistantProcess, entry_id: str) -> int:
    """Points microdc decoded in its last poll (every device of the site)."""
    diagnostics = await ha.rest("GET", f"/api/diagnostics/config_entry/{entry_id}")
    devices = diagnostics["data"]["devices"].values()
    return sum(sum(value is not None for value in (d["values"] or {}).values()) for d in devices)


async def core_values(ha: HomeAssistantProcess) -> int:
    """Core modbus sensors that hold a value."""
    registry = await ha.command({"type": "config/entity_registry/list"})
    ids = {e["entity_id"] for e in registry if e["platform"] == "modbus"}
    states = await ha.rest("GET", "/api/states")
    return sum(
        s["entity_id"] in ids and s["state"] not in ("unknown", "unavailable") for s in states
    )


def row(name: str, counts: Counts, scans: int, values: int, gap_s: float) -> list[str]:
    durations = scan_durations(counts, gap_s)
    wall = statistics.median(durations) * 1000 if durations else float("nan")
    return [
        name,
        f"{counts.requests / scans:.1f}",
        f"{(counts.bytes_up + counts.bytes_down) / scans:.0f}",
        str(values),
        f"{wall:.1f}",
    ]


def print_table(rows: list[list[str]]) -> None:
    header = ["integration", "requests/scan", "bytes/scan", "values decoded", "wall ms/scan"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)))


async def run(scans: int, scan_interval: int) -> None:
    site = load_site()
    devices = [
        Device(load_profile_file(BUILTIN_PROFILES_DIR / f"{pid}.yaml"), unit)
        for pid in PROFILES
        for unit in [site.modbus_device(pid).unit_id]
    ]
    floor = sum(len(plan_reads(d.profile.points.values())) for d in devices)
    sim = start_simulator(speed=0.0)
    core = CountingProxy(sim.host, sim.modbus_port)
    ours = CountingProxy(sim.host, sim.modbus_port)
    ha: HomeAssistantProcess | None = None
    try:
        await core.start()
        await ours.start()
        ha = await HomeAssistantProcess.start(
            core_configuration(devices, core.port, scan_interval),
            extra_path=core_modbus_requirements(),
        )
        entry_id = await add_microdc_site(ha, devices, ours.port, scan_interval)
        await asyncio.sleep(SETTLE_SCANS * scan_interval)
        core.reset()
        ours.reset()
        await asyncio.sleep(scans * scan_interval)
        core_counts, our_counts = core.reset(), ours.reset()
        ours_decoded = await microdc_values(ha, entry_id)
        core_decoded = await core_values(ha)
        errors = [
            line
            for line in ha.log_text().splitlines()
            if " ERROR " in line and ("modbus" in line or "microdc" in line)
        ]
    finally:
        if ha is not None:
            await ha.stop()
        await core.stop()
        await ours.stop()
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)
    for line in errors:
        print(f"Home Assistant logged: {line}")
    points = sum(len(d.profile.points) for d in devices)
    print(
        f"Devices: {', '.join(d.profile.profile_id for d in devices)} ({points} points), "
        f"scan interval {scan_interval} s, {scans} scans measured; "
        f"register-map floor: {floor} requests per scan"
    )
    gap = scan_interval / 2
    print_table(
        [
            row("microdc", our_counts, scans, ours_decoded, gap),
            row("core modbus", core_counts, scans, core_decoded, gap),
        ]
    )
    mine, theirs = our_counts.requests / scans, core_counts.requests / scans
    ratio = theirs / mine if mine else float("inf")
    print(f"requests per scan: microdc {mine:.1f} vs core modbus {theirs:.1f} (ratio {ratio:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=6)
    parser.add_argument("--scan-interval", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.scans, args.scan_interval))


if __name__ == "__main__":
    main()
