"""microdc's BACnet transport against the simulator's BACnet device over 127.0.0.1.

Both ends are real: the simulator's bacpypes3 device (with the demo site's model and fault
board) on one UDP port, microdc's shared BacnetNetwork on another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import dataclasses
from pathlib import Path
import socket
from typing import Any

from bacpypes3.ipv4.app import BBMDApplication  # type: ignore[import-untyped]
from bacpypes3.local.device import DeviceObject  # type: ignore[import-untyped]
from bacpypes3.pdu import IPv4Address  # type: ignore[import-untyped]
import pytest

from benchmarks.plant_room import write_plant_room
from custom_components.microdc.lib.protocols.bacnet import (
    BacnetConfigError,
    BacnetDeviceClient,
    BacnetNetwork,
    BacnetNetworkConfig,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    BacnetValueOutOfRangeError,
    BacnetWriteAccessDeniedError,
    ObjectId,
    PointReading,
    StatusFlags,
)
from simulator.bacnet_device import BacnetDevice, DeviceSpec
from simulator.faults import FaultBoard
from simulator.model import SiteModel
from simulator.site import load_site
from tests.simulator_process import start_simulator

INSTANCE = 47110
DEVICE_NAME = "hvac-controller"
DEADLINE_S = 10.0
SUPPLY_T = ObjectId("analog-input", 1)
STOCKROOM_VALVE = ObjectId("analog-output", 1)
DRY_COOLER_VALVE = ObjectId("analog-output", 5)
OCCUPANCY = ObjectId("binary-input", 1)
PUMP = ObjectId("binary-output", 1)
# A short transaction timeout and no retries, so an offline device is noticed quickly; long
# enough that a busy CI machine does not turn a slow answer into a timeout.
CONFIG = BacnetNetworkConfig(address="127.0.0.1/8", port=0, apdu_timeout_s=1.5, apdu_retries=0)


@dataclasses.dataclass
class Site:
    device: BacnetDevice
    model: SiteModel
    faults: FaultBoard


async def start_site(instance: int = INSTANCE, name: str = DEVICE_NAME) -> Site:
    site = load_site()
    faults = FaultBoard(site)
    model = SiteModel(site, faults)
    spec = dataclasses.replace(
        DeviceSpec.from_site(site.params["bacnet"]), instance=instance, name=name
    )
    device = BacnetDevice(spec, model, faults, host="127.0.0.1", port=0)
    await device.start()
    return Site(device, model, faults)


async def until(condition: Callable[[], bool]) -> None:
    """Wait until a condition holds, failing after a deadline."""
    async with asyncio.timeout(DEADLINE_S):
        while not condition():  # noqa: ASYNC110 - polls another party's state
            await asyncio.sleep(0.01)


def is_available(client: BacnetDeviceClient) -> bool:
    # A function, not the attribute, so that type narrowing does not outlive an await.
    return client.available


async def test_directed_discovery(sim: Site, network: BacnetNetwork) -> None:
    found = await network.discover(sim.device.address, timeout_s=DEADLINE_S)
    assert [(d.instance, d.name, d.address) for d in found] == [
        (INSTANCE, DEVICE_NAME, sim.device.address)
    ]
    assert found[0].max_apdu == 1476
    assert found[0].can_segment_responses


async def test_discovery_by_subnet_broadcast(sim: Site, network: BacnetNetwork) -> None:
    # A Who-Is to the loopback subnet's broadcast address on the device's port.
    found = await network.discover(f"127.255.255.255:{sim.device.port}", timeout_s=2.0)
    assert [(d.instance, d.address) for d in found] == [(INSTANCE, sim.device.address)]


async def test_discovery_needs_a_broadcast_address(socket_enabled: None) -> None:
    config = dataclasses.replace(CONFIG, address="127.0.0.1")  # /32: no broadcast address
    network = await BacnetNetwork.acquire(config)
    try:
        with pytest.raises(BacnetConfigError, match="broadcast"):
            await network.discover()
    finally:
        await network.release()


async def test_object_list(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    before = client.requests_sent
    objects = await client.read_object_list()
    assert client.requests_sent - before == 1
    assert len(objects) == 22  # the device and its 21 objects
    assert ObjectId("device", INSTANCE) in objects
    assert {SUPPLY_T, STOCKROOM_VALVE, OCCUPANCY, PUMP} <= set(objects)


async def test_object_list_without_segmentation(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    whole = await client.read_object_list()

    # The device stops segmenting after microdc learnt its limits: the whole read is aborted
    # and the list is read again element by element.
    sim.device.set_segmentation(False)
    before = client.requests_sent
    assert await client.read_object_list() == whole
    assert client.requests_sent - before == 1 + 1 + 22  # aborted, size, elements

    # Knowing the device cannot segment, microdc reads the size first and goes element-wise.
    info = await client.identify()
    assert not info.can_segment_responses
    before = client.requests_sent
    assert await client.read_object_list() == whole
    assert client.requests_sent - before == 1 + 22


async def test_read_objects_batched(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    objects = await client.read_object_list()
    sim.device.sync()
    before = client.requests_sent
    infos = await client.read_objects(objects)
    assert client.requests_sent - before == 1  # one ReadPropertyMultiple for 22 objects
    supply = infos[SUPPLY_T]
    assert (supply.name, supply.units) == ("LOOP-SUPPLY-T", "degrees-celsius")
    assert supply.description == "Rack water loop supply temperature"
    assert supply.present_value == pytest.approx(sim.model.quantity("loop_supply_temperature_c"))
    assert supply.status_flags == StatusFlags()
    assert not supply.commandable
    dry_cooler = infos[DRY_COOLER_VALVE]
    assert dry_cooler.commandable
    assert (dry_cooler.units, dry_cooler.relinquish_default) == ("percent", 100.0)
    assert infos[PUMP].commandable
    assert infos[PUMP].present_value is True
    assert isinstance(infos[OCCUPANCY].present_value, bool)
    assert infos[ObjectId("device", INSTANCE)].name == DEVICE_NAME


async def test_small_apdu_splits_batches(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    objects = await client.read_object_list()
    with_rpm = await client.read_objects(objects)
    sim.device.set_segmentation(False)  # 80-byte APDUs: a few properties per request
    await client.identify()
    before = client.requests_sent
    assert await client.read_objects(objects) == with_rpm
    assert client.requests_sent - before > 1
    assert client.rpm_supported is True
    assert sim.device.request_counts()["read-property-multiple"] > 1


async def test_rpm_rejected_falls_back_to_read_property(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    objects = await client.read_object_list()
    with_rpm = await client.read_objects(objects)
    rpm_before = sim.device.request_counts()["read-property-multiple"]

    sim.device.rpm_enabled = False
    assert await client.read_objects(objects) == with_rpm
    assert client.rpm_supported is False
    # One rejected RPM, then microdc stops asking: the poll goes object by object.
    poll = await client.read_present_values([SUPPLY_T, PUMP])
    assert sim.device.request_counts()["read-property-multiple"] == rpm_before + 1
    assert poll[PUMP].present_value is True
    assert poll[SUPPLY_T].status_flags == StatusFlags()


async def test_poll(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    points = [o for o in await client.read_object_list() if o.type != "device"]
    sim.model.step(600.0)
    sim.device.sync()
    before = client.requests_sent
    readings = await client.read_present_values(points)
    assert client.requests_sent - before == 1
    assert readings[SUPPLY_T].present_value == pytest.approx(
        sim.model.quantity("loop_supply_temperature_c")
    )
    assert all(r.error is None and r.status_flags is not None for r in readings.values())
    # Reals come with their 7 significant digits, without single-precision noise.
    flow = readings[ObjectId("analog-input", 3)].present_value
    assert isinstance(flow, float)
    assert flow == float(f"{flow:.7g}")


async def test_poll_decoded_by_hand_reads_what_bacpypes3_reads(
    sim: Site, network: BacnetNetwork
) -> None:
    """The poll's own codec and bacpypes3's generic decoding give the same readings."""
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    points = [o for o in await client.read_object_list() if o.type != "device"]
    points.append(ObjectId("analog-value", 999))  # an unknown object: the device's error
    sim.model.step(600.0)
    sim.device.sync()
    by_hand = await client.read_present_values(points)
    assert client.hand_decoded_polls is True
    client.hand_decoded_polls = False  # as for a device that answers in another shape
    generally = await client.read_present_values(points)

    def shown(readings: dict[ObjectId, PointReading]) -> list[tuple[object, ...]]:
        # Errors compare by what they say (exceptions are not equal by value).
        return [
            (r.object_id, r.present_value, r.status_flags, repr(r.error)) for r in readings.values()
        ]

    assert shown(by_hand) == shown(generally)
    assert {type(r.present_value) for r in by_hand.values()} == {float, bool, type(None)}
    assert isinstance(by_hand[ObjectId("analog-value", 999)].error, BacnetUnknownObjectError)


async def test_write_and_relinquish(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.write_present_value(STOCKROOM_VALVE, 40.0, priority=13)
    sim.device.sync()
    state = sim.device.priority_arrays()["stockroom"]
    assert state["priority_array"][12] == 40.0
    assert state["current_command_priority"] == 13
    assert sim.model.valve_command["stockroom"] == 40.0
    slots = await client.read_priority_array(STOCKROOM_VALVE)
    assert slots[12] == 40.0
    assert slots.count(None) == 15

    await client.relinquish(STOCKROOM_VALVE, priority=13)
    sim.device.sync()
    state = sim.device.priority_arrays()["stockroom"]
    assert state["priority_array"] == [None] * 16
    assert state["present_value"] == state["relinquish_default"] == 0.0
    assert sim.model.valve_command["stockroom"] == 0.0

    await client.write_present_value(PUMP, False, priority=13)
    sim.device.sync()
    assert sim.device.priority_arrays()["pump"]["priority_array"][12] is False
    assert (await client.read_present_values([PUMP]))[PUMP].present_value is False


async def test_write_errors(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    with pytest.raises(BacnetWriteAccessDeniedError):
        await client.write_present_value(SUPPLY_T, 5.0, priority=13)
    with pytest.raises(BacnetValueOutOfRangeError):
        await client.write_present_value(STOCKROOM_VALVE, 150.0, priority=13)
    with pytest.raises(BacnetUnknownObjectError):
        await client.write_present_value(ObjectId("analog-output", 99), 1.0, priority=13)
    with pytest.raises(ValueError, match="priority"):
        await client.write_present_value(STOCKROOM_VALVE, 1.0, priority=17)
    assert client.available


@pytest.mark.parametrize("confirmed", [False, True])
async def test_cov_update_arrives(sim: Site, network: BacnetNetwork, confirmed: bool) -> None:
    client = network.device(sim.device.address, INSTANCE)
    readings: asyncio.Queue[PointReading] = asyncio.Queue()
    subscription = await client.subscribe_cov(
        STOCKROOM_VALVE, readings.put_nowait, lifetime_s=60, confirmed=confirmed
    )
    assert subscription.active
    async with asyncio.timeout(DEADLINE_S):
        first = await readings.get()  # a device notifies once right after a subscription
    assert first.present_value == 0.0
    await client.write_present_value(STOCKROOM_VALVE, 65.0, priority=13)
    async with asyncio.timeout(DEADLINE_S):
        update = await readings.get()
    assert (update.object_id, update.present_value) == (STOCKROOM_VALVE, 65.0)
    assert update.status_flags == StatusFlags()

    await subscription.cancel()
    assert sim.device.app.subscribers() == set()


async def test_cov_renewed_before_lifetime_ends(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=2)
    assert sim.device.request_counts()["subscribe-cov"] == 1
    # Renewed at 3/4 of the lifetime, so the device never drops it.
    await until(lambda: sim.device.request_counts()["subscribe-cov"] >= 2)
    assert sim.device.app.subscribers()


async def test_subscription_retried_after_a_late_answer_is_held_once(
    sim: Site, network: BacnetNetwork
) -> None:
    """A SubscribeCOV that times out may still be accepted: the retry replaces it."""
    client = network.device(sim.device.address, INSTANCE)
    sim.faults.add({"fault": "slow_replies", "device": DEVICE_NAME, "delay_s": 2.5})
    sim.device.sync()
    with pytest.raises(BacnetTimeoutError):
        await client.subscribe_cov(SUPPLY_T, lambda reading: None)
    # The device took it late, after microdc had given up.
    await until(lambda: sim.device.app.cov_subscription_count() == 1)
    sim.faults.clear()
    sim.device.sync()

    readings: asyncio.Queue[PointReading] = asyncio.Queue()
    await client.subscribe_cov(SUPPLY_T, readings.put_nowait)
    assert sim.device.app.cov_subscription_count() == 1
    async with asyncio.timeout(DEADLINE_S):
        await readings.get()  # and it is the retry's subscription that notifies


async def test_two_devices_share_one_socket(socket_enabled: None) -> None:
    first, second = await start_site(), await start_site(47111, "hvac-controller-2")
    network_a = await BacnetNetwork.acquire(CONFIG)
    network_b = await BacnetNetwork.acquire(CONFIG)
    try:
        assert network_a is network_b
        assert network_a.references == 2
        with pytest.raises(BacnetConfigError, match="already open"):
            await BacnetNetwork.acquire(dataclasses.replace(CONFIG, device_instance=7))
        client_1 = network_a.device(first.device.address, INSTANCE)
        client_2 = network_b.device(second.device.address, 47111)
        assert (await client_1.identify()).name == DEVICE_NAME
        assert (await client_2.identify()).name == "hvac-controller-2"
        await client_1.subscribe_cov(SUPPLY_T, lambda reading: None)
        await client_2.subscribe_cov(SUPPLY_T, lambda reading: None)
        # Both devices see their subscriber at the same address: one socket for both.
        subscribers = {str(a) for a in first.device.app.subscribers()}
        assert subscribers == {str(a) for a in second.device.app.subscribers()}
        assert subscribers == {network_a.local_address}

        await network_b.release()
        assert network_a.references == 1
        # Still open for the other user.
        assert (await client_1.read_present_values([SUPPLY_T]))[SUPPLY_T].error is None
    finally:
        while network_a.references:
            await network_a.release()
        first.device.close()
        second.device.close()


async def test_device_offline_and_back(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    readings: asyncio.Queue[PointReading] = asyncio.Queue()
    subscription = await client.subscribe_cov(STOCKROOM_VALVE, readings.put_nowait)

    sim.faults.add({"fault": "device_offline", "device": DEVICE_NAME})
    sim.device.sync()
    with pytest.raises(BacnetTimeoutError):
        await client.read_present_values([SUPPLY_T])
    assert not is_available(client)

    # Back after a power cycle: the device forgot its subscriptions and says I-Am; microdc
    # subscribes again, so a change reaches it without a poll.
    sim.faults.clear()
    sim.device.sync()
    await until(lambda: bool(sim.device.app.subscribers()))
    assert is_available(client)
    assert subscription.active
    await client.write_present_value(STOCKROOM_VALVE, 30.0, priority=13)
    async with asyncio.timeout(DEADLINE_S):
        while (await readings.get()).present_value != 30.0:
            pass


async def test_local_port_already_taken(socket_enabled: None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(BacnetConfigError, match="cannot bind"):
            await BacnetNetwork.acquire(dataclasses.replace(CONFIG, port=port))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"address": "300.1.2.3/24"}, "IPv4"),
        ({"port": 70000}, "UDP port"),
        ({"device_instance": 4194303}, "device instance"),
    ],
)
async def test_bad_settings(socket_enabled: None, change: dict[str, Any], message: str) -> None:
    with pytest.raises(BacnetConfigError, match=message):
        await BacnetNetwork.acquire(dataclasses.replace(CONFIG, **change))


async def test_foreign_device_registration(socket_enabled: None) -> None:
    # A plain bacpypes3 BBMD stands in for the building's; microdc registers with it and its
    # Who-Is is distributed through it (the BBMD's own device answers).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        bbmd_port = probe.getsockname()[1]
    bbmd_address = IPv4Address(f"127.0.0.1/8:{bbmd_port}")
    bbmd = BBMDApplication(
        DeviceObject(objectIdentifier=("device", 5), objectName="bbmd", vendorIdentifier=999),
        bbmd_address,
    )
    bbmd.add_peer(bbmd_address)
    config = dataclasses.replace(CONFIG, bbmd_address=f"127.0.0.1:{bbmd_port}", bbmd_ttl_s=60)
    network = await BacnetNetwork.acquire(config)
    try:
        await until(lambda: network.foreign_registration_status == 0)
        found = await network.discover(timeout_s=2.0)
        assert [(d.instance, d.name) for d in found] == [(5, "bbmd")]
    finally:
        await network.release()
        bbmd.close()
        bbmd.bbmd._fdt_clock_handle.cancel()  # the test BBMD's once-a-second table clock


async def test_unchanged_answers_keep_their_reading(sim: Site, network: BacnetNetwork) -> None:
    """An object whose answer did not change since the last poll keeps its Reading; one the
    model moved gets a new Reading with the new value."""
    from custom_components.microdc.lib.devices.bacnet import (  # noqa: PLC0415
        BacnetDevice as MicrodcBacnetDevice,
    )
    from custom_components.microdc.lib.devices.bacnet_config import (  # noqa: PLC0415
        BacnetDeviceConfig,
        BacnetObjectConfig,
        object_key,
    )

    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    objects = (
        BacnetObjectConfig(SUPPLY_T, "LOOP-SUPPLY-T", units="degrees-celsius"),
        BacnetObjectConfig(OCCUPANCY, "OCC-STOCKROOM"),
    )
    config = BacnetDeviceConfig(sim.device.address, INSTANCE, objects, cov=False)
    device = MicrodcBacnetDevice(client, config, name="hvac")
    first = (await device.poll()).readings
    second = (await device.poll()).readings
    assert second[object_key(SUPPLY_T)] is first[object_key(SUPPLY_T)]
    sim.model.step(600.0)
    sim.device.sync()
    third = (await device.poll()).readings
    supply = third[object_key(SUPPLY_T)]
    assert supply is not first[object_key(SUPPLY_T)]
    assert supply.value == pytest.approx(sim.model.quantity("loop_supply_temperature_c"))
    assert supply.value != first[object_key(SUPPLY_T)].value
    assert third[object_key(OCCUPANCY)] is first[object_key(OCCUPANCY)]


def _microdc_device(client: BacnetDeviceClient, objects: list[ObjectId]) -> Any:
    """microdc's own BacnetDevice (lib/devices) over the client, polling every object."""
    from custom_components.microdc.lib.devices.bacnet import (  # noqa: PLC0415
        BacnetDevice as MicrodcBacnetDevice,
    )
    from custom_components.microdc.lib.devices.bacnet_config import (  # noqa: PLC0415
        BacnetDeviceConfig,
        BacnetObjectConfig,
        object_key,
    )

    config = BacnetDeviceConfig(
        client.address,
        client.instance,
        tuple(BacnetObjectConfig(oid, object_key(oid)) for oid in objects),
        cov=False,
    )
    return MicrodcBacnetDevice(client, config, name="controller")


