"""The simulator's BACnet device, questioned by a plain bacpypes3 client over 127.0.0.1.

No microdc code here: the client is bacpypes3's own NormalApplication, so these tests show the
device behaves as a BACnet device should, independently of microdc's transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bacpypes3.apdu import (  # type: ignore[import-untyped]
    AbortPDU,
    ErrorPDU,
    RejectPDU,
    SubscribeCOVRequest,
    WhoIsRequest,
)
from bacpypes3.basetypes import PropertyIdentifier  # type: ignore[import-untyped]
from bacpypes3.ipv4.app import NormalApplication  # type: ignore[import-untyped]
from bacpypes3.local.device import DeviceObject  # type: ignore[import-untyped]
from bacpypes3.pdu import Address, IPv4Address  # type: ignore[import-untyped]
from bacpypes3.primitivedata import Null, ObjectIdentifier, Real  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

from simulator.bacnet_device import BacnetDevice, DeviceSpec, SiteFileError
from simulator.faults import FaultBoard
from simulator.model import SiteModel
from simulator.site import load_site

SITE = Path(__file__).parents[2] / "simulator" / "sites" / "demo.yaml"
DEADLINE_S = 10.0


class StandInModel:
    """The three calls the device makes on simulator.model.SiteModel, with settable values."""

    def __init__(self) -> None:
        self.quantities: dict[str, float] = {}
        self.valves: dict[str, float] = {}
        self.pump_on: bool | None = None

    def quantity(self, name: str) -> float:
        return self.quantities.get(name, 20.0)

    def command_valve(self, valve: str, percent: float) -> None:
        self.valves[valve] = percent

    def command_pump(self, on: bool) -> None:
        self.pump_on = on

    def pump(self) -> bool | None:
        return self.pump_on


class StandInFaults:
    """FaultBoard.active/find(fault, device) over a set and parameters the test edits."""

    def __init__(self) -> None:
        self.on: set[tuple[str, str | None]] = set()
        self.params: dict[str, Any] = {}
        self.listeners: list[Callable[[Any], None]] = []

    def add_listener(self, listener: Callable[[Any], None]) -> None:
        self.listeners.append(listener)

    def inject_one_shot(self, fault: str) -> None:
        """A one-shot fault as FaultBoard.add hands it to the listeners."""
        for listener in self.listeners:
            listener(SimpleNamespace(fault=fault, device="hvac-controller", params={}))

    def active(self, fault: str, device: str | None = None) -> bool:
        return (fault, device) in self.on

    def find(self, fault: str, device: str | None = None) -> Any:
        return SimpleNamespace(params=self.params) if self.active(fault, device) else None


class Client(NormalApplication):  # type: ignore[misc]
    """A plain bacpypes3 client that also keeps every I-Am it hears."""

    def __init__(self) -> None:
        device = DeviceObject(
            objectIdentifier=("device", 999001), objectName="test-client", vendorIdentifier=999
        )
        # Short transaction timeout so an offline device fails fast.
        device.apduTimeout = 500
        device.numberOfApduRetries = 0
        super().__init__(device, IPv4Address("127.0.0.1:0"))
        self.i_ams: asyncio.Queue[Any] = asyncio.Queue()
        self.cov_values: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()

    async def do_IAmRequest(self, apdu: Any) -> None:  # noqa: N802
        await super().do_IAmRequest(apdu)
        await self.i_ams.put(apdu)


def demo_spec() -> DeviceSpec:
    return DeviceSpec.from_site(yaml.safe_load(SITE.read_text())["bacnet"])


@pytest.fixture
async def site(socket_enabled: None) -> AsyncIterator[tuple[BacnetDevice, StandInModel, Any]]:
    model = StandInModel()
    faults = StandInFaults()
    device = BacnetDevice(demo_spec(), model, faults, host="127.0.0.1", port=0)
    await device.start()
    device.faults = faults  # type: ignore[attr-defined]
    yield device, model, faults
    device.close()


@pytest.fixture
async def client(socket_enabled: None) -> AsyncIterator[Client]:
    app = Client()
    yield app
    app.close()


def oid(text: str) -> Any:
    return ObjectIdentifier(text)


def pid(text: str) -> Any:
    return PropertyIdentifier(text)


async def test_directed_who_is(site: Any, client: Client) -> None:
    device, _, _ = site
    i_ams = await client.who_is(address=Address(device.address), timeout=DEADLINE_S)
    assert len(i_ams) == 1
    assert i_ams[0].iAmDeviceIdentifier[1] == 47110
    assert str(i_ams[0].pduSource) == device.address


async def test_who_is_by_local_broadcast(site: Any, client: Client) -> None:
    device, _, _ = site
    # A Who-Is to the loopback broadcast address on the device's port (Linux delivers it).
    await client.request(WhoIsRequest(destination=Address(f"127.255.255.255:{device.port}")))
    async with asyncio.timeout(DEADLINE_S):
        i_am = await client.i_ams.get()
    assert i_am.iAmDeviceIdentifier[1] == 47110


async def test_read_property_multiple(site: Any, client: Client) -> None:
    device, model, _ = site
    model.quantities["loop_supply_temperature_c"] = 38.5
    model.quantities["occupancy.stockroom"] = 1.0
    device.sync()
    result = await client.read_property_multiple(
        Address(device.address),
        [
            oid("analog-input,1"),
            [pid("object-name"), pid("present-value"), pid("units"), pid("description")],
            oid("binary-input,1"),
            [pid("present-value")],
            oid("analog-output,5"),
            [pid("present-value"), pid("relinquish-default")],
        ],
    )
    values = {(str(o[0]), o[1], str(p)): v for o, p, _, v in result}
    assert values["analog-input", 1, "object-name"] == "LOOP-SUPPLY-T"
    assert values["analog-input", 1, "present-value"] == pytest.approx(38.5)
    assert str(values["analog-input", 1, "units"]) == "degrees-celsius"
    assert values["analog-input", 1, "description"] == "Rack water loop supply temperature"
    assert str(values["binary-input", 1, "present-value"]) == "active"
    # The dry cooler valve relinquishes to open: heat goes outdoors unless told otherwise.
    assert values["analog-output", 5, "present-value"] == 100.0
    assert values["analog-output", 5, "relinquish-default"] == 100.0


async def test_write_at_priority_and_relinquish(site: Any, client: Client) -> None:
    device, model, _ = site
    address = Address(device.address)
    await client.write_property(
        address, oid("analog-output,1"), pid("present-value"), Real(60.0), priority=10
    )
    device.sync()
    state = device.priority_arrays()["stockroom"]
    assert state["priority_array"][9] == 60.0
    assert state["current_command_priority"] == 10
    assert model.valves["stockroom"] == 60.0

    # A higher priority (lower number) wins over priority 10 ...
    await client.write_property(
        address, oid("analog-output,1"), pid("present-value"), Real(20.0), priority=8
    )
    device.sync()
    assert model.valves["stockroom"] == 20.0
    # ... and relinquishing it hands control back to priority 10, then to the default.
    await client.write_property(
        address, oid("analog-output,1"), pid("present-value"), Null(()), priority=8
    )
    device.sync()
    assert model.valves["stockroom"] == 60.0
    await client.write_property(
        address, oid("analog-output,1"), pid("present-value"), Null(()), priority=10
    )
    device.sync()
    state = device.priority_arrays()["stockroom"]
    assert state["priority_array"] == [None] * 16
    assert state["current_command_priority"] is None
    assert model.valves["stockroom"] == 0.0
    read_back = await client.read_property(address, oid("analog-output,1"), pid("present-value"))
    assert read_back == 0.0


async def test_pump_command(site: Any, client: Client) -> None:
    device, model, _ = site
    device.sync()
    assert model.pump() is True  # relinquish default: active
    await client.write_property(
        Address(device.address),
        oid("binary-output,1"),
        pid("present-value"),
        "inactive",
        priority=8,
    )
    device.sync()
    assert model.pump() is False
    assert device.priority_arrays()["pump"]["priority_array"][7] is False


async def test_write_errors(site: Any, client: Client) -> None:
    device, _, _ = site
    address = Address(device.address)
    with pytest.raises(ErrorPDU) as denied:
        await client.write_property(address, oid("analog-input,1"), pid("present-value"), Real(5))
    assert str(denied.value.errorCode) == "write-access-denied"
    with pytest.raises(ErrorPDU) as out_of_range:
        await client.write_property(
            address, oid("analog-output,1"), pid("present-value"), Real(150.0), priority=8
        )
    assert str(out_of_range.value.errorCode) == "value-out-of-range"
    with pytest.raises(ErrorPDU) as unknown:
        await client.read_property(address, oid("analog-input,99"), pid("present-value"))
    assert str(unknown.value.errorCode) == "unknown-object"


async def test_cov_notification_after_change(site: Any, client: Client) -> None:
    device, model, _ = site
    model.quantities["loop_return_temperature_c"] = 30.0
    device.sync()
    subscription = client.change_of_value(
        Address(device.address), oid("analog-input,2"), lifetime=60
    )
    async with subscription:
        async with asyncio.timeout(DEADLINE_S):
            # The first notification follows the subscription itself.
            values = dict([await subscription.get_value(), await subscription.get_value()])
            assert values[pid("present-value")] == pytest.approx(30.0)
            model.quantities["loop_return_temperature_c"] = 31.0  # beyond the 0.2 K increment
            device.sync()
            while True:
                prop, value = await subscription.get_value()
                if prop == pid("present-value"):
                    break
    assert value == pytest.approx(31.0)


async def test_device_offline_and_back(site: Any, client: Client) -> None:
    device, _, faults = site
    address = Address(device.address)
    assert await client.read_property(address, oid("analog-input,1"), pid("object-name"))
    # Subscribe so that the device knows this client when it comes back.
    await client.request(
        _subscribe_request(address, oid("analog-input,1"), process_id=7, lifetime=300)
    )
    faults.on.add(("device_offline", "hvac-controller"))
    device.sync()
    with pytest.raises(AbortPDU) as silence:
        await client.read_property(address, oid("analog-input,1"), pid("present-value"))
    assert str(silence.value.apduAbortRejectReason) == "no-response"
    assert await client.who_is(address=address, timeout=0.5) == []

    faults.on.clear()
    device.sync()
    # Back from a power cycle: it announces itself to its former subscriber and answers again.
    async with asyncio.timeout(DEADLINE_S):
        i_am = await client.i_ams.get()
    assert i_am.iAmDeviceIdentifier[1] == 47110
    assert device.app.subscribers() == set()
    assert await client.read_property(address, oid("analog-input,1"), pid("object-name"))


async def test_restart_drops_the_cov_table_and_says_i_am(site: Any, client: Client) -> None:
    device, _, faults = site
    address = Address(device.address)
    await client.request(
        _subscribe_request(address, oid("analog-input,1"), process_id=7, lifetime=300)
    )
    assert device.app.cov_subscription_count() == 1
    faults.inject_one_shot("bacnet_restart")
    async with asyncio.timeout(DEADLINE_S):
        i_am = await client.i_ams.get()
    assert i_am.iAmDeviceIdentifier[1] == 47110
    assert device.app.cov_subscription_count() == 0
    assert device.restarts == 1
    # Unlike device_offline, it answers straight away.
    assert await client.read_property(address, oid("analog-input,1"), pid("object-name"))


async def test_a_full_cov_table_refuses_new_subscriptions(site: Any, client: Client) -> None:
    device, _, _ = site
    address = Address(device.address)
    device.app.cov_table_size = 1
    await client.request(
        _subscribe_request(address, oid("analog-input,1"), process_id=7, lifetime=300)
    )
    with pytest.raises(ErrorPDU) as full:
        await client.request(
            _subscribe_request(address, oid("analog-input,2"), process_id=7, lifetime=300)
        )
    assert str(full.value.errorClass) == "resources"
    assert str(full.value.errorCode) == "no-space-to-add-list-element"
    assert device.app.cov_refusals == 1
    # A renewal of a subscription the table holds is taken; so is a cancellation.
    await client.request(
        _subscribe_request(address, oid("analog-input,1"), process_id=7, lifetime=600)
    )
    cancel = SubscribeCOVRequest(
        subscriberProcessIdentifier=7,
        monitoredObjectIdentifier=oid("analog-input,1"),
        destination=address,
    )
    await client.request(cancel)
    assert device.app.cov_subscription_count() == 0
    # With room again, the refused object subscribes.
    await client.request(
        _subscribe_request(address, oid("analog-input,2"), process_id=7, lifetime=300)
    )
    assert device.app.cov_subscription_count() == 1


def _subscribe_request(address: Any, obj: Any, process_id: int, lifetime: int) -> Any:
    return SubscribeCOVRequest(
        subscriberProcessIdentifier=process_id,
        monitoredObjectIdentifier=obj,
        issueConfirmedNotifications=False,
        lifetime=lifetime,
        destination=address,
    )


async def test_slow_replies(site: Any, client: Client) -> None:
    device, _, faults = site
    address = Address(device.address)
    faults.on.add(("slow_replies", "hvac-controller"))
    faults.params["delay_s"] = 1.0  # longer than the client's 0.5 s transaction timeout
    with pytest.raises(AbortPDU) as late:
        await client.read_property(address, oid("analog-input,1"), pid("object-name"))
    assert str(late.value.apduAbortRejectReason) == "no-response"
    assert device.request_counts().get("read-property", 0) == 0  # still held
    faults.on.clear()
    # The held request reaches the device after its delay; a new one is answered at once.
    async with asyncio.timeout(DEADLINE_S):
        while device.request_counts().get("read-property", 0) < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert await client.read_property(address, oid("analog-input,1"), pid("object-name"))


async def test_valve_ignores_commands(site: Any, client: Client) -> None:
    device, model, faults = site
    device.sync()
    faults.on.add(("valve_stuck", "tenant_a"))
    await client.write_property(
        Address(device.address),
        oid("analog-output,2"),
        pid("present-value"),
        Real(80.0),
        priority=8,
    )
    device.sync()
    # The command is accepted and shown, and reaches the model, which keeps a stuck valve still
    # (test_a_stuck_valves_command_reaches_the_model, with the real model).
    assert device.priority_arrays()["tenant_a"]["priority_array"][7] == 80.0
    assert device.priority_arrays()["tenant_a"]["stuck"] is True
    assert model.valves["tenant_a"] == 80.0


async def test_a_stuck_valves_command_reaches_the_model(
    socket_enabled: None, client: Client
) -> None:
    """With the real model: a stuck valve's command follows the BACnet write (as /state shows
    it), while its position stays put."""
    site_file = load_site(SITE)
    model = SiteModel(site_file, FaultBoard(site_file))
    device = BacnetDevice(demo_spec(), model, model.faults, host="127.0.0.1", port=0)
    await device.start()
    try:
        model.step(60.0)
        before = model.quantity("valve_position_pct.tenant_a")
        model.faults.add({"fault": "valve_stuck", "device": "tenant_a"})
        await client.write_property(
            Address(device.address),
            oid("analog-output,2"),
            pid("present-value"),
            Real(80.0),
            priority=8,
        )
        device.sync()
        model.step(120.0)
        device.sync()
        assert model.quantity("valve_command_pct.tenant_a") == 80.0
        assert model.valve_command["tenant_a"] == 80.0  # what /state reports as command_pct
        assert model.quantity("valve_position_pct.tenant_a") == before != 80.0
    finally:
        device.close()


class CountingModel(StandInModel):
    """The stand-in model, counting the commands it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def command_valve(self, valve: str, percent: float) -> None:
        self.calls += 1
        super().command_valve(valve, percent)

    def command_pump(self, on: bool) -> None:
        self.calls += 1
        super().command_pump(on)


