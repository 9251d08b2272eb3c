"""The BACnet transport when things go wrong: bad input, refusals, silence, a closed socket.

Against the simulator's BACnet device over 127.0.0.1, as test_bacnet.py; its helpers and
settings (1.5 s transaction timeout, no retries) are reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import dataclasses
import logging
from typing import Any

from bacpypes3.apdu import (  # type: ignore[import-untyped]
    AbortPDU,
    ConfirmedCOVNotificationRequest,
    ErrorRejectAbortNack,
    SimpleAckPDU,
    UnconfirmedCOVNotificationRequest,
)
from bacpypes3.basetypes import (  # type: ignore[import-untyped]
    PropertyValue as BacnetPropertyValue,
    StatusFlags as _StatusFlags,
)
from bacpypes3.constructeddata import Any as AnyValue  # type: ignore[import-untyped]
from bacpypes3.errors import (  # type: ignore[import-untyped]
    RejectBufferOverflow,
    RejectOther,
    ServicesError,
)
from bacpypes3.pdu import Address  # type: ignore[import-untyped]
from bacpypes3.primitivedata import (  # type: ignore[import-untyped]
    CharacterString,
    ObjectIdentifier,
    Real,
    Unsigned,
)
import pytest

from custom_components.microdc.lib.protocols.bacnet import (
    BacnetAbortError,
    BacnetConfigError,
    BacnetError,
    BacnetNetwork,
    BacnetRejectError,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    CovSubscription,
    ObjectId,
    PointReading,
)

from .test_bacnet import (
    CONFIG,
    DEADLINE_S,
    DEVICE_NAME,
    DRY_COOLER_VALVE,
    INSTANCE,
    PUMP,
    STOCKROOM_VALVE,
    SUPPLY_T,
    Site,
    is_available,
    start_site,
    until,
)

MISSING = ObjectId("analog-input", 99)


def go_offline(sim: Site) -> None:
    sim.faults.add({"fault": "device_offline", "device": DEVICE_NAME})
    sim.device.sync()


def subscribe_counts(sim: Site) -> int:
    return sim.device.request_counts().get("subscribe-cov", 0)


def is_active(subscription: CovSubscription) -> bool:
    # A function, so that type narrowing does not outlive an await.
    return subscription.active


# --- bad settings and bad input: a clear error, nothing sent ------------------------------


@pytest.mark.parametrize(
    "change", [{"apdu_timeout_s": 0.0}, {"apdu_retries": -1}], ids=["timeout", "retries"]
)
def test_bad_timeout_settings(change: dict[str, Any]) -> None:
    with pytest.raises(BacnetConfigError, match="APDU timeout"):
        dataclasses.replace(CONFIG, **change)


async def test_bad_bbmd_address_leaves_no_socket(socket_enabled: None) -> None:
    with pytest.raises(BacnetConfigError, match="BBMD"):
        await BacnetNetwork.acquire(dataclasses.replace(CONFIG, bbmd_address="not a host"))
    # The failed attempt did not become the shared network: the next acquire opens afresh.
    network = await BacnetNetwork.acquire(CONFIG)
    try:
        assert network.references == 1
        assert network.foreign_registration_status is None  # not a foreign device
    finally:
        await network.release()


async def test_bad_input_is_refused_before_sending(sim: Site, network: BacnetNetwork) -> None:
    with pytest.raises(BacnetConfigError, match="not a BACnet/IP address"):
        network.device("not an address", INSTANCE)
    with pytest.raises(BacnetConfigError, match="not a BACnet/IP address"):
        await network.discover("not an address")
    with pytest.raises(ValueError, match="low_limit and high_limit"):
        await network.discover(sim.device.address, low_limit=1)

    client = network.device(sim.device.address, INSTANCE)
    with pytest.raises(ValueError, match="not a BACnet object"):
        await client.read_property(ObjectId("no-such-type", 1), "present-value")
    with pytest.raises(ValueError, match="not a BACnet property"):
        await client.read_property(SUPPLY_T, "no-such-property")
    with pytest.raises(ValueError, match="lifetime_s"):
        await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=-1)
    assert await client.read_properties([]) == {}
    assert await client.read_properties([(SUPPLY_T, ())]) == {}
    assert client.requests_sent == 0
    assert client.subscriptions == ()
    assert subscribe_counts(sim) == 0


async def test_closed_network(sim: Site, socket_enabled: None) -> None:
    network = await BacnetNetwork.acquire(CONFIG)
    client = network.device(sim.device.address, INSTANCE)
    assert (await client.read_present_values([SUPPLY_T]))[SUPPLY_T].error is None
    await network.release()

    # A client kept past the last release gets a BacnetError, not a bacpypes3 one nor a hang.
    with pytest.raises(BacnetError, match="closed") as raised:
        await client.read_present_values([SUPPLY_T])
    assert not isinstance(raised.value, BacnetTimeoutError)
    with pytest.raises(BacnetError, match="closed"):
        await network.discover(sim.device.address)
    with pytest.raises(BacnetError, match="closed"):
        _ = network.foreign_registration_status
    # The next user gets a fresh, working network.
    reopened = await BacnetNetwork.acquire(CONFIG)
    try:
        assert reopened is not network
        fresh = reopened.device(sim.device.address, INSTANCE)
        assert (await fresh.read_present_values([SUPPLY_T]))[SUPPLY_T].error is None
    finally:
        await reopened.release()


# --- discovery and identification -----------------------------------------------------------


async def test_concurrent_discoveries_keep_their_ranges(socket_enabled: None) -> None:
    # Both I-Ams reach both listeners (one socket); each discovery keeps only its range.
    first, second = await start_site(), await start_site(47111, "hvac-controller-2")
    network = await BacnetNetwork.acquire(CONFIG)
    try:
        found_first, found_second = await asyncio.gather(
            network.discover(
                first.device.address, low_limit=INSTANCE, high_limit=INSTANCE, timeout_s=5.0
            ),
            network.discover(
                second.device.address, low_limit=47111, high_limit=47111, timeout_s=5.0
            ),
        )
        assert [(d.instance, d.name) for d in found_first] == [(INSTANCE, DEVICE_NAME)]
        assert [(d.instance, d.name) for d in found_second] == [(47111, "hvac-controller-2")]
    finally:
        await network.release()
        first.device.close()
        second.device.close()


async def test_identify_a_device_that_ignores_who_is(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    announced = await client.identify()

    async def ignore(apdu: Any) -> None:
        return None

    # Patched: the simulator always answers Who-Is; some field controllers do not.
    sim.device.app.do_WhoIsRequest = ignore
    before = client.requests_sent
    info = await client.identify(timeout_s=0.5)
    # The same facts, read from the device object instead.
    assert info == announced
    assert client.info == announced
    assert client.requests_sent - before == 4  # max APDU, segmentation, vendor, name


# --- refusals and errors while reading ------------------------------------------------------


async def test_rpm_of_an_unknown_object_maps_the_error(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    values = await client.read_properties([(MISSING, ("present-value",))])
    assert isinstance(values[MISSING, "present-value"], BacnetUnknownObjectError)
    readings = await client.read_present_values([SUPPLY_T, MISSING])
    assert readings[SUPPLY_T].error is None
    assert isinstance(readings[SUPPLY_T].present_value, float)
    assert isinstance(readings[MISSING].error, BacnetUnknownObjectError)
    assert readings[MISSING].present_value is None
    assert client.rpm_supported is True  # an unknown object says nothing about RPM
    assert client.available


async def test_single_reads_keep_errors_per_property(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    sim.device.rpm_enabled = False
    readings = await client.read_present_values([SUPPLY_T, MISSING])
    assert client.rpm_supported is False
    assert readings[SUPPLY_T].error is None
    assert readings[SUPPLY_T].status_flags is not None
    assert isinstance(readings[MISSING].error, BacnetUnknownObjectError)


async def test_single_reads_raise_a_timeout(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    sim.device.rpm_enabled = False
    await client.read_present_values([SUPPLY_T])
    go_offline(sim)
    # Silence is not a per-property error: the whole read fails, after the first property.
    before = client.requests_sent
    with pytest.raises(BacnetTimeoutError):
        await client.read_present_values([SUPPLY_T, STOCKROOM_VALVE])
    assert client.requests_sent - before == 1
    assert not is_available(client)


async def test_rpm_aborted_by_a_device_that_stopped_segmenting(
    sim: Site, network: BacnetNetwork
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.identify()
    objects = await client.read_object_list()
    with_rpm = await client.read_objects(objects)
    # microdc still believes the device segments: its big RPM is aborted, and is split in
    # halves, then property by property, until the answers fit 80 bytes.
    sim.device.set_segmentation(False)
    before = client.requests_sent
    assert await client.read_objects(objects) == with_rpm
    assert client.requests_sent - before > 2
    assert client.rpm_supported is True
    assert client.available


# --- change of value ------------------------------------------------------------------------


async def test_failing_cov_callback_does_not_stop_notifications(
    sim: Site, network: BacnetNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    seen: list[PointReading] = []

    def callback(reading: PointReading) -> None:
        seen.append(reading)
        if len(seen) == 1:
            raise RuntimeError("a broken entity")

    with caplog.at_level(logging.ERROR):
        subscription = await client.subscribe_cov(STOCKROOM_VALVE, callback, lifetime_s=60)
        await until(lambda: len(seen) == 1)
    assert "COV callback" in caplog.text
    await client.write_present_value(STOCKROOM_VALVE, 55.0, priority=13)
    await until(lambda: any(r.present_value == 55.0 for r in seen))
    assert subscription.notifications == len(seen)
    assert subscription.last_reading == seen[-1]
    await subscription.cancel()


async def test_refused_subscription_is_not_kept(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    with pytest.raises(BacnetUnknownObjectError):
        await client.subscribe_cov(MISSING, lambda reading: None, lifetime_s=60)
    assert client.subscriptions == ()
    assert sim.device.app.subscribers() == set()
    assert client.available


async def test_indefinite_subscription_is_not_renewed(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    subscription = await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=0)
    assert subscription.active
    assert subscription._renewal is None  # no renewal task for a subscription without end
    assert sim.device.app.subscribers()
    await subscription.cancel()
    await subscription.cancel()  # a second cancel is harmless
    assert client.subscriptions == ()
    assert sim.device.app.subscribers() == set()


async def test_renewal_failure_is_reported_and_recovers(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    subscription = await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=2)
    go_offline(sim)
    # The renewal at 3/4 of the lifetime meets silence: the subscription says so.
    await until(lambda: isinstance(subscription.last_error, BacnetTimeoutError))
    assert not is_active(subscription)
    assert subscription in client.subscriptions  # still wanted: retried

    sim.faults.clear()
    sim.device.sync()  # back from a power cycle
    await until(lambda: is_active(subscription))
    assert subscription.last_error is None
    assert sim.device.app.subscribers()


async def test_answer_after_silence_resubscribes(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=300)
    assert subscribe_counts(sim) == 1
    go_offline(sim)
    with pytest.raises(BacnetTimeoutError):
        await client.read_present_values([SUPPLY_T])
    assert not is_available(client)

    # Back without an I-Am (the gate opens, no power cycle): the first answer is enough to
    # make microdc subscribe again, in case the device forgot it.
    sim.faults.clear()
    await client.read_present_values([SUPPLY_T])
    assert is_available(client)
    await until(lambda: subscribe_counts(sim) == 2)


async def test_resubscribe_gives_up_at_the_first_timeout(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    first = await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=300)
    second = await client.subscribe_cov(STOCKROOM_VALVE, lambda reading: None, lifetime_s=300)
    go_offline(sim)
    before = client.requests_sent
    await client.resubscribe()  # does not raise: the next answer or I-Am tries again
    assert client.requests_sent - before == 1  # not one timeout per subscription
    assert isinstance(first.last_error, BacnetTimeoutError)
    assert not is_active(first)
    assert is_active(second)
    assert not is_available(client)


async def test_close_cancels_every_subscription(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    subscriptions = [
        await client.subscribe_cov(oid, lambda reading: None, lifetime_s=300)
        for oid in (SUPPLY_T, STOCKROOM_VALVE)
    ]
    assert len(sim.device.app.subscribers()) == 1  # one subscriber address, two objects
    await client.close()
    assert client.subscriptions == ()
    assert not any(s.active for s in subscriptions)
    assert sim.device.app.subscribers() == set()
    assert subscribe_counts(sim) == 4  # two subscribed, two cancelled
    assert repr(client) == f"<BacnetDeviceClient device {INSTANCE} at {sim.device.address}>"


# --- answers the simulator does not give on its own -----------------------------------------
# The simulator's device is a plain bacpypes3 application; these tests replace one of its
# service handlers, or send a message from it, to stand in for other controllers' behaviour.


def refuse_rpm(sim: Site, error: Exception, when: Callable[[Any], bool] | None = None) -> None:
    """Make the device answer ReadPropertyMultiple with ``error`` (if ``when(apdu)``)."""
    serve = sim.device.app.do_ReadPropertyMultipleRequest

    async def handler(apdu: Any) -> None:
        if when is None or when(apdu):
            raise error
        await serve(apdu)

    setattr(sim.device.app, "do_ReadPropertyMultipleRequest", handler)  # noqa: B010


async def test_rpm_refused_with_an_error_is_not_asked_again(
    sim: Site, network: BacnetNetwork
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    expected = await client.read_present_values([SUPPLY_T, STOCKROOM_VALVE])
    # Some controllers answer an RPM they do not implement with an Error, not a Reject.
    refuse_rpm(sim, ServicesError(errorCode="optionalFunctionalityNotSupported"))
    assert await client.read_present_values([SUPPLY_T, STOCKROOM_VALVE]) == expected
    assert client.rpm_supported is False
    rpm_before = sim.device.request_counts()["read-property-multiple"]
    await client.read_present_values([SUPPLY_T])
    assert sim.device.request_counts()["read-property-multiple"] == rpm_before


async def test_rpm_rejected_as_too_big_is_split(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    objects = [SUPPLY_T, STOCKROOM_VALVE, DRY_COOLER_VALVE, PUMP]
    expected = await client.read_present_values(objects)
    # A device whose buffer holds the answer for one object only.
    refuse_rpm(sim, RejectBufferOverflow(), lambda apdu: len(apdu.listOfReadAccessSpecs) > 1)
    before = client.requests_sent
    assert await client.read_present_values(objects) == expected
    # 4 objects -> halves -> quarters: 1 + 2 rejected, 4 answered.
    assert client.requests_sent - before == 7
    assert client.rpm_supported is True


async def test_rpm_aborted_for_another_reason_raises(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)

    async def abort(apdu: Any) -> None:
        # Built by hand: bacpypes3's own abort from a service handler lacks the server flag,
        # and a client ignores it (a timeout instead of the abort under test).
        answer = AbortPDU(True, apdu.apduInvokeID, "other")
        answer.pduDestination = apdu.pduSource
        await sim.device.app.response(answer)

    setattr(sim.device.app, "do_ReadPropertyMultipleRequest", abort)  # noqa: B010
    with pytest.raises(BacnetAbortError) as raised:
        await client.read_present_values([SUPPLY_T, PUMP])
    assert raised.value.reason == "other"
    assert client.available  # an abort is an answer


async def test_cov_notification_with_part_of_the_values(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    readings: asyncio.Queue[PointReading] = asyncio.Queue()
    subscription = await client.subscribe_cov(SUPPLY_T, readings.put_nowait, lifetime_s=60)
    async with asyncio.timeout(DEADLINE_S):
        first = await readings.get()
    assert isinstance(first.present_value, float)

    async def notify(object_id: ObjectId, *values: tuple[str | int, Any]) -> None:
        # Sent from the device's stack: the simulator always notifies with both properties.
        request = UnconfirmedCOVNotificationRequest(
            subscriberProcessIdentifier=subscription.process_id,
            initiatingDeviceIdentifier=ObjectIdentifier(f"device,{INSTANCE}"),
            monitoredObjectIdentifier=ObjectIdentifier(f"{object_id.type},{object_id.instance}"),
            timeRemaining=60,
            listOfValues=[
                BacnetPropertyValue(propertyIdentifier=p, value=AnyValue(v)) for p, v in values
            ],
            destination=Address(network.local_address),
        )
        await sim.device.app.request(request)

    fault = _StatusFlags([0, 1, 0, 0])
    # Another object under the same process id: not ours, dropped.
    await notify(STOCKROOM_VALVE, ("present-value", Real(99.0)))
    # Only the status flags, plus a proprietary property microdc cannot type: the present
    # value is kept from the previous notification.
    await notify(SUPPLY_T, ("status-flags", fault), (5000, Unsigned(7)))
    async with asyncio.timeout(DEADLINE_S):
        flagged = await readings.get()
    assert flagged.present_value == first.present_value
    assert flagged.status_flags is not None
    assert flagged.status_flags.fault
    assert not flagged.status_flags.reliable
    # A present value that does not decode as a Real: dropped, the flags still delivered.
    await notify(SUPPLY_T, ("present-value", CharacterString("hot")), ("status-flags", fault))
    async with asyncio.timeout(DEADLINE_S):
        garbled = await readings.get()
    assert garbled.present_value == first.present_value
    # Only the present value: the flags are kept.
    await notify(SUPPLY_T, ("present-value", Real(12.5)))
    async with asyncio.timeout(DEADLINE_S):
        latest = await readings.get()
    assert (latest.present_value, latest.status_flags) == (12.5, flagged.status_flags)
    assert readings.empty()  # the valve's notification never reached this callback
    assert subscription.notifications == 4


# --- resubscription -------------------------------------------------------------------------


async def test_concurrent_resubscriptions_run_once(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=300)
    go_offline(sim)
    before = client.requests_sent
    # A burst of I-Ams or answers: one round at a time.
    await asyncio.gather(client.resubscribe(), client.resubscribe())
    assert client.requests_sent - before == 1


async def test_resubscribe_goes_on_after_a_refusal(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    gone = await client.subscribe_cov(SUPPLY_T, lambda reading: None, lifetime_s=300)
    kept = await client.subscribe_cov(STOCKROOM_VALVE, lambda reading: None, lifetime_s=300)
    # The controller was reprogrammed without the supply sensor.
    sim.device.app.delete_object(sim.device.app.get_object_id(ObjectIdentifier("analog-input,1")))
    before = subscribe_counts(sim)
    await client.resubscribe()
    assert subscribe_counts(sim) == before + 2
    assert isinstance(gone.last_error, BacnetUnknownObjectError)
    assert not is_active(gone)
    assert is_active(kept)
    assert kept.last_error is None


async def test_answer_to_an_abandoned_request_is_dropped(
    sim: Site, network: BacnetNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    expected = await client.read_property(SUPPLY_T, "object-name")
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: loop_errors.append(context)
    )
    sim.faults.add({"fault": "slow_replies", "device": DEVICE_NAME, "delay_s": 0.3})
    reads_before = sim.device.request_counts()["read-property"]

    # The caller gives up (an unload, a cancelled poll) while the device still holds the request.
    abandoned = asyncio.create_task(client.read_property(SUPPLY_T, "present-value"))
    await until(lambda: bool(network.app.asap.clientTransactions))
    abandoned.cancel()
    await until(lambda: sim.device.request_counts()["read-property"] == reads_before + 1)

    # The late answer reaches microdc before this one's (same socket, sent earlier).
    assert await client.read_property(SUPPLY_T, "object-name") == expected
    assert abandoned.cancelled()
    assert loop_errors == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert client.available
    asyncio.get_running_loop().set_exception_handler(None)


async def test_bad_object_subscription_is_not_kept(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    with pytest.raises(ValueError, match="not a BACnet object"):
        await client.subscribe_cov(ObjectId("no-such-type", 1), lambda reading: None)
    assert client.subscriptions == ()
    assert network._subscriptions == {}  # nothing left for notifications to find


async def test_cancelled_subscription_gets_no_notifications(
    sim: Site, network: BacnetNetwork
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    seen: list[PointReading] = []
    sim.faults.add({"fault": "slow_replies", "device": DEVICE_NAME, "delay_s": 0.3})
    # The caller gives up (an unload) while the device still holds the SubscribeCOV; the
    # device then accepts it and notifies at once.
    subscribing = asyncio.create_task(client.subscribe_cov(SUPPLY_T, seen.append, lifetime_s=60))
    await until(lambda: bool(network.app.asap.clientTransactions))
    subscribing.cancel()
    await until(lambda: bool(sim.device.app.subscribers()))
    # A round trip sent later: the notification sent before its answer has arrived by then.
    await client.read_property(SUPPLY_T, "object-name")
    assert subscribing.cancelled()
    assert seen == []
    assert client.subscriptions == ()


async def test_confirmed_notification_for_no_subscription_is_refused(
    sim: Site, network: BacnetNetwork
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    seen: list[PointReading] = []
    subscription = await client.subscribe_cov(SUPPLY_T, seen.append, lifetime_s=60)
    await until(lambda: len(seen) == 1)

    def notification(process_id: int) -> Any:
        # Sent from the device's stack: stands in for a device that still holds a subscription
        # microdc has forgotten (e.g. from before a Home Assistant restart).
        return ConfirmedCOVNotificationRequest(
            subscriberProcessIdentifier=process_id,
            initiatingDeviceIdentifier=ObjectIdentifier(f"device,{INSTANCE}"),
            monitoredObjectIdentifier=ObjectIdentifier("analog-input,1"),
            timeRemaining=60,
            listOfValues=[
                BacnetPropertyValue(propertyIdentifier="present-value", value=AnyValue(Real(3.5)))
            ],
            destination=Address(network.local_address),
        )

    # The device is told the subscription is unknown, so that it can drop it.
    with pytest.raises(ErrorRejectAbortNack) as refused:
        await sim.device.app.request(notification(subscription.process_id + 1000))
    assert str(refused.value.errorCode) == "unknown-subscription"
    assert len(seen) == 1
    # The held one is acknowledged and delivered.
    ack = await sim.device.app.request(notification(subscription.process_id))
    assert isinstance(ack, SimpleAckPDU)
    assert seen[-1].present_value == 3.5


async def test_rpm_rejected_for_another_reason_raises(sim: Site, network: BacnetNetwork) -> None:
    client = network.device(sim.device.address, INSTANCE)
    refuse_rpm(sim, RejectOther())
    with pytest.raises(BacnetRejectError) as raised:
        await client.read_present_values([SUPPLY_T, PUMP])
    assert raised.value.reason == "other"
    assert client.rpm_supported is None  # a reject for another reason says nothing about RPM
    assert client.available


async def test_rpm_too_big_even_for_one_property_reads_singly(
    sim: Site, network: BacnetNetwork
) -> None:
    client = network.device(sim.device.address, INSTANCE)
    expected = await client.read_present_values([SUPPLY_T])
    refuse_rpm(sim, RejectBufferOverflow())
    assert await client.read_present_values([SUPPLY_T]) == expected
    # Split to one property per RPM, each still too big: then ReadProperty, one each.
    assert sim.device.request_counts().get("read-property") == 2
    assert client.rpm_supported is True  # the device does RPM, only not this big
