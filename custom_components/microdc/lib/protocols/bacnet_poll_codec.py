"""The poll's ReadPropertyMultiple, encoded and decoded by hand. Pure: bytes in, tuples out.

A poll asks every object for its present value and status flags, every few seconds. bacpypes3
decodes an answer through its generic, introspecting type machinery, about 0.2 ms per object
(measured on the 2-core development machine): at plant-room scale that was most of microdc's
CPU. This module knows only the poll's shape (clause 21's ReadPropertyMultiple-Request and
-ACK, with the application tags of clause 20.2) and declines, with None, anything else: a
value of another datatype, a constructed value, an array index, a tag it does not expect. The
transport then reads that batch through bacpypes3 as before, so the fast path can only be
faster, never different.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct
from typing import Final

# Object types whose present value the poll reads (clause 21, BACnetObjectType).
OBJECT_TYPES: Final = {
    "analog-input": 0,
    "analog-output": 1,
    "analog-value": 2,
    "binary-input": 3,
    "binary-output": 4,
    "binary-value": 5,
    "multi-state-input": 13,
    "multi-state-output": 14,
    "multi-state-value": 19,
}
_TYPE_NAMES: Final = {number: name for name, number in OBJECT_TYPES.items()}
# BACnetPropertyIdentifier
PROPERTIES: Final = {"present-value": 85, "status-flags": 111}
_PROPERTY_NAMES: Final = {number: name for name, number in PROPERTIES.items()}

_TAG_UNSIGNED: Final = 2
_TAG_REAL: Final = 4
_TAG_BIT_STRING: Final = 8
_TAG_ENUMERATED: Final = 9
_OPENING: Final = 6
_CLOSING: Final = 7


@dataclass(frozen=True, slots=True)
class PropertyError:
    """A propertyAccessError: the device's error class and code, as numbers."""

    error_class: int
    error_code: int


type PolledValue = float | int | bool | tuple[bool, bool, bool, bool] | PropertyError
"""Analog: float; multi-state: int; binary: bool (active); status flags: 4 bools."""


class _NotPollShapeError(Exception):
    """Not the poll's shape: let bacpypes3 decode it."""


def is_poll_request(object_type: str, properties: tuple[str, ...]) -> bool:
    """Whether this codec can carry one object's part of a poll."""
    return object_type in OBJECT_TYPES and all(p in PROPERTIES for p in properties)


def encode_request(batch: list[tuple[str, int, tuple[str, ...]]]) -> bytes:
    """ReadPropertyMultiple-Request service data for (object type, instance, properties)."""
    out = bytearray()
    for object_type, instance, properties in batch:
        if not 0 <= instance < 1 << 22:
            raise ValueError(f"object instance out of range: {instance}")
        out += b"\x0c"  # [0] objectIdentifier, 4 octets
        out += ((OBJECT_TYPES[object_type] << 22) | instance).to_bytes(4, "big")
        out += b"\x1e"  # [1] listOfPropertyReferences, opening
        for prop in properties:
            out += b"\x09" + bytes((PROPERTIES[prop],))  # [0] propertyIdentifier, 1 octet
        out += b"\x1f"
    return bytes(out)


def decode_ack(data: bytes) -> list[tuple[str, int, str, PolledValue]] | None:
    """ReadPropertyMultiple-ACK service data as (type, instance, property, value), or None."""
    try:
        return _Reader(data).results()
    except _NotPollShapeError:
        return None


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def tag(self) -> tuple[int, bool, int]:
        """(tag number, context class, length/value/type) of the tag at pos."""
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise _NotPollShapeError
        octet = data[pos]
        number, context, lvt = octet >> 4, bool(octet & 0x08), octet & 0x07
        pos += 1
        if number == 15:
            raise _NotPollShapeError  # extended tag numbers: none in the poll's shape
        if lvt == 5 and not (context is False and number == 1):
            if pos >= len(data):
                raise _NotPollShapeError
            lvt = data[pos]
            pos += 1
            if lvt >= 254:
                raise _NotPollShapeError  # 254+ octet values: none in the poll's shape
        self.pos = pos
        return number, context, lvt

    def content(self, length: int) -> bytes:
        end = self.pos + length
        if end > len(self.data):
            raise _NotPollShapeError
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def expect(self, number: int, lvt: int) -> None:
        if self.tag() != (number, True, lvt):
            raise _NotPollShapeError

    def unsigned(self, length: int) -> int:
        if not 1 <= length <= 4:
            raise _NotPollShapeError
        return int.from_bytes(self.content(length), "big")

    def results(self) -> list[tuple[str, int, str, PolledValue]]:
        results: list[tuple[str, int, str, PolledValue]] = []
        while self.pos < len(self.data):
            self.expect(0, 4)
            raw = int.from_bytes(self.content(4), "big")
            object_type = _TYPE_NAMES.get(raw >> 22)
            if object_type is None:
                raise _NotPollShapeError
            instance = raw & 0x3FFFFF
            self.expect(1, _OPENING)
            while True:
                number, context, lvt = self.tag()
                if (number, context, lvt) == (1, True, _CLOSING):
                    break
                if (number, context) != (2, True):
                    raise _NotPollShapeError  # an array index ([3]) or something else
                prop = _PROPERTY_NAMES.get(self.unsigned(lvt))
                if prop is None:
                    raise _NotPollShapeError
                results.append((object_type, instance, prop, self.read_result(object_type, prop)))
        return results

    def read_result(self, object_type: str, prop: str) -> PolledValue:
        number, context, lvt = self.tag()
        if (number, context, lvt) == (5, True, _OPENING):
            error_class = self.enumerated()
            error_code = self.enumerated()
            self.expect(5, _CLOSING)
            return PropertyError(error_class, error_code)
        if (number, context, lvt) != (4, True, _OPENING):
            raise _NotPollShapeError
        value = self.status_flags() if prop == "status-flags" else self.present(object_type)
        self.expect(4, _CLOSING)
        return value

    def enumerated(self) -> int:
        number, context, lvt = self.tag()
        if context or number != _TAG_ENUMERATED:
            raise _NotPollShapeError
        return self.unsigned(lvt)

    def status_flags(self) -> tuple[bool, bool, bool, bool]:
        number, context, lvt = self.tag()
        if context or number != _TAG_BIT_STRING or lvt != 2:
            raise _NotPollShapeError  # four flags: one octet of unused bits, one of flags
        unused, flags = self.content(2)
        if unused != 4:
            raise _NotPollShapeError
        return (bool(flags & 0x80), bool(flags & 0x40), bool(flags & 0x20), bool(flags & 0x10))

    def present(self, object_type: str) -> float | int | bool:
        number, context, lvt = self.tag()
        if context:
            raise _NotPollShapeError
        if object_type.startswith("analog"):
            if number != _TAG_REAL or lvt != 4:
                raise _NotPollShapeError
            (value,) = struct.unpack(">f", self.content(4))
            # Single precision: its 7 significant digits, as the bacpypes3 path gives them.
            return float(f"{value:.7g}")
        if object_type.startswith("binary"):
            if number != _TAG_ENUMERATED:
                raise _NotPollShapeError
            state = self.unsigned(lvt)
            if state > 1:
                raise _NotPollShapeError  # not a BinaryPV
            return state == 1
        if number != _TAG_UNSIGNED:
            raise _NotPollShapeError
        return self.unsigned(lvt)