async def test_sync_passes_only_changed_commands(socket_enabled: None, client: Client) -> None:
    model = CountingModel()
    device = BacnetDevice(demo_spec(), model, StandInFaults(), host="127.0.0.1", port=0)
    await device.start()  # start() syncs: five valves and the pump take their defaults
    try:
        assert model.calls == 6
        device.sync()
        device.sync()
        assert model.calls == 6
        await client.write_property(
            Address(device.address),
            oid("analog-output,1"),
            pid("present-value"),
            Real(40.0),
            priority=8,
        )
        device.sync()
        device.sync()
        assert model.calls == 7
        assert model.valves["stockroom"] == 40.0
    finally:
        device.close()


async def test_rpm_refusal(site: Any, client: Client) -> None:
    device, _, _ = site
    device.rpm_enabled = False
    with pytest.raises(RejectPDU) as rejected:
        await client.read_property_multiple(
            Address(device.address), [oid("analog-input,1"), [pid("present-value")]]
        )
    assert str(rejected.value.apduAbortRejectReason) == "unrecognized-service"
    services = await client.read_property(
        Address(device.address), oid("device,47110"), pid("protocol-services-supported")
    )
    assert services[services.readPropertyMultiple] == 0
    assert device.request_counts()["read-property-multiple"] == 1


