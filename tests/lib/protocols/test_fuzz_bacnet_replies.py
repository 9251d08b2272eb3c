"""A BACnet peer that answers with malformed data: every poll of microdc's BACnet device is
either a BacnetRequestError or readings that are each a value of the object's kind or carry an
error, never another exception, and the next good answer is read correctly.

The peer is a raw UDP socket on 127.0.0.1 that builds its APDUs by hand: the simulator's
bacpypes3 device cannot send NaN where it holds a number, a string for a present value, a huge
enumeration, constructed data where a primitive belongs or an APDU cut short. What it draws:
present values and status flags of every primitive type (NaN and infinite reals, 20-byte
unsigned and enumerated numbers, negative signed numbers, strings in unknown character sets),
constructed and unbalanced tags, property errors with any class and code, the wrong object in
the answer, Error/Reject/Abort/SimpleACK PDUs with any reason, segmented ACKs that never
continue, and any of these cut at any byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
import math
import os
import struct
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.microdc.lib.devices.bacnet import BacnetDevice, BacnetRequestError
from custom_components.microdc.lib.devices.bacnet_config import (
    BacnetDeviceConfig,
    BacnetObjectConfig,
)
from custom_components.microdc.lib.points import Reading
from custom_components.microdc.lib.protocols.bacnet import (
    BacnetNetwork,
    BacnetNetworkConfig,
    ObjectId,
)

CASES = int(os.environ.get("MICRODC_FUZZ_BACNET_EXAMPLES", "30"))
# Short: an answer bacpypes3 cannot decode is dropped and the request times out.
CONFIG = BacnetNetworkConfig(address="127.0.0.1/8", port=0, apdu_timeout_s=0.3, apdu_retries=0)
INSTANCE = 4711

# (BACnet object type number, instance) -> the object as microdc would have stored it.
OBJECTS = {
    (0, 1): BacnetObjectConfig(ObjectId("analog-input", 1), "supply", units="degreesCelsius"),
    (3, 2): BacnetObjectConfig(ObjectId("binary-input", 2), "occupied"),
    (19, 3): BacnetObjectConfig(
        ObjectId("multi-state-value", 3), "mode", state_texts=("off", "heat", "cool")
    ),
}
GOOD = {"analog-input_1": 21.5, "binary-input_2": True, "multi-state-value_3": "heat"}
PRESENT_VALUE, STATUS_FLAGS = 85, 111
READ_PROPERTY, READ_PROPERTY_MULTIPLE = 12, 14


# --- encoding (ASHRAE 135 clause 20.2) ---------------------------------------------------


def tag(number: int, data: bytes, *, context: bool = False) -> bytes:
    """A primitive tag with its data (application tag, or context tag when ``context``)."""
    length = len(data)
    if length <= 4:
        return bytes([number << 4 | context << 3 | length]) + data
    if length <= 253:
        return bytes([number << 4 | context << 3 | 5, length]) + data
    return bytes([number << 4 | context << 3 | 5, 254]) + struct.pack(">H", length) + data


def opening(number: int) -> bytes:
    return bytes([number << 4 | 0x0E])


def closing(number: int) -> bytes:
    return bytes([number << 4 | 0x0F])


def object_id(object_type: int, instance: int) -> bytes:
    return struct.pack(">I", (object_type & 0x3FF) << 22 | (instance & 0x3FFFFF))


def unsigned(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def good_present_value(key: tuple[int, int]) -> bytes:
    if key[0] == 0:
        return tag(4, struct.pack(">f", 21.5))  # REAL
    if key[0] == 3:
        return tag(9, b"\x01")  # ENUMERATED: active
    return tag(2, b"\x02")  # UNSIGNED: state 2


GOOD_FLAGS = tag(8, b"\x04\x00")  # BIT STRING of 4 bits, all clear


def rpm_ack(results: dict[tuple[int, int], tuple[bytes, bytes]]) -> bytes:
    """ReadPropertyMultiple-ACK data: per object, present-value then status-flags."""
    data = b""
    for (object_type, instance), (present, flags) in results.items():
        data += tag(0, object_id(object_type, instance), context=True) + opening(1)
        for prop, value in ((PRESENT_VALUE, present), (STATUS_FLAGS, flags)):
            data += tag(2, unsigned(prop), context=True) + value
        data += closing(1)
    return data


def as_value(payload: bytes) -> bytes:
    """A property value inside an RPM result: [4] { payload }."""
    return opening(4) + payload + closing(4)


def complex_ack(invoke_id: int, service: int, data: bytes, flags: int = 0) -> bytes:
    return bytes([0x30 | flags, invoke_id, service]) + data


# --- what a peer may send ----------------------------------------------------------------

PRIMITIVES = st.one_of(
    st.builds(lambda raw: tag(4, raw), st.binary(min_size=4, max_size=4)),  # any REAL
    st.sampled_from([math.nan, math.inf, -math.inf, 3.4e38, -0.0]).map(
        lambda x: tag(4, struct.pack(">f", x))
    ),
    st.builds(lambda raw: tag(5, raw), st.binary(min_size=8, max_size=8)),  # any DOUBLE
    # UNSIGNED, SIGNED, ENUMERATED of any length: negative, huge (up to 2400 bits)
    st.builds(tag, st.sampled_from([2, 3, 9]), st.binary(max_size=20)),
    st.builds(
        lambda n, size: tag(n, b"\xff" * size), st.sampled_from([2, 3, 9]), st.integers(5, 300)
    ),
    st.builds(lambda b: bytes([0x10 | b]), st.integers(0, 7)),  # BOOLEAN, odd values too
    st.builds(
        lambda cs, text: tag(7, bytes([cs]) + text), st.integers(0, 255), st.binary(max_size=30)
    ),
    st.builds(lambda raw: tag(8, raw), st.binary(max_size=6)),  # BIT STRING, any length
    st.builds(lambda raw: tag(12, raw), st.binary(max_size=5)),  # OBJECT IDENTIFIER
    st.builds(tag, st.sampled_from([6, 10, 11, 13, 14, 15]), st.binary(max_size=6)),
    st.just(b"\x00"),  # NULL
    st.just(b""),  # nothing at all
)


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """A value as a peer might send it: primitives, constructed data, or noise."""
    kind = draw(st.sampled_from(["one", "several", "constructed", "unbalanced", "noise"]))
    if kind == "one":
        return draw(PRIMITIVES)
    if kind == "several":
        return b"".join(draw(st.lists(PRIMITIVES, min_size=2, max_size=4)))
    if kind == "constructed":
        number = draw(st.integers(0, 14))
        inner = b"".join(draw(st.lists(PRIMITIVES, max_size=3)))
        return opening(number) + inner + closing(number)
    if kind == "unbalanced":
        return draw(st.sampled_from([opening(0), closing(0), closing(4), opening(3)]))
    return draw(st.binary(max_size=12))


@st.composite
def results(draw: st.DrawFn) -> bytes:
    """A property result: a value, or a property access error of any class and code."""
    if draw(st.booleans()):
        return as_value(draw(payloads()))
    error_class = unsigned(draw(st.integers(0, 2**40)))
    error_code = unsigned(draw(st.integers(0, 2**40)))
    return opening(5) + tag(9, error_class) + tag(9, error_code) + closing(5)


@st.composite
def replies(draw: st.DrawFn) -> Any:
    """A function of (invoke id, service choice) giving the APDU the peer sends back."""
    shape = draw(
        st.sampled_from(["values", "wrong object", "pdu", "segmented", "noise"]),
    )
    if shape == "values":
        fields = {
            key: (
                draw(results()) if draw(st.booleans()) else as_value(good_present_value(key)),
                draw(results()) if draw(st.booleans()) else as_value(GOOD_FLAGS),
            )
            for key in OBJECTS
        }
        data = rpm_ack(fields)

        def reply(invoke_id: int, service: int) -> bytes:
            return complex_ack(invoke_id, service, data)

    elif shape == "wrong object":
        other = (draw(st.integers(0, 1023)), draw(st.integers(0, 0x3FFFFF)))
        data = rpm_ack({other: (as_value(draw(payloads())), as_value(GOOD_FLAGS))})

        def reply(invoke_id: int, service: int) -> bytes:
            return complex_ack(invoke_id, service, data)

    elif shape == "pdu":
        pdu_type = draw(st.sampled_from([0x20, 0x50, 0x60, 0x70, 0x30]))
        tail = draw(st.binary(max_size=8))
        service_choice = draw(st.none() | st.integers(0, 255))

        def reply(invoke_id: int, service: int) -> bytes:
            chosen = service if service_choice is None else service_choice
            return bytes([pdu_type, invoke_id, chosen]) + tail

    elif shape == "segmented":
        data = draw(st.binary(max_size=20))
        flags = draw(st.sampled_from([0x08, 0x0C]))  # segmented (and more follows)
        sequence, window = draw(st.integers(0, 255)), draw(st.integers(0, 127))

        def reply(invoke_id: int, service: int) -> bytes:
            return bytes([0x30 | flags, invoke_id, sequence, window, service]) + data

    else:
        noise = draw(st.binary(max_size=40))

        def reply(invoke_id: int, service: int) -> bytes:
            return noise

    cut = draw(st.none() | st.integers(0, 60))
    if cut is None:
        return reply

    def truncated(invoke_id: int, service: int) -> bytes:
        return reply(invoke_id, service)[:cut]

    return truncated


# --- the peer ----------------------------------------------------------------------------


class CraftedPeer(asyncio.DatagramProtocol):
    """Answers the next confirmed request with ``crafted`` (once), the others correctly."""

    def __init__(self) -> None:
        self.crafted: Any = None
        self.hand_decoded: bool | None = None  # how the client under test starts decoding
        # Present values it always sends wrong (RPM and ReadProperty alike), by object.
        self.wrong: dict[tuple[int, int], bytes] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        # BVLC (4 bytes), NPDU version and control (2: microdc's requests carry no network
        # addresses), then the APDU. Only confirmed requests are answered.
        if len(data) < 10 or data[0] != 0x81 or data[6] >> 4 != 0:
            return
        apdu = data[6:]
        invoke_id, service = apdu[2], apdu[3]
        crafted, self.crafted = self.crafted, None
        answer = crafted(invoke_id, service) if crafted else self._good(invoke_id, service, apdu)
        if answer is None:
            return
        npdu = b"\x01\x00" + answer
        assert self.transport is not None
        self.transport.sendto(b"\x81\x0a" + struct.pack(">H", len(npdu) + 4) + npdu, addr)

    def _present(self, key: tuple[int, int]) -> bytes:
        return self.wrong.get(key) or good_present_value(key)

    def _good(self, invoke_id: int, service: int, apdu: bytes) -> bytes | None:
        if service == READ_PROPERTY_MULTIPLE:
            data = rpm_ack(
                {key: (as_value(self._present(key)), as_value(GOOD_FLAGS)) for key in OBJECTS}
            )
            return complex_ack(invoke_id, service, data)
        if service == READ_PROPERTY:  # after an RPM error: [0] object, [1] property
            raw = struct.unpack(">I", apdu[5:9])[0]
            key = (raw >> 22, raw & 0x3FFFFF)
            prop = apdu[10]
            value = self._present(key) if prop == PRESENT_VALUE else GOOD_FLAGS
            data = apdu[4:11] + opening(3) + value + closing(3)
            return complex_ack(invoke_id, service, data)
        return None


@pytest.fixture(params=[None, False], ids=["poll-codec", "bacpypes3"])
async def device(
    socket_enabled: None, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[CraftedPeer, BacnetDevice]]:
    """The peer and microdc's device; the poll's answers decoded by microdc's own codec (which
    hands what it declines to bacpypes3's path) or by bacpypes3 from the start."""
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(CraftedPeer, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    network = await BacnetNetwork.acquire(CONFIG)
    client = network.device(f"127.0.0.1:{port}", INSTANCE)
    peer.hand_decoded = request.param
    client.hand_decoded_polls = request.param
    config = BacnetDeviceConfig(
        address=f"127.0.0.1:{port}",
        device_instance=INSTANCE,
        objects=tuple(OBJECTS.values()),
        cov=False,
    )
    yield peer, BacnetDevice(client, config, name="fuzzed")
    await client.close()
    await network.release()
    transport.close()


def check(reading: Reading, key: str) -> None:
    """A value of the object's kind, or no value and the reason."""
    if reading.value is None:
        assert reading.error, f"{key}: no value and no reason"
        return
    good = GOOD[key]
    if isinstance(good, float):
        assert isinstance(reading.value, float), reading
        assert math.isfinite(reading.value), reading
    elif isinstance(good, bool):
        assert isinstance(reading.value, bool), reading
    else:
        assert reading.value in ("off", "heat", "cool"), reading


@pytest.mark.timeout(600)  # the benchmark's many examples outlast the suite's 120 s per test
@settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(reply=replies())
async def test_a_malformed_answer_is_an_error_and_the_next_answer_is_read(
    device: tuple[CraftedPeer, BacnetDevice], reply: Any, caplog: pytest.LogCaptureFixture
) -> None:
    peer, bacnet = device
    bacnet.client.rpm_supported = None  # each example starts from ReadPropertyMultiple
    bacnet.client.hand_decoded_polls = peer.hand_decoded
    peer.crafted = reply
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        try:
            report = await bacnet.poll()
        except BacnetRequestError:
            pass
        else:
            assert set(report.readings) == set(GOOD)
            for key, reading in report.readings.items():
                check(reading, key)
    assert not [r for r in caplog.records if r.name.startswith("custom_components")]
    report = await bacnet.poll()
    assert {key: r.value for key, r in report.readings.items()} == GOOD


@pytest.mark.parametrize(
    ("key", "wrong"),
    [
        # What the fuzz found, kept as fixed cases: each read as a value before, or (a string,
        # a REAL for a binary) failed the whole poll.
        ((0, 1), tag(4, struct.pack(">f", math.nan))),
        ((0, 1), tag(4, struct.pack(">f", -math.inf))),
        ((0, 1), tag(7, b"\x00warm")),
        ((3, 2), tag(4, struct.pack(">f", 1.0))),
        ((3, 2), tag(9, b"\x07")),
        ((19, 3), tag(2, b"\xff" * 40)),
    ],
)
async def test_a_value_not_of_the_objects_kind_is_unusable_and_says_why(
    device: tuple[CraftedPeer, BacnetDevice], key: tuple[int, int], wrong: bytes
) -> None:
    peer, bacnet = device
    peer.wrong = {key: wrong}
    unusable = OBJECTS[key].key
    report = await bacnet.poll()
    assert report.readings[unusable].value is None
    assert report.readings[unusable].error
    others = {k: r.value for k, r in report.readings.items() if k != unusable}
    assert others == {k: v for k, v in GOOD.items() if k != unusable}


async def test_an_answer_that_is_not_an_rpm_ack_is_read_again_singly(
    device: tuple[CraftedPeer, BacnetDevice],
) -> None:
    """bacpypes3 returns None for a SimpleACK: a TypeError escaped the poll before."""
    peer, bacnet = device
    peer.crafted = lambda invoke_id, service: bytes([0x20, invoke_id, service])
    before = bacnet.client.requests_sent
    assert {k: r.value for k, r in (await bacnet.poll()).readings.items()} == GOOD
    if peer.hand_decoded is None:
        # The poll's codec declines it; bacpypes3's RPM after it gets the right answer.
        assert bacnet.client.requests_sent - before == 2
        assert bacnet.client.hand_decoded_polls is False
    else:
        assert bacnet.client.requests_sent - before == 1 + 2 * len(OBJECTS)  # RPM, then singly
