"""The poll's hand-made ReadPropertyMultiple codec against bacpypes3's own encoding.

bacpypes3 encodes the reference requests and answers (any objects, values, status flags and
property errors the poll can meet); the codec must read them exactly, decline (None) anything
outside the poll's shape, and never raise on any bytes.
"""

from __future__ import annotations

import os
import struct

from bacpypes3.apdu import (  # type: ignore[import-untyped]
    ReadPropertyMultipleACK,
    ReadPropertyMultipleRequest,
)
from bacpypes3.basetypes import (  # type: ignore[import-untyped]
    ErrorType,
    PropertyIdentifier,
    PropertyReference,
    ReadAccessResult,
    ReadAccessResultElement,
    ReadAccessResultElementChoice,
    ReadAccessSpecification,
    StatusFlags,
)
from bacpypes3.constructeddata import Any as AnyValue  # type: ignore[import-untyped]
from bacpypes3.primitivedata import (  # type: ignore[import-untyped]
    CharacterString,
    Enumerated,
    ObjectIdentifier,
    Real,
    Unsigned,
)
from hypothesis import given, settings, strategies as st
import pytest

from custom_components.microdc.lib.protocols.bacnet_poll_codec import (
    OBJECT_TYPES,
    PolledValue,
    PropertyError,
    decode_ack,
    encode_request,
    is_poll_request,
)

CASES = int(os.environ.get("MICRODC_FUZZ_EXAMPLES", "300"))
INSTANCES = st.integers(0, (1 << 22) - 2)  # 4194303 is the "no instance" wildcard
PROPERTY_LISTS = st.sampled_from(
    [("present-value", "status-flags"), ("present-value",), ("status-flags", "present-value")]
)


def float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


@st.composite
def polled(draw: st.DrawFn, object_type: str, prop: str) -> tuple[object, PolledValue]:
    """One property's reference value for bacpypes3 and what the codec must read from it."""
    if draw(st.integers(0, 9)) == 0:
        error_class, error_code = draw(st.integers(0, 7)), draw(st.integers(0, 200))
        return (
            ErrorType(errorClass=error_class, errorCode=error_code),
            PropertyError(error_class, error_code),
        )
    if prop == "status-flags":
        flags = tuple(draw(st.lists(st.booleans(), min_size=4, max_size=4)))
        return StatusFlags([int(f) for f in flags]), flags
    if object_type.startswith("analog"):
        value = float32(draw(st.floats(width=32, allow_nan=False)))
        return Real(value), float(f"{value:.7g}")
    if object_type.startswith("binary"):
        state = draw(st.booleans())
        return Enumerated(int(state)), state
    number = draw(st.integers(0, 0xFFFFFFFF))
    return Unsigned(number), number


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, int, str, PolledValue]]]:
    """A ReadPropertyMultiple-ACK encoded by bacpypes3, and the results it holds."""
    results, expected = [], []
    for _ in range(draw(st.integers(1, 30))):
        object_type = draw(st.sampled_from(sorted(OBJECT_TYPES)))
        instance = draw(INSTANCES)
        elements = []
        for prop in draw(PROPERTY_LISTS):
            raw, value = draw(polled(object_type, prop))
            choice = (
                ReadAccessResultElementChoice(propertyAccessError=raw)
                if isinstance(raw, ErrorType)
                else ReadAccessResultElementChoice(propertyValue=AnyValue(raw))
            )
            elements.append(
                ReadAccessResultElement(
                    propertyIdentifier=PropertyIdentifier(prop), readResult=choice
                )
            )
            expected.append((object_type, instance, prop, value))
        results.append(
            ReadAccessResult(
                objectIdentifier=ObjectIdentifier((object_type, instance)),
                listOfResults=elements,
            )
        )
    ack = ReadPropertyMultipleACK(listOfReadAccessResults=results)
    return bytes(ack.encode().pduData), expected


@settings(max_examples=CASES, derandomize=True)
@given(answer=answers())
def test_reads_what_bacpypes3_encoded(
    answer: tuple[bytes, list[tuple[str, int, str, PolledValue]]],
) -> None:
    data, expected = answer
    assert decode_ack(data) == expected


@settings(max_examples=CASES, derandomize=True)
@given(
    batch=st.lists(
        st.tuples(st.sampled_from(sorted(OBJECT_TYPES)), INSTANCES, PROPERTY_LISTS),
        min_size=1,
        max_size=30,
    )
)
def test_requests_are_bacpypes3s_bytes(batch: list[tuple[str, int, tuple[str, ...]]]) -> None:
    request = ReadPropertyMultipleRequest(
        listOfReadAccessSpecs=[
            ReadAccessSpecification(
                objectIdentifier=ObjectIdentifier((object_type, instance)),
                listOfPropertyReferences=[
                    PropertyReference(propertyIdentifier=PropertyIdentifier(prop)) for prop in props
                ],
            )
            for object_type, instance, props in batch
        ]
    )
    assert encode_request(batch) == bytes(request.encode().pduData)


def ack_of(object_type: str, instance: int, prop: str, value: object) -> bytes:
    element = ReadAccessResultElement(
        propertyIdentifier=PropertyIdentifier(prop),
        readResult=ReadAccessResultElementChoice(propertyValue=AnyValue(value)),
    )
    result = ReadAccessResult(
        objectIdentifier=ObjectIdentifier((object_type, instance)), listOfResults=[element]
    )
    return bytes(ReadPropertyMultipleACK(listOfReadAccessResults=[result]).encode().pduData)


@pytest.mark.parametrize(
    ("object_type", "prop", "value"),
    [
        ("analog-input", "present-value", Unsigned(3)),  # another datatype than Real
        ("analog-value", "present-value", CharacterString("warm")),
        ("binary-input", "present-value", Enumerated(2)),  # not a BinaryPV
        ("multi-state-value", "present-value", Real(2.0)),
        ("analog-input", "status-flags", Unsigned(0)),
        ("device", "present-value", Real(1.0)),  # not an object the poll reads
        ("analog-input", "units", Enumerated(62)),  # not a property the poll reads
    ],
    ids=[
        "unsigned-analog",
        "string-analog",
        "enum-2-binary",
        "real-multistate",
        "flags-unsigned",
        "device-object",
        "units",
    ],
)
def test_declines_what_is_not_the_polls_shape(object_type: str, prop: str, value: object) -> None:
    assert decode_ack(ack_of(object_type, 1, prop, value)) is None


def test_declines_an_array_index_and_every_truncation() -> None:
    data = ack_of("analog-input", 7, "present-value", Real(21.5))
    assert decode_ack(data) == [("analog-input", 7, "present-value", 21.5)]
    with_index = data.replace(b"\x29\x55", b"\x29\x55\x39\x01", 1)  # [3] propertyArrayIndex 1
    assert with_index != data
    assert decode_ack(with_index) is None
    for end in range(1, len(data)):
        assert decode_ack(data[:end]) is None


@settings(max_examples=CASES * 3, derandomize=True)
@given(data=st.binary(max_size=200))
def test_any_bytes_decode_or_decline(data: bytes) -> None:
    decoded = decode_ack(data)
    assert decoded is None or isinstance(decoded, list)


def test_poll_requests_only() -> None:
    assert is_poll_request("analog-input", ("present-value", "status-flags"))
    assert not is_poll_request("analog-input", ("present-value", "object-name"))
    assert not is_poll_request("device", ("present-value",))
    with pytest.raises(ValueError, match="instance"):
        encode_request([("analog-input", 1 << 22, ("present-value",))])