async def test_a_device_learns_the_controllers_limits_before_its_first_poll(
    sim: Site, network: BacnetNetwork
) -> None:
    """Nothing told a client set up from a subentry the device's max APDU, so its polls were
    planned for 480 bytes: the demo controller's 21 objects took two requests. The first poll
    asks for the I-Am first (no confirmed request), and every poll is one request."""
    client = network.device(sim.device.address, INSTANCE)
    objects = [o for o in await BacnetDeviceClient(network, client._address, INSTANCE)
               .read_object_list() if o.type != "device"]  # fmt: skip
    assert len(objects) >= 21
    device = _microdc_device(client, objects)
    assert client.info is None
    before = sim.device.request_counts().get("read-property-multiple", 0)
    for _ in range(3):
        await device.poll()
    assert client.info is not None
    assert (client.info.max_apdu, client.info.can_segment_responses) == (1476, True)
    assert sim.device.request_counts()["read-property-multiple"] - before == 3


async def test_a_controller_of_200_objects_is_read_in_one_segmented_request(
    socket_enabled: None, tmp_path: Path, network: BacnetNetwork
) -> None:
    """A plant room's controller: its 200 objects' answer (about 4.8 kB) is longer than one
    APDU, so the device segments it; the poll is still one request and reads every value."""
    room = write_plant_room(
        tmp_path, gateways=1, units_per_gateway=1, points=10, controllers=1, objects=200
    )
    fleet = start_simulator(extra_args=["--fleet", str(room.fleet_file)])
    try:
        (controller,) = fleet.ready["bacnet"]
        address = f"{controller['host']}:{controller['port']}"
        instance = int(controller["device_instance"])
        client = network.device(address, instance)
        objects = [ObjectId("analog-input", i) for i in range(200) if i % 10 != 9]
        objects += [ObjectId("binary-input", i) for i in range(200) if i % 10 == 9]
        device = _microdc_device(client, objects)
        report = await device.poll()
        state = await fleet.async_state()
        (counts,) = state["requests"]["bacnet"]
        assert counts["read-property-multiple"] == 1
        quantities = state["quantities"]
        for oid in objects:
            truth = quantities[f"ahu-01.o{oid.instance:03d}"]
            value = report.readings[f"{oid.type}_{oid.instance}"].value
            if oid.type == "binary-input":
                assert value is bool(truth), oid
            else:
                assert value == pytest.approx(truth, abs=1e-4), oid
    finally:
        fleet.stop()
        fleet.stderr_path.unlink(missing_ok=True)
