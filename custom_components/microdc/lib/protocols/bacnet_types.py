"""The values and errors of microdc's BACnet transport, free of bacpypes3.

Everything here is plain, typed Python: the Home Assistant glue sees these types only, never a
bacpypes3 object. bacnet.py re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

type PresentValue = float | int | bool | str | None
"""A present value: float (analog), bool (binary: active is True), int (multi-state), None."""

type PropertyValue = (
    float | int | bool | str | StatusFlags | ObjectId | tuple[PropertyValue, ...] | None
)
"""Any property value the transport decodes; arrays and lists become tuples."""


# --- errors -----------------------------------------------------------------------------


class BacnetError(Exception):
    """Base of every error the BACnet transport raises."""


class BacnetConfigError(BacnetError):
    """The local BACnet/IP settings cannot be used (address not on this host, port held)."""


class BacnetTimeoutError(BacnetError):
    """The device did not answer in time (after the configured retries)."""


class BacnetDecodeError(BacnetError):
    """The device answered with something that cannot be decoded (a wrong tag, a cut APDU)."""


class BacnetRejectError(BacnetError):
    """The device rejected the request (BACnet Reject PDU); ``reason`` is the reject reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"request rejected: {reason}")
        self.reason = reason


class BacnetAbortError(BacnetError):
    """The transaction was aborted (BACnet Abort PDU); ``reason`` is the abort reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"request aborted: {reason}")
        self.reason = reason


class BacnetDeviceError(BacnetError):
    """The device answered with a BACnet Error: ``error_class`` and ``error_code``."""

    def __init__(self, error_class: str, error_code: str) -> None:
        super().__init__(f"{error_class}: {error_code}")
        self.error_class = error_class
        self.error_code = error_code


class BacnetWriteAccessDeniedError(BacnetDeviceError):
    """The property is not writable (e.g. an input that is not out of service)."""


class BacnetValueOutOfRangeError(BacnetDeviceError):
    """The written value is outside the range the object accepts."""


class BacnetUnknownObjectError(BacnetDeviceError):
    """The device has no such object."""


class BacnetUnknownPropertyError(BacnetDeviceError):
    """The object has no such property."""


# --- values -----------------------------------------------------------------------------

_OBJECT_ID = re.compile(r"^\s*([a-z][a-z-]*)\s*[,:]\s*(\d+)\s*$")


@dataclass(frozen=True, order=True)
class ObjectId:
    """A BACnet object identifier: type (as named in ASHRAE 135, e.g. analog-input) and instance."""

    type: str
    instance: int

    @classmethod
    def parse(cls, text: str) -> ObjectId:
        """Parse ``analog-input,1`` (or ``analog-input:1``)."""
        match = _OBJECT_ID.match(text)
        if match is None:
            raise ValueError(f"not a BACnet object identifier: {text!r} (expected type,instance)")
        return cls(match.group(1), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.type},{self.instance}"

    @property
    def is_binary(self) -> bool:
        return self.type.startswith("binary-")

    @property
    def is_multistate(self) -> bool:
        return self.type.startswith("multi-state-")


@dataclass(frozen=True)
class StatusFlags:
    """An object's status-flags property."""

    in_alarm: bool = False
    fault: bool = False
    overridden: bool = False
    out_of_service: bool = False

    @property
    def reliable(self) -> bool:
        """False when the value should not be trusted (fault or out of service)."""
        return not (self.fault or self.out_of_service)


@dataclass(frozen=True)
class DiscoveredDevice:
    """A device that answered Who-Is (or was identified by reading its device object)."""

    instance: int
    address: str  # host:port, as given to BacnetNetwork.device()
    name: str | None
    max_apdu: int
    segmentation: str  # segmented-both | segmented-transmit | segmented-receive | no-segmentation
    vendor_id: int | None

    @property
    def can_segment_responses(self) -> bool:
        return self.segmentation in ("segmented-both", "segmented-transmit")


@dataclass(frozen=True)
class ObjectInfo:
    """What the device flow needs to know about one object."""

    object_id: ObjectId
    name: str | None
    description: str | None
    units: str | None  # BACnet engineering units name, e.g. degrees-celsius
    present_value: PresentValue
    status_flags: StatusFlags | None
    commandable: bool  # has a priority array: write at a priority, relinquish with null
    state_texts: tuple[str, ...] | None  # multi-state objects: state 1 is state_texts[0]
    relinquish_default: PresentValue = None


@dataclass(frozen=True)
class PointReading:
    """One object's present value and status flags, from a poll or a COV notification."""

    object_id: ObjectId
    present_value: PresentValue
    status_flags: StatusFlags | None
    error: BacnetError | None = None  # set when this object could not be read