async def test_no_segmentation(site: Any, client: Client) -> None:
    device, _, _ = site
    address = Address(device.address)
    full = await client.read_property(address, oid("device,47110"), pid("object-list"))
    assert len(full) == 22  # the device and its 21 objects
    device.set_segmentation(False)
    with pytest.raises(AbortPDU) as aborted:
        await client.read_property(address, oid("device,47110"), pid("object-list"))
    assert str(aborted.value.apduAbortRejectReason) == "segmentation-not-supported"
    # Element by element still works: the count, then each identifier.
    count = await client.read_property(address, oid("device,47110"), pid("object-list"), 0)
    assert count == 22
    elements = [
        await client.read_property(address, oid("device,47110"), pid("object-list"), i)
        for i in range(1, count + 1)
    ]
    assert elements == list(full)
    segmentation = await client.read_property(
        address, oid("device,47110"), pid("segmentation-supported")
    )
    assert str(segmentation) == "no-segmentation"
    # Any single property of the demo site, even its longest description, still fits.
    description = await client.read_property(address, oid("analog-output,4"), pid("description"))
    assert description == "Heat recovery valve to the shared heating loop"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s["objects"][0].update(units="furlongs"), r"objects\[0\]\.units"),
        (lambda s: s["objects"][8].pop("valve"), r"objects\[8\].*valve"),
        (lambda s: s.pop("device_instance"), r"bacnet\.device_instance"),
        (lambda s: s["objects"].append(dict(s["objects"][0])), "duplicate analog-input 1"),
    ],
)
def test_site_file_errors(change: Callable[[dict[str, Any]], None], message: str) -> None:
    section = yaml.safe_load(SITE.read_text())["bacnet"]
    change(section)
    with pytest.raises(SiteFileError, match=message):
        DeviceSpec.from_site(section)


async def test_object_without_cov_refuses_subscription(
    socket_enabled: None, client: Client
) -> None:
    # A controller that offers COV on some objects only (the fleet's plant-room controllers).
    raw = yaml.safe_load(SITE.read_text())["bacnet"]
    raw["objects"][0]["cov"] = False
    spec = DeviceSpec.from_site(raw)
    refused, accepted = spec.objects[0], spec.objects[1]
    device = BacnetDevice(spec, StandInModel(), StandInFaults(), host="127.0.0.1", port=0)
    await device.start()
    try:
        address = Address(device.address)
        with pytest.raises(ErrorPDU) as error:
            await client.request(
                _subscribe_request(
                    address, oid(f"{refused.type},{refused.instance}"), process_id=3, lifetime=60
                )
            )
        assert str(error.value.errorCode) == "optional-functionality-not-supported"
        await client.request(
            _subscribe_request(
                address, oid(f"{accepted.type},{accepted.instance}"), process_id=4, lifetime=60
            )
        )
        assert len(device.app.subscribers()) == 1  # the accepted subscription only
    finally:
        device.close()
