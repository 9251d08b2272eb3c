"""Heat accounting accuracy over one simulated day, through microdc's real transports.

Runs the site simulator (``python -m simulator``) at high speed for one simulated day with its
varying IT load, routes the heat by writing the valves' commands over BACnet/IP at a priority
(relinquished at the end), and meanwhile:

* reads the heat meter over Modbus TCP with microdc's transport and profile decoding
  (protocols/modbus.py, profile.py, decode.py);
* reads the valve commands over BACnet/IP with protocols/bacnet.py;
* feeds two heat ledgers of microdc's heat domain: "computed" (thermal power from flow and
  temperatures, integrated by the trapezoid rule) and "meter" (the meter's energy counter);
* at the end compares both with the simulator's ground truth.

Each reading is timestamped with the simulator's clock, read from its control API just before
and just after the Modbus read; a reading during which a simulator tick happened is taken again.
Home Assistant would use its own clock; at speed 1 the two are the same, at high speed only the
simulator's clock says when a value was true.

Two kinds of error are reported, because they have different causes:

* Recovered heat (the headline, last line): the heat the loop carried away from the rack over
  the day, the quantity a heat meter measures, against the simulator's ``heat_to_loop_wh``.
  This is microdc's measurement error: sampling, integration, fluid properties, counter
  resolution.
* Per heat destination: the ledger's split (by valve openings, as microdc does without branch
  meters) against the heat each destination's heat exchanger actually took. This adds the
  valve-sharing approximation and the heat the loop stores and releases after a routing change,
  which no measurement at the rack's meter can see.

Sampling: the simulator advances in ticks of 0.1 s wall time, so at speed S the ledgers see a new
state every 0.1·S simulated seconds, like Home Assistant polling at that scan interval. At the
default speed 250 that is every 25 s (a typical scan interval; about 6 minutes of wall time for
the day). At speed 1000 (100 s between states) the computed figure's error grew from 0.01 % to
0.2 %: the trapezoid rule then misses the loop's faster swings after load bursts and valve
moves. The meter's counter does not depend on sampling.

Usage: ``scripts/run python -m benchmarks.heat_accuracy [--speed 250] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
import json
import math
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp

from custom_components.microdc.lib.devices.modbus import ModbusDevice
from custom_components.microdc.lib.heat import (
    REJECT,
    Circuit,
    CircuitReading,
    CounterSpec,
    FlowUnit,
    Fluid,
    HeatDomainError,
    HeatLedger,
    shares_by_valves,
    thermal_power,
)
from custom_components.microdc.lib.profile import load_profile_file
from custom_components.microdc.lib.protocols.bacnet import (
    BacnetDeviceClient,
    BacnetNetwork,
    BacnetNetworkConfig,
    ObjectId,
)
from custom_components.microdc.lib.protocols.modbus import Endpoint, ModbusConnection

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "custom_components/microdc/profiles/demo_heat_meter.yaml"
HEAT_METER_UNIT = 4
DAY_S = 86400.0
PRIORITY = 8  # BACnet "manual operator": above the building's schedules, below life safety
MAX_GAP_S = 900.0
TICK_S = 0.1  # the simulator's clock tick in wall seconds (simulator/runner.py)

# The valves of the demo site (simulator/sites/demo.yaml): destination -> analog output.
VALVES: dict[str, ObjectId] = {
    "stockroom": ObjectId("analog-output", 1),
    "tenant_a": ObjectId("analog-output", 2),
    "tenant_b": ObjectId("analog-output", 3),
    "shared_loop": ObjectId("analog-output", 4),
    REJECT: ObjectId("analog-output", 5),  # the dry cooler
}
DESTINATIONS = tuple(d for d in VALVES if d != REJECT)
# The simulator's ground-truth ledger keys per microdc destination.
TRUTH = {**{d: f"delivered_wh.{d}" for d in DESTINATIONS}, REJECT: "rejected_wh.dry_cooler"}

# Routing over the day (simulated seconds since 07:00 -> valve commands in %).
ROUTES: tuple[tuple[float, dict[str, float]], ...] = (
    (1800.0, {"stockroom": 100.0, REJECT: 0.0}),
    (7200.0, {"stockroom": 0.0, "tenant_a": 100.0}),
    (14400.0, {"tenant_a": 50.0, "tenant_b": 50.0}),
    (25200.0, {"tenant_a": 0.0, "tenant_b": 0.0, "shared_loop": 100.0}),
    (36000.0, {"shared_loop": 0.0, "tenant_b": 100.0}),
    (46800.0, {"tenant_b": 0.0, REJECT: 100.0}),
    (54000.0, {REJECT: 0.0, "shared_loop": 100.0}),
    (79200.0, {"shared_loop": 0.0, "stockroom": 100.0}),
)


@dataclass
class Simulator:
    """A running ``python -m simulator`` and its control API."""

    process: subprocess.Popen[bytes]
    ready: dict[str, Any]
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://{self.ready['control']['host']}:{self.ready['control']['port']}"

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, self.url + path, json=body) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise RuntimeError(f"simulator {path}: {resp.status} {data}")
            return data

    async def state(self) -> dict[str, Any]:
        return dict(await self.call("GET", "/state"))


def start_simulator(seed: int) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start the simulator paused, on free ports of 127.0.0.1; return it and its ready line."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "simulator", "--speed", "0", "--seed", str(seed)),
            *("--modbus-port", "0", "--bacnet-port", "0", "--control-port", "0"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise RuntimeError(f"the simulator exited with {process.returncode} before it was ready")
    return process, json.loads(line)


def stop_simulator(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Accounting:
    """The two ledgers under test, fed from one set of readings."""

    def __init__(self, wh_per_count: float, flow_unit: FlowUnit) -> None:
        self.flow_unit = flow_unit
        self.wh_per_count = wh_per_count
        destinations = (*DESTINATIONS, REJECT)
        self.computed = HeatLedger([Circuit("main", destinations)], MAX_GAP_S)
        self.meter = HeatLedger(
            [Circuit("main", destinations, CounterSpec(wh_per_count, bits=32))], MAX_GAP_S
        )
        self.samples = 0

    def record(self, time_s: float, values: dict[str, Any], openings: dict[str, float]) -> None:
        """Feed one reading of the meter and the valves, taken at time_s, to both ledgers."""
        shares = shares_by_valves(openings)
        flow, supply = values["flow"], values["supply_temperature"]
        ret = values["return_temperature"]
        power = None
        if None not in (flow, supply, ret):
            power = thermal_power(
                float(flow), self.flow_unit, float(supply), float(ret), fluid=Fluid.WATER
            )
        energy = values["energy"]
        # The profile scales the register to kWh; the counter wants the register's counts.
        counter = None if energy is None else round(float(energy) * 1000 / self.wh_per_count)
        self.computed.record(time_s, {"main": CircuitReading(power_w=power, shares=shares)})
        self.meter.record(time_s, {"main": CircuitReading(counter=counter, shares=shares)})
        self.samples += 1


@dataclass
class DayResult:
    """What one simulated day produced."""

    accounting: Accounting
    truth: dict[str, float]
    end_s: float
    wall_s: float
    retries: int
    still_held: list[str]


def _error_pct(measured: float, truth: float) -> float:
    return math.inf if truth == 0 else (measured - truth) / truth * 100


async def _sample(
    sim: Simulator, meter: ModbusDevice, controller: BacnetDeviceClient, accounting: Accounting
) -> tuple[float, int]:
    """One consistent reading at one simulated instant; returns that instant and the retries."""
    retries = 0
    while True:
        before = (await sim.state())["time"]["simulated_s"]
        polled = await meter.poll()
        readings = await controller.read_present_values(VALVES.values())
        after = (await sim.state())["time"]["simulated_s"]
        if before == after:
            break
        retries += 1  # a simulator tick fell between the reads: they are not of one instant
    openings = {}
    for destination, oid in VALVES.items():
        value = readings[oid].present_value
        openings[destination] = float(value) if isinstance(value, int | float) else 0.0
    accounting.record(before, dict(polled.values), openings)
    return float(before), retries


async def _day(
    sim: Simulator,
    meter: ModbusDevice,
    controller: BacnetDeviceClient,
    accounting: Accounting,
    speed: float,
) -> DayResult:
    """Run the day: route, sample, stop exactly at its end, relinquish the valves."""
    started = time.monotonic()
    now, retries = await _sample(sim, meter, controller, accounting)  # 07:00, still paused
    await sim.call("POST", "/speed", {"speed": speed})
    pending = list(ROUTES)
    while now < DAY_S:
        while pending and pending[0][0] <= now:
            _, commands = pending.pop(0)
            for destination, percent in commands.items():
                await controller.write_present_value(VALVES[destination], percent, PRIORITY)
        if DAY_S - now < 3 * speed * TICK_S:
            # Close to the end: pause and step exactly to it, so the ledgers end together.
            await sim.call("POST", "/speed", {"speed": 0})
            at = (await sim.state())["time"]["simulated_s"]
            await sim.call("POST", "/advance", {"seconds": DAY_S - at})
        now, more = await _sample(sim, meter, controller, accounting)
        retries += more
    truth = (await sim.state())["ledgers"]
    for oid in VALVES.values():
        await controller.relinquish(oid, PRIORITY)
    valves = (await sim.state())["valves"]
    held = [v for v, info in valves.items() if info["bacnet"]["priority_array"][PRIORITY - 1]]
    return DayResult(accounting, truth, now, time.monotonic() - started, retries, held)


async def run(speed: float, seed: int) -> DayResult:
    """Start the simulator and the transports, run the day, close everything."""
    profile = load_profile_file(PROFILE)
    wh_per_count = float(profile.points["energy"].scale) * 1000  # the register counts 0.01 kWh
    accounting = Accounting(wh_per_count, FlowUnit(str(profile.points["flow"].unit)))
    process, ready = start_simulator(seed)
    network: BacnetNetwork | None = None
    connection: ModbusConnection | None = None
    try:
        async with aiohttp.ClientSession() as session:
            sim = Simulator(process, ready, session)
            modbus, bacnet = ready["modbus"], ready["bacnet"]
            connection = ModbusConnection(Endpoint(modbus["host"], modbus["port"]), timeout=5)
            meter = ModbusDevice(connection, HEAT_METER_UNIT, profile)
            network = await BacnetNetwork.acquire(
                BacnetNetworkConfig(address="127.0.0.1/8", port=0, apdu_timeout_s=2)
            )
            controller = network.device(
                f"{bacnet['host']}:{bacnet['port']}", int(bacnet["device_instance"])
            )
            return await _day(sim, meter, controller, accounting, speed)
    finally:
        if network is not None:
            await network.release()
        if connection is not None:
            await connection.close()
        stop_simulator(process)


def report(result: DayResult, speed: float) -> tuple[float, float]:
    """Print the comparison; return the headline errors (computed, meter) in %."""
    acc, truth = result.accounting, result.truth
    computed, metered = acc.computed.totals(), acc.meter.totals()
    interval = result.end_s / max(acc.samples - 1, 1)
    print(
        f"simulated {result.end_s / 3600:.2f} h at speed {speed:g} in {result.wall_s:.0f} s "
        f"wall; {acc.samples} samples (mean interval {interval:.0f} s simulated); "
        f"{result.retries} taken again across a simulator tick"
    )
    held = ", ".join(result.still_held) or "none"
    print(f"valves still commanded at priority {PRIORITY} after relinquishing: {held}")
    print(
        f"gaps: computed {computed.gap_count}, meter {metered.gap_count}; unattributed Wh: "
        f"computed {computed.unattributed_wh:.1f}, meter {metered.unattributed_wh:.1f}"
    )
    print()
    print(f"{'kWh':<12} {'truth':>9} {'computed':>9} {'err %':>7} {'meter':>9} {'err %':>7}")

    def row(name: str, true_wh: float, c_wh: float, m_wh: float) -> None:
        print(
            f"{name:<12} {true_wh / 1000:9.3f} {c_wh / 1000:9.3f} "
            f"{_error_pct(c_wh, true_wh):7.2f} {m_wh / 1000:9.3f} {_error_pct(m_wh, true_wh):7.2f}"
        )

    for destination in (*DESTINATIONS, REJECT):
        row(
            destination,
            truth[TRUTH[destination]],
            computed.by_destination_wh[destination],
            metered.by_destination_wh[destination],
        )
    reused = sum(truth[TRUTH[d]] for d in DESTINATIONS)
    row("reused", reused, computed.reused_wh, metered.reused_wh)
    into_loop = truth["heat_to_loop_wh"]
    row("into loop", into_loop, computed.captured_wh, metered.captured_wh)
    print(
        f"(loop and room stored {truth['stored_wh'] / 1000:.3f} kWh more at the end than at "
        f"the start; IT energy {truth['it_energy_wh'] / 1000:.3f} kWh)"
    )
    return (
        abs(_error_pct(computed.captured_wh, into_loop)),
        abs(_error_pct(metered.captured_wh, into_loop)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=250.0, help="simulated s per wall s")
    parser.add_argument("--seed", type=int, default=0, help="the simulated day's random events")
    args = parser.parse_args()
    try:
        result = asyncio.run(run(args.speed, args.seed))
    except HeatDomainError as err:
        print(f"heat domain refused a reading: {err}", file=sys.stderr)
        return 1
    computed, meter = report(result, args.speed)
    print(f"recovered heat error: {computed:.3f} % (computed), {meter:.3f} % (meter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
