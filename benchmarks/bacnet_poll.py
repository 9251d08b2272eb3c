"""Requests per poll of the demo BACnet controller: microdc's batched reads vs one per object.

Starts the site simulator (``python -m simulator``, time held still), then polls the demo
site's controller through microdc's transport (protocols/bacnet.py: ReadPropertyMultiple
batched within the device's max APDU, present value and status flags of every object), and
again with one ReadProperty of the present value per object, which is what an integration
with one request per entity does. Requests are counted by the simulator (GET /state,
``requests.bacnet`` per service), not by the client. For reference it also polls the same
device with ReadPropertyMultiple refused and with segmentation off (the fallbacks), and
measures microdc's CPU per poll with the poll's own codec (bacnet_poll_codec.py) against
bacpypes3's generic decoding (the baseline), in the same run.

Usage: ``scripts/run python benchmarks/bacnet_poll.py [--polls 30]``.
The last line reads ``requests per poll: microdc N vs per-object M (ratio R)``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
import json
from pathlib import Path
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.microdc.lib.protocols.bacnet import (
    VALUE_OBJECT_TYPES,
    BacnetDeviceClient,
    BacnetNetwork,
    BacnetNetworkConfig,
)
from tests.simulator_process import SimulatorProcess, start_simulator

READS = ("read-property", "read-property-multiple")


def _reads(state: dict[str, Any]) -> int:
    return sum(int(state["requests"]["bacnet"].get(service, 0)) for service in READS)


async def _measure(
    sim: SimulatorProcess, polls: int, poll: Callable[[], Awaitable[Any]]
) -> tuple[float, float]:
    """(requests per poll as the device counted them, median seconds per poll)."""
    await poll()  # settle: the transport learns whether the device takes RPM
    before = _reads(await sim.async_state())
    durations = []
    for _ in range(polls):
        started = time.perf_counter()
        await poll()
        durations.append(time.perf_counter() - started)
    after = _reads(await sim.async_state())
    return (after - before) / polls, statistics.median(durations)


async def _cpu_per_poll(
    client: BacnetDeviceClient, objects: list[Any], polls: int, *, by_hand: bool
) -> float:
    """This process's CPU seconds per poll (the simulator runs in its own process)."""
    client.hand_decoded_polls = None if by_hand else False
    await client.read_present_values(objects)
    started = time.process_time()
    for _ in range(polls):
        await client.read_present_values(objects)
    return (time.process_time() - started) / polls


async def _options(sim: SimulatorProcess, **options: Any) -> None:
    status, answer = await sim.async_request("POST", "/bacnet", json.dumps(options).encode())
    if status != 200:
        raise RuntimeError(f"simulator refused {options}: {answer}")


async def _client(network: BacnetNetwork, sim: SimulatorProcess) -> BacnetDeviceClient:
    assert sim.bacnet_port is not None
    assert sim.bacnet_device_instance is not None
    client = network.device(f"{sim.host}:{sim.bacnet_port}", sim.bacnet_device_instance)
    await client.identify()
    return client


async def run(polls: int) -> None:
    sim = start_simulator(speed=0.0)
    network = await BacnetNetwork.acquire(BacnetNetworkConfig(address="127.0.0.1/8", port=0))
    try:
        client = await _client(network, sim)
        objects = [o for o in await client.read_object_list() if o.type in VALUE_OBJECT_TYPES]

        async def per_object() -> None:
            for object_id in objects:
                await client.read_property(object_id, "present-value")

        microdc, microdc_s = await _measure(sim, polls, lambda: client.read_present_values(objects))
        single, single_s = await _measure(sim, polls, per_object)
        print(f"demo controller: {len(objects)} objects, polled {polls} times each way")
        print(
            "microdc (RPM, present value + status flags): "
            f"{microdc:g} requests, {microdc_s * 1000:.1f} ms"
        )
        print(
            "per-object ReadProperty (present value only): "
            f"{single:g} requests, {single_s * 1000:.1f} ms"
        )

        generic = await _cpu_per_poll(client, objects, polls, by_hand=False)
        by_hand = await _cpu_per_poll(client, objects, polls, by_hand=True)
        print(
            "microdc's CPU per poll: the poll's own codec "
            f"{by_hand * 1000:.2f} ms vs bacpypes3's generic decoding {generic * 1000:.2f} ms "
            f"({generic / by_hand:.1f}x)"
        )

        await client.close()
        await _options(sim, rpm_enabled=False, segmentation=False)
        fallback = await _client(network, sim)
        refused, refused_s = await _measure(
            sim, polls, lambda: fallback.read_present_values(objects)
        )
        print(
            "microdc on a device refusing RPM and segmentation (fallback to ReadProperty): "
            f"{refused:g} requests, {refused_s * 1000:.1f} ms"
        )
        await fallback.close()
        print(
            f"requests per poll: microdc {microdc:g} vs per-object {single:g} "
            f"(ratio {single / microdc:.1f})"
        )
    finally:
        await network.release()
        sim.stop()
        sim.stderr_path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.polls))


if __name__ == "__main__":
    main()
