"""Requests per poll: microdc's block reads against one request per point.

Starts the site simulator (``python -m simulator``, time held still), then polls each Modbus
device of the demo site through microdc's transport and block planner (protocols/modbus.py,
protocols/block_planner.py), and the same points again with one request per point, which is
what Home Assistant's core Modbus integration does (one request per entity). Requests are
counted by the simulator (GET /state, ``requests.modbus.by_unit``), not by the client.

Usage: ``scripts/run python benchmarks/modbus_poll.py [--polls 30] [--max-gap 16]``.
The last line reads ``requests per poll: microdc N vs per-point M (ratio R)``.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.microdc.lib.devices.modbus import ModbusDevice
from custom_components.microdc.lib.profile import (
    BUILTIN_PROFILES_DIR,
    Profile,
    load_profiles,
)
from custom_components.microdc.lib.protocols.block_planner import DEFAULT_MAX_GAP
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnection
from tests.simulator_process import SimulatorProcess, start_simulator


@dataclass(frozen=True, slots=True)
class Measurement:
    """One device read one way."""

    requests_per_poll: float
    median_poll_s: float


def _unit_requests(state: dict[str, Any], unit_id: int) -> int:
    # by_unit: unit id -> function code -> requests served
    by_function = state["requests"]["modbus"]["by_unit"].get(str(unit_id), {})
    return sum(int(count) for count in by_function.values())


async def _measure(sim: SimulatorProcess, unit_id: int, polls: int, poll: Any) -> Measurement:
    before = _unit_requests(await sim.async_state(), unit_id)
    durations = []
    for _ in range(polls):
        started = time.perf_counter()
        await poll()
        durations.append(time.perf_counter() - started)
    after = _unit_requests(await sim.async_state(), unit_id)
    return Measurement((after - before) / polls, statistics.median(durations))


async def _per_point(connection: ModbusConnection, unit_id: int, profile: Profile) -> None:
    for point in profile.points.values():
        await connection.read(unit_id, point.table, point.address, point.count)


async def run(polls: int, max_gap: int) -> None:
    """Start the simulator, measure every Modbus device both ways, print the table."""
    profiles = load_profiles(BUILTIN_PROFILES_DIR).profiles
    sim = await asyncio.to_thread(start_simulator, speed=0.0)
    try:
        devices = (await sim.async_state())["modbus"]
        connection = ModbusConnection(Endpoint(sim.host, sim.modbus_port), timeout=5)
        header = f"{'device':<14}{'points':>7}{'microdc req':>13}{'per-point req':>15}"
        print(header + f"{'microdc ms':>12}{'per-point ms':>14}")
        totals = [0, 0.0, 0.0, 0.0, 0.0]
        try:
            for name, device in devices.items():
                unit_id, profile = int(device["unit_id"]), profiles[device["profile"]]
                reader = ModbusDevice(connection, unit_id, profile, max_gap=max_gap)
                await reader.poll()  # connect (and learn the plan) outside the measurement
                ours = await _measure(sim, unit_id, polls, reader.poll)
                theirs = await _measure(
                    sim, unit_id, polls, lambda u=unit_id, p=profile: _per_point(connection, u, p)
                )
                points = len(profile.points)
                print(
                    f"{name:<14}{points:>7}{ours.requests_per_poll:>13g}"
                    f"{theirs.requests_per_poll:>15g}{ours.median_poll_s * 1000:>12.2f}"
                    f"{theirs.median_poll_s * 1000:>14.2f}"
                )
                for i, value in enumerate(
                    (
                        points,
                        ours.requests_per_poll,
                        theirs.requests_per_poll,
                        ours.median_poll_s,
                        theirs.median_poll_s,
                    )
                ):
                    totals[i] += value
        finally:
            await connection.close()
        print(
            f"{'total':<14}{int(totals[0]):>7}{totals[1]:>13g}{totals[2]:>15g}"
            f"{totals[3] * 1000:>12.2f}{totals[4] * 1000:>14.2f}"
        )
        print(f"(median poll time per device, summed; {polls} polls each, max gap {max_gap})")
        ratio = totals[2] / totals[1]
        print(
            f"requests per poll: microdc {totals[1]:g} vs per-point {totals[2]:g} "
            f"(ratio {ratio:.1f})"
        )
    finally:
        await asyncio.to_thread(sim.stop)
        sim.stderr_path.unlink(missing_ok=True)


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=30, help="polls per device and method")
    parser.add_argument("--max-gap", type=int, default=DEFAULT_MAX_GAP, help="registers")
    args = parser.parse_args()
    asyncio.run(run(args.polls, args.max_gap))


if __name__ == "__main__":
    main()
