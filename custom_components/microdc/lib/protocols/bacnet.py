"""microdc's BACnet/IP transport, on bacpypes3. No Home Assistant imports.

One BACnet/IP application, one UDP socket, per process: ``BacnetNetwork.acquire(config)``
returns the shared network (reference counted; ``release()`` closes it with the last user), so
every BACnet device of every site talks through the same socket, whose local address and port
are a setting (other BACnet software may hold 47808), optionally registered as a foreign
device with a BBMD.

``network.discover()`` finds devices by Who-Is (local broadcast, or directed to an address);
``network.device(address, instance)`` returns a ``BacnetDeviceClient`` that reads the object
list (element by element when the device cannot segment it), reads many objects with
ReadPropertyMultiple batched within the device's max APDU (falling back to ReadProperty when RPM
is rejected or a batch does not fit), writes and relinquishes present values at a priority, and
keeps COV subscriptions alive: renewed before their lifetime ends, and renewed again when the
device announces itself (I-Am, as after a restart) or answers again after a silence.

bacpypes3 has no type hints: every bacpypes3 object stays inside this module, and the public
API speaks only the plain types of bacnet_types.py. Errors are the BacnetError family.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
import contextlib
from dataclasses import dataclass
import itertools
import logging
import socket
from typing import Any, Final

from bacpypes3.apdu import (  # type: ignore[import-untyped]
    AbortPDU,
    ComplexAckPDU,
    ConfirmedRequestPDU,
    ErrorPDU,
    ErrorRejectAbortNack,
    RejectPDU,
    SimpleAckPDU,
    SubscribeCOVRequest,
    WhoIsRequest,
)
from bacpypes3.app import Application  # type: ignore[import-untyped]
from bacpypes3.appservice import ApplicationServiceAccessPoint  # type: ignore[import-untyped]
from bacpypes3.basetypes import (  # type: ignore[import-untyped]
    ErrorClass,
    ErrorCode,
    ErrorType,
    PriorityValue,
    PropertyIdentifier,
    StatusFlags as _StatusFlags,
)
from bacpypes3.comm import ServiceAccessPoint, bind  # type: ignore[import-untyped]
from bacpypes3.errors import ServicesError  # type: ignore[import-untyped]
from bacpypes3.ipv4.link import (  # type: ignore[import-untyped]
    ForeignLinkLayer,
    NormalLinkLayer,
)
from bacpypes3.local.device import DeviceObject  # type: ignore[import-untyped]
from bacpypes3.netservice import (  # type: ignore[import-untyped]
    NetworkServiceAccessPoint,
    NetworkServiceElement,
)
from bacpypes3.pdu import Address, GlobalBroadcast, IPv4Address  # type: ignore[import-untyped]
from bacpypes3.primitivedata import (  # type: ignore[import-untyped]
    Enumerated,
    Null,
    ObjectIdentifier,
    ObjectType,
    Real,
    Unsigned,
)
from bacpypes3.vendor import get_vendor_info  # type: ignore[import-untyped]

from .bacnet_poll_codec import (
    PolledValue,
    PropertyError,
    decode_ack,
    encode_request,
    is_poll_request,
)
from .bacnet_types import (
    BacnetAbortError,
    BacnetConfigError,
    BacnetDecodeError,
    BacnetDeviceError,
    BacnetError,
    BacnetRejectError,
    BacnetTimeoutError,
    BacnetUnknownObjectError,
    BacnetUnknownPropertyError,
    BacnetValueOutOfRangeError,
    BacnetWriteAccessDeniedError,
    DiscoveredDevice,
    ObjectId,
    ObjectInfo,
    PointReading,
    PresentValue,
    PropertyValue,
    StatusFlags,
)

__all__ = [
    "BacnetAbortError",
    "BacnetConfigError",
    "BacnetDecodeError",
    "BacnetDeviceClient",
    "BacnetDeviceError",
    "BacnetError",
    "BacnetNetwork",
    "BacnetNetworkConfig",
    "BacnetRejectError",
    "BacnetTimeoutError",
    "BacnetUnknownObjectError",
    "BacnetUnknownPropertyError",
    "BacnetValueOutOfRangeError",
    "BacnetWriteAccessDeniedError",
    "CovCallback",
    "CovSubscription",
    "DiscoveredDevice",
    "ObjectId",
    "ObjectInfo",
    "PointReading",
    "PresentValue",
    "PropertyValue",
    "StatusFlags",
]

_LOGGER = logging.getLogger(__name__)

# Object types whose present value microdc reads and writes.
VALUE_OBJECT_TYPES: Final = frozenset(
    f"{kind}-{role}"
    for kind in ("analog", "binary", "multi-state")
    for role in ("input", "output", "value")
)
# Abort and reject reasons that mean "the answer would not fit": split the request.
_TOO_BIG: Final = frozenset(
    {"segmentation-not-supported", "buffer-overflow", "apdu-too-long", "window-size-out-of-range"}
)
# Answers that mean "this device does not do ReadPropertyMultiple".
_NO_RPM_REJECTS: Final = frozenset({"unrecognized-service"})
_NO_RPM_ERRORS: Final = frozenset(
    {"service-request-denied", "optional-functionality-not-supported"}
)

# Estimated encoded size (bytes) of one property's result in a ReadPropertyMultiple-ACK,
# including its context tags; strings are guessed generously. Unknown properties: 24.
_RESULT_SIZE: Final = {
    "present-value": 9,
    "status-flags": 8,
    "units": 7,
    "object-type": 7,
    "out-of-service": 5,
    "event-state": 6,
    "relinquish-default": 9,
    "number-of-states": 7,
    "object-name": 40,
    "description": 72,
    "state-text": 160,
    "priority-array": 100,
}
_OBJECT_OVERHEAD: Final = 7  # object identifier and the list's opening/closing tags
_APDU_OVERHEAD: Final = 4  # the APDU header
_UNKNOWN_MAX_APDU: Final = 480  # assumed until the device tells (the MS/TP maximum)
# What an answer that left out an object's present value reads as.
_MISSING: Final = BacnetError("the device's answer has no present-value for the object")
_NO_INFO: Final = DiscoveredDevice(0, "", None, _UNKNOWN_MAX_APDU, "no-segmentation", None)

# bacpypes3's own identifier for sample applications. microdc has no ASHRAE vendor id; a
# client's vendor id only tells peers how to decode its proprietary properties (it has none).
_LOCAL_VENDOR_ID: Final = 999
_ASHRAE = get_vendor_info(0)

_ERRORS_BY_CODE: Final[dict[str, type[BacnetDeviceError]]] = {
    "write-access-denied": BacnetWriteAccessDeniedError,
    "value-out-of-range": BacnetValueOutOfRangeError,
    "unknown-object": BacnetUnknownObjectError,
    "unknown-property": BacnetUnknownPropertyError,
}


# --- the typed boundary over bacpypes3 -------------------------------------------------


def _error(err: BaseException) -> BacnetError:
    """Translate a bacpypes3 Error/Reject/Abort (or a timeout) into the BacnetError family."""
    if isinstance(err, AbortPDU):
        reason = str(err.apduAbortRejectReason)
        if reason == "no-response":
            return BacnetTimeoutError("the device did not answer")
        return BacnetAbortError(reason)
    if isinstance(err, RejectPDU):
        return BacnetRejectError(str(err.apduAbortRejectReason))
    if isinstance(err, ErrorPDU | ErrorType):
        error_class, error_code = str(err.errorClass), str(err.errorCode)
        return _ERRORS_BY_CODE.get(error_code, BacnetDeviceError)(error_class, error_code)
    if isinstance(err, TimeoutError):
        return BacnetTimeoutError("the device did not answer")
    return BacnetError(f"BACnet request failed: {err!r}")


def _python(value: Any) -> PropertyValue:
    """A decoded bacpypes3 value as plain Python (enumerations become their names)."""
    if isinstance(value, PriorityValue):
        value = None if value.null is not None else getattr(value, value._choice)
    if value is None or isinstance(value, Null):
        return None
    for kind, convert in _CONVERTERS:
        if isinstance(value, kind):
            return convert(value)
    return str(value)


def _decoded(value: Any) -> PropertyValue | BacnetError:
    """``_python`` of a peer's value, or the error saying it could not be read (a status
    flags bit string of two bits, say): a malformed value spoils one property, not the poll."""
    try:
        return _python(value)
    except Exception as err:  # whatever bacpypes3 raises on a peer's data
        return BacnetDecodeError(f"undecodable value: {err!r}")


# Checked in order: StatusFlags is a list and Enumerated an int, so they come first; the
# plain types strip bacpypes3's subclasses (Double, Unsigned, CharacterString...).
_CONVERTERS: Final[tuple[tuple[type | tuple[type, ...], Callable[[Any], PropertyValue]], ...]] = (
    (_StatusFlags, lambda v: StatusFlags(*(bool(v[i]) for i in range(4)))),
    (ObjectIdentifier, lambda v: ObjectId(str(v[0]), int(v[1]))),
    (Enumerated, str),
    # A BACnet Real is single precision: keep its 7 significant digits, not float32 noise
    # (1.4 rather than 1.399999976158142).
    (Real, lambda v: float(f"{float(v):.7g}")),
    (bool, bool),
    (float, float),
    (int, int),
    (str, str),
    ((list, tuple), lambda v: tuple(_python(item) for item in v)),
)


def _rpm_results(raw: Any) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError] | None:
    """bacpypes3's ReadPropertyMultiple rows by (object, property); None if it is no list."""
    if not isinstance(raw, list):
        return None
    results: dict[tuple[ObjectId, str], PropertyValue | BacnetError] = {}
    for row in raw:
        try:
            raw_oid, raw_prop, _index, value = row
            key = (_object_id(raw_oid), str(raw_prop))
        except TypeError, ValueError:
            continue  # not a result row: what was asked for and is missing says so later
        results[key] = _error(value) if isinstance(value, ErrorType) else _decoded(value)
    return results


# Tuples, not `bool | int | ...`: a union written in a call is built anew at every call
# (about 1 µs), and these run for every object of every poll.
_SCALARS: Final = (bool, int, float, str)


def _present(object_id: ObjectId, value: PropertyValue) -> PresentValue:
    """A present value (or priority array slot) in the type its object's kind implies."""
    if value is None:
        return None
    if object_id.is_binary:
        # A present value decodes to a BinaryPV name; a priority array slot to a bare 0/1.
        # Anything else (a peer's REAL, a string, enumeration 7) stays as it came, so that
        # the device layer sees it is not a binary value rather than read it as inactive.
        if value in ("active", "1", 1, True) and not isinstance(value, float):
            return True
        if value in ("inactive", "0", 0, False) and not isinstance(value, float):
            return False
    if isinstance(value, _SCALARS):
        return value
    return str(value)


def _property_type(object_type: str, prop: str) -> Any:
    object_class = _ASHRAE.get_object_class(ObjectType(object_type))
    return None if object_class is None else object_class.get_property_type(prop)


def _encode_present(object_id: ObjectId, value: float | bool | int) -> Any:
    """The bacpypes3 value to write to an object's present value."""
    if object_id.is_binary:
        return Enumerated(1 if value else 0)
    if object_id.is_multistate:
        return Unsigned(int(value))
    return Real(float(value))


_READ_PROPERTY_MULTIPLE: Final = 14  # the confirmed service choice (clause 21)


class _RawAckServiceAccessPoint(ApplicationServiceAccessPoint):  # type: ignore[misc]
    """bacpypes3's service access point, handing the poll's answers up undecoded.

    The poll decodes its ReadPropertyMultiple-ACKs itself (bacnet_poll_codec.py); every
    other answer, and errors, rejects and aborts to the poll, are decoded as before.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.raw_acks: set[tuple[Any, int]] = set()  # (device address, invoke id)

    async def sap_response(self, apdu: Any) -> None:
        if isinstance(apdu, ComplexAckPDU):
            key = (apdu.pduSource, apdu.apduInvokeID)
            if key in self.raw_acks:
                self.raw_acks.discard(key)
                await ServiceAccessPoint.sap_response(self, apdu)
                return
        await super().sap_response(apdu)


def _polled(object_id: ObjectId, value: PolledValue) -> PropertyValue | BacnetError:
    """A value of the hand-decoded poll as the bacpypes3 path gives it."""
    if isinstance(value, PropertyError):
        error_class, error_code = (
            str(ErrorClass(value.error_class)),
            str(ErrorCode(value.error_code)),
        )
        return _ERRORS_BY_CODE.get(error_code, BacnetDeviceError)(error_class, error_code)
    if isinstance(value, tuple):
        return StatusFlags(*value)
    if isinstance(value, bool) and object_id.is_binary:
        return "active" if value else "inactive"  # BinaryPV's names
    return value


class _SharedApplication(Application):  # type: ignore[misc]
    """bacpypes3's application with microdc's hooks for I-Am and COV notifications."""

    def __init__(
        self,
        device_object: Any,
        local_address: Any,
        bbmd: tuple[Any, int] | None,
        on_i_am: Callable[[Any], None],
        on_cov: Callable[[Any], bool],
    ) -> None:
        Application.__init__(self)
        self.asap = _RawAckServiceAccessPoint(device_object, self.device_info_cache)
        self.nsap = NetworkServiceAccessPoint()
        self.nse = NetworkServiceElement()
        bind(self.nse, self.nsap)
        bind(self, self.asap, self.nsap)
        if bbmd is None:
            self.link = NormalLinkLayer(local_address)
        else:
            self.link = ForeignLinkLayer(local_address)
            self.link.register(*bbmd)
        self.nsap.bind(self.link, address=local_address)
        self.add_object(device_object)
        self._on_i_am = on_i_am
        self._on_cov = on_cov

    async def confirmation(self, apdu: Any) -> None:
        # A request its caller gave up on (a cancelled task, an unload, our own timeout) is
        # removed from bacpypes3's table only by a done-callback that runs later; an answer or
        # an abort arriving in between would set a result on a done future (InvalidStateError,
        # logged as an unretrieved task exception). Nobody waits for it: drop it.
        for request, future in self._requests.get(apdu.pduSource, ()):
            if request.apduInvokeID == apdu.apduInvokeID and future.done():
                return
        await super().confirmation(apdu)

    async def do_IAmRequest(self, apdu: Any) -> None:  # noqa: N802
        await super().do_IAmRequest(apdu)
        # Keep every device's max APDU and segmentation, not only those a who_is() asked for.
        await self.device_info_cache.set_device_info(apdu)
        self._on_i_am(apdu)

    async def do_UnconfirmedCOVNotificationRequest(self, apdu: Any) -> None:  # noqa: N802
        self._on_cov(apdu)

    async def do_ConfirmedCOVNotificationRequest(self, apdu: Any) -> None:  # noqa: N802
        if not self._on_cov(apdu):
            raise ServicesError(errorCode="unknownSubscription")
        await self.response(SimpleAckPDU(context=apdu))

    def request_raw_ack(self, destination: Any, service_data: bytes) -> Any:
        """Send a ReadPropertyMultiple already encoded; its future gets the ack undecoded."""
        request = ConfirmedRequestPDU(_READ_PROPERTY_MULTIPLE, destination=destination)
        request.put_data(service_data)
        future = self.request(request)  # assigns the invoke id before anything is sent
        key = (destination, request.apduInvokeID)
        self.asap.raw_acks.add(key)
        future.add_done_callback(lambda _: self.asap.raw_acks.discard(key))
        return future

    async def aclose(self) -> None:
        """Deregister from the BBMD (when foreign) and close the socket."""
        if isinstance(self.link, ForeignLinkLayer):
            # unregister() sends its datagram from a task it does not return: wait for it.
            before = asyncio.all_tasks()
            self.link.unregister()
            await asyncio.gather(*(asyncio.all_tasks() - before), return_exceptions=True)
        self.close()

    def close(self) -> None:
        # A request still in flight keeps a timer of bacpypes3's; on a closed socket it would
        # only fire later, so stop them with the socket.
        for transaction in (*self.asap.clientTransactions, *self.asap.serverTransactions):
            transaction.stop_timer()
        self.link.close()


# --- the shared network ----------------------------------------------------------------


@dataclass(frozen=True)
class BacnetNetworkConfig:
    """The local end of BACnet/IP.

    ``address``: this host's IPv4 address with its prefix length, e.g. ``192.168.1.10/24``
    (the prefix gives the broadcast address Who-Is goes to), or ``host`` for the primary
    interface. ``port``: 47808 is BACnet's; 0 picks a free one. ``device_instance``: microdc's
    own device instance, unique on the BACnet internetwork. ``bbmd_address``: ``host:port`` of a
    BBMD to register with as a foreign device (devices on other subnets), re-registered every
    ``bbmd_ttl_s``. ``apdu_timeout_s`` and ``apdu_retries``: per request, as BACnet clause 5.4.
    """

    address: str = "host"
    port: int = 47808
    device_instance: int = 4194302
    device_name: str = "microdc"
    bbmd_address: str | None = None
    bbmd_ttl_s: int = 900
    apdu_timeout_s: float = 3.0
    apdu_retries: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise BacnetConfigError(f"port {self.port} is not a UDP port")
        if not 0 <= self.device_instance <= 4194302:
            raise BacnetConfigError("device instance must be 0..4194302")
        if self.apdu_timeout_s <= 0 or self.apdu_retries < 0:
            raise BacnetConfigError("APDU timeout must be positive and retries not negative")


_shared: BacnetNetwork | None = None
_shared_lock: asyncio.Lock | None = None


def _lock() -> asyncio.Lock:
    global _shared_lock  # noqa: PLW0603
    if _shared_lock is None:
        _shared_lock = asyncio.Lock()
    return _shared_lock


def _local_address(config: BacnetNetworkConfig) -> Any:
    """The bacpypes3 address to bind, with port 0 resolved and the port checked free."""
    try:
        if config.address == "host":
            address = IPv4Address(f"host:{config.port}")
        else:
            address = IPv4Address(f"{config.address}:{config.port}")
    except ValueError as err:
        raise BacnetConfigError(f"not a usable IPv4 address: {config.address!r} ({err})") from err
    host, port = address.addrTuple
    # bacpypes3 retries a failed bind forever and shares ports (SO_REUSEPORT), so check first:
    # a plain bind fails if anything holds the port or the address is not on this host.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise BacnetConfigError(f"cannot bind BACnet/IP to {host}:{port}: {err}") from err
        port = probe.getsockname()[1]
    prefix = address.network.prefixlen
    return IPv4Address(f"{host}/{prefix}:{port}")


class BacnetNetwork:
    """The process's BACnet/IP application, shared by every device. Use ``acquire()``."""

    def __init__(self, config: BacnetNetworkConfig) -> None:
        self.config = config
        self._refs = 0
        self._app: _SharedApplication | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[str, list[BacnetDeviceClient]] = {}
        self._i_am_listeners: list[Callable[[Any], None]] = []
        self._subscriptions: dict[tuple[str, int], CovSubscription] = {}
        self._process_ids = itertools.count(1)
        self.local_address = ""
        self._broadcast = False

    @classmethod
    async def acquire(cls, config: BacnetNetworkConfig) -> BacnetNetwork:
        """Return the shared network, opening its socket on first use.

        Raises BacnetConfigError if the socket cannot be opened, or if it is already open with
        different settings (there is one per process).
        """
        global _shared  # noqa: PLW0603
        async with _lock():
            loop = asyncio.get_running_loop()
            if _shared is not None and (_shared._loop is not loop or _shared._app is None):
                _shared = None  # left over from a closed event loop
            if _shared is None:
                network = cls(config)
                await network._open()
                _shared = network
            elif _shared.config != config:
                raise BacnetConfigError(
                    "the BACnet/IP socket is already open with other settings "
                    f"({_shared.local_address}); one is shared by every device"
                )
            _shared._refs += 1
            return _shared

    async def release(self) -> None:
        """Give back one reference; the last one closes the socket."""
        global _shared  # noqa: PLW0603
        async with _lock():
            self._refs -= 1
            if self._refs > 0:
                return
            for clients in list(self._clients.values()):
                for client in list(clients):
                    await client.cancel_tasks()
            self._clients.clear()
            if self._app is not None:
                app, self._app = self._app, None
                await app.aclose()
            if _shared is self:
                _shared = None

    @property
    def references(self) -> int:
        return self._refs

    async def _open(self) -> None:
        config = self.config
        local = _local_address(config)
        device_object = DeviceObject(
            objectIdentifier=("device", config.device_instance),
            objectName=config.device_name,
            vendorIdentifier=_LOCAL_VENDOR_ID,
            maxApduLengthAccepted=1476,
            segmentationSupported="segmented-both",
            apduTimeout=round(config.apdu_timeout_s * 1000),
            numberOfApduRetries=config.apdu_retries,
        )
        bbmd = None
        if config.bbmd_address is not None:
            try:
                bbmd = (IPv4Address(config.bbmd_address), config.bbmd_ttl_s)
            except ValueError as err:
                raise BacnetConfigError(f"not a BBMD address: {config.bbmd_address!r}") from err
        self._loop = asyncio.get_running_loop()
        app = _SharedApplication(device_object, local, bbmd, self._on_i_am, self._on_cov)
        server = app.link.server
        try:
            async with asyncio.timeout(5):
                await asyncio.gather(*server._transport_tasks)
                await server._local_transport_ready.wait()
        except TimeoutError as err:
            app.close()
            raise BacnetConfigError(f"BACnet/IP socket on {local} did not open") from err
        self._app = app
        host, port = local.addrTuple
        self.local_address = f"{host}:{port}"
        self._broadcast = bbmd is not None or server.broadcast_address is not None
        _LOGGER.debug("BACnet/IP open on %s", self.local_address)

    @property
    def app(self) -> _SharedApplication:
        if self._app is None:
            raise BacnetError("the BACnet network is closed")
        return self._app

    @property
    def transaction_timeout_s(self) -> float:
        """The longest a confirmed request can take before bacpypes3 gives up, plus slack."""
        return self.config.apdu_timeout_s * (self.config.apdu_retries + 1) + 2.0

    @property
    def foreign_registration_status(self) -> int | None:
        """With a BBMD: 0 registered, -1 in progress, -2 not registered, >0 NAK code."""
        link = self.app.link
        if not isinstance(link, ForeignLinkLayer):
            return None
        return int(link.bbmdRegistrationStatus)

    # --- discovery ---

    async def discover(
        self,
        target: str | None = None,
        *,
        low_limit: int | None = None,
        high_limit: int | None = None,
        timeout_s: float = 3.0,
        read_names: bool = True,
    ) -> list[DiscoveredDevice]:
        """Send Who-Is and list the devices that answer within ``timeout_s``.

        ``target`` None: local broadcast (through the BBMD when registered as foreign device).
        ``target`` ``host:port``: directed to one device (returns as soon as it answers), or to a
        subnet's broadcast address. Names are read from each device object (unless
        ``read_names`` is False: the I-Am alone).
        """
        if target is None and not self._broadcast:
            raise BacnetConfigError(
                "no broadcast address: give the local address with its prefix (a.b.c.d/24)"
            )
        try:
            destination = GlobalBroadcast() if target is None else Address(target)
        except (ValueError, RuntimeError) as err:  # RuntimeError: a name that does not resolve
            raise BacnetConfigError(f"not a BACnet/IP address: {target!r}") from err
        if (low_limit is None) != (high_limit is None):
            raise ValueError("give both low_limit and high_limit, or neither")

        answers: dict[int, Any] = {}
        directed_answer = asyncio.Event()

        def listen(apdu: Any) -> None:
            instance = int(apdu.iAmDeviceIdentifier[1])
            if low_limit is not None and not low_limit <= instance <= (high_limit or 0):
                return
            answers[instance] = apdu
            if target is not None and str(apdu.pduSource) == str(destination):
                directed_answer.set()

        request = WhoIsRequest(destination=destination)
        if low_limit is not None:
            request.deviceInstanceRangeLowLimit = low_limit
            request.deviceInstanceRangeHighLimit = high_limit
        self._i_am_listeners.append(listen)
        try:
            await self.app.request(request)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await directed_answer.wait()
        finally:
            self._i_am_listeners.remove(listen)

        devices = [self._discovered(apdu) for apdu in answers.values()]
        if not read_names:
            return devices
        # A few at a time (a building answers with hundreds), through unregistered clients: a
        # discovery must not leave clients behind on the network.
        limit = asyncio.Semaphore(8)

        async def name_of(found: DiscoveredDevice) -> str | None:
            async with limit:
                client = BacnetDeviceClient(self, Address(found.address), found.instance)
                return await client.read_name()

        names = await asyncio.gather(*(name_of(d) for d in devices), return_exceptions=True)
        return [
            DiscoveredDevice(
                d.instance,
                d.address,
                name if isinstance(name, str) else None,
                d.max_apdu,
                d.segmentation,
                d.vendor_id,
            )
            for d, name in zip(devices, names, strict=True)
        ]

    @staticmethod
    def _discovered(apdu: Any) -> DiscoveredDevice:
        return DiscoveredDevice(
            instance=int(apdu.iAmDeviceIdentifier[1]),
            address=str(apdu.pduSource),
            name=None,
            max_apdu=int(apdu.maxAPDULengthAccepted),
            segmentation=str(apdu.segmentationSupported),
            vendor_id=int(apdu.vendorID),
        )

    def device(self, address: str, instance: int) -> BacnetDeviceClient:
        """A client for one device. Address ``host:port`` (port 47808 if left out)."""
        try:
            bacnet_address = Address(address)
        except (ValueError, RuntimeError) as err:  # RuntimeError: a name that does not resolve
            raise BacnetConfigError(f"not a BACnet/IP address: {address!r}") from err
        client = BacnetDeviceClient(self, bacnet_address, instance)
        self._clients.setdefault(client.address, []).append(client)
        return client

    def _forget(self, client: BacnetDeviceClient) -> None:
        clients = self._clients.get(client.address, [])
        if client in clients:
            clients.remove(client)

    # --- incoming unconfirmed services ---

    def _on_i_am(self, apdu: Any) -> None:
        for listener in list(self._i_am_listeners):
            listener(apdu)
        for client in self._clients.get(str(apdu.pduSource), []):
            if client.instance == int(apdu.iAmDeviceIdentifier[1]):
                client.on_i_am(self._discovered(apdu))

    def _on_cov(self, apdu: Any) -> bool:
        key = (str(apdu.pduSource), int(apdu.subscriberProcessIdentifier))
        subscription = self._subscriptions.get(key)
        if subscription is None or subscription.object_id != _object_id(
            apdu.monitoredObjectIdentifier
        ):
            return False
        values: dict[str, PropertyValue] = {}
        for element in apdu.listOfValues:
            prop = str(element.propertyIdentifier)
            prop_type = _property_type(subscription.object_id.type, prop)
            if prop_type is None:
                continue
            try:
                values[prop] = _python(element.value.cast_out(prop_type))
            except Exception:  # a malformed value must not stop the others
                _LOGGER.debug("undecodable COV value %s of %s", prop, subscription.object_id)
        last = subscription.last_reading
        # A notification may carry only what changed: keep the rest from the previous one.
        if "present-value" in values:
            present = _present(subscription.object_id, values["present-value"])
        else:
            present = last.present_value if last else None
        status = values.get("status-flags")
        if not isinstance(status, StatusFlags):
            status = last.status_flags if last else None
        subscription.deliver(PointReading(subscription.object_id, present, status))
        return True

    def _register_subscription(self, subscription: CovSubscription) -> None:
        self._subscriptions[(subscription.client.address, subscription.process_id)] = subscription

    def _unregister_subscription(self, subscription: CovSubscription) -> None:
        self._subscriptions.pop((subscription.client.address, subscription.process_id), None)

    def _next_process_id(self) -> int:
        return next(self._process_ids) % (1 << 22)


def _object_id(value: Any) -> ObjectId:
    return ObjectId(str(value[0]), int(value[1]))


def _bacnet_object_id(object_id: ObjectId) -> Any:
    try:
        return ObjectIdentifier(f"{object_id.type},{object_id.instance}")
    except ValueError as err:
        raise ValueError(f"not a BACnet object: {object_id}") from err


# --- one device --------------------------------------------------------------------------

type CovCallback = Callable[[PointReading], None]


class CovSubscription:
    """A live SubscribeCOV for one object; renewed by its device client until cancelled."""

    def __init__(
        self,
        client: BacnetDeviceClient,
        object_id: ObjectId,
        callback: CovCallback,
        *,
        lifetime_s: int,
        confirmed: bool,
        process_id: int,
    ) -> None:
        self.client = client
        self.object_id = object_id
        self.callback = callback
        self.lifetime_s = lifetime_s
        self.confirmed = confirmed
        self.process_id = process_id
        self.active = False  # the device accepted the last (re)subscription
        self.last_error: BacnetError | None = None
        self.notifications = 0
        self.last_reading: PointReading | None = None
        self._renewal: asyncio.Task[None] | None = None

    def deliver(self, reading: PointReading) -> None:
        """Hand a notification to the callback (which runs in the event loop: no blocking)."""
        self.notifications += 1
        self.last_reading = reading
        try:
            self.callback(reading)
        except Exception:
            _LOGGER.exception("COV callback for %s failed", self.object_id)

    async def cancel(self) -> None:
        """Stop renewing and cancel the subscription on the device (best effort)."""
        await self.client.unsubscribe_cov(self)


class BacnetDeviceClient:
    """One BACnet device, reached through the shared network. Get it from ``network.device()``."""

    def __init__(self, network: BacnetNetwork, address: Any, instance: int) -> None:
        self._network = network
        self._address = address
        self.address = str(address)
        self.instance = instance
        self.info: DiscoveredDevice | None = None
        self.requests_sent = 0  # confirmed requests, for the benchmark's requests per poll
        self.available = True  # False after a timeout, True again after any answer
        self.rpm_supported: bool | None = None  # None until the device has shown either way
        # The poll's answers decoded by hand (None: not yet tried; False: the device's answers
        # are not in the expected shape, bacpypes3 decodes them).
        self.hand_decoded_polls: bool | None = None
        self._subscriptions: list[CovSubscription] = []
        # Process ids of subscriptions that timed out or were given up while the device may
        # still have accepted them: a retry reuses the id, so the device replaces its entry
        # (SubscribeCOV, clause 13.14) rather than hold a second one nobody renews.
        self._unconfirmed_process_ids: dict[ObjectId, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._resubscribing = False

    def __repr__(self) -> str:
        return f"<BacnetDeviceClient device {self.instance} at {self.address}>"

    @property
    def subscriptions(self) -> tuple[CovSubscription, ...]:
        return tuple(self._subscriptions)

    # --- requests ---

    async def _call(self, make: Callable[[], Any]) -> Any:
        """Run one confirmed request, translating every failure into a BacnetError."""
        self.requests_sent += 1
        error: BacnetError
        try:
            async with asyncio.timeout(self._network.transaction_timeout_s):
                result = await make()
        except ErrorRejectAbortNack as err:
            error = _error(err)
        except TimeoutError:
            error = BacnetTimeoutError(f"device {self.instance} at {self.address} did not answer")
        except BacnetError:
            raise  # ours, raised before anything was sent (the network is closed)
        except Exception as err:
            # bacpypes3 failing to decode a peer's answer: still a BacnetError for the glue.
            error = BacnetDecodeError(f"BACnet request to {self.address} failed: {err!r}")
        else:
            if not isinstance(result, ErrorRejectAbortNack):
                self._answered()
                return result
            error = _error(result)  # bacpypes3 returns some of them rather than raise
        if isinstance(error, BacnetTimeoutError):
            self.available = False
        else:
            self._answered()
        raise error

    def _answered(self) -> None:
        if not self.available:
            self.available = True
            # Back after a silence: the device may have restarted and forgotten us.
            self._spawn(self.resubscribe())

    async def read_property(
        self, object_id: ObjectId, prop: str, index: int | None = None
    ) -> PropertyValue:
        """ReadProperty of one property (``index``: one array element; 0 is the array size)."""
        oid = _bacnet_object_id(object_id)
        try:
            pid = PropertyIdentifier(prop)
        except ValueError as err:
            raise ValueError(f"not a BACnet property: {prop!r}") from err
        value = await self._call(
            lambda: self._network.app.read_property(self._address, oid, pid, index)
        )
        if isinstance(value, str) and value.startswith("-no "):
            # bacpypes3 answers so when it has no decoder for the object type or property.
            raise BacnetDecodeError(f"cannot decode {prop} of {object_id}")
        decoded = _decoded(value)
        if isinstance(decoded, BacnetError):
            raise decoded
        return decoded

    async def read_name(self) -> str | None:
        name = await self.read_property(ObjectId("device", self.instance), "object-name")
        return name if isinstance(name, str) else None

    async def identify(self, timeout_s: float = 3.0) -> DiscoveredDevice:
        """Who-Is to the device for its max APDU and segmentation; its name from its object.

        A device that ignores a directed Who-Is is asked for its device object properties.
        """
        found = await self._network.discover(
            self.address, low_limit=self.instance, high_limit=self.instance, timeout_s=timeout_s
        )
        if found:
            self.info = found[0]
            return found[0]
        device = ObjectId("device", self.instance)
        max_apdu = await self.read_property(device, "max-apdu-length-accepted")
        segmentation = await self.read_property(device, "segmentation-supported")
        vendor = await self.read_property(device, "vendor-identifier")
        self.info = DiscoveredDevice(
            self.instance,
            self.address,
            await self.read_name(),
            max_apdu if isinstance(max_apdu, int) else _UNKNOWN_MAX_APDU,
            str(segmentation),
            vendor if isinstance(vendor, int) else None,
        )
        return self.info

    async def learn_limits(self, timeout_s: float) -> bool:
        """A directed Who-Is for the device's max APDU and segmentation, unless known already.

        A device set up in the flow was identified there, but at run time nothing had told the
        client, so polls were planned for the smallest APDU (MS/TP's 480 bytes): a controller of
        200 objects was read in 11 requests instead of one. Who-Is and I-Am are unconfirmed
        services: no transaction on the device. False: no answer within ``timeout_s`` (the
        limits stay at the smallest, and an I-Am the device sends later sets them).
        """
        if self.info is not None:
            return True
        found = await self._network.discover(
            self.address,
            low_limit=self.instance,
            high_limit=self.instance,
            timeout_s=timeout_s,
            read_names=False,
        )
        if found and self.info is None:
            self.info = found[0]
        return self.info is not None

    def on_i_am(self, info: DiscoveredDevice) -> None:
        """The device announced itself: keep its limits and renew COV after a restart."""
        name = self.info.name if self.info else None
        self.info = DiscoveredDevice(
            info.instance, info.address, name, info.max_apdu, info.segmentation, info.vendor_id
        )
        self.available = True
        if self._subscriptions:
            self._spawn(self.resubscribe())

    async def read_object_list(self) -> list[ObjectId]:
        """The device's object list, element by element when it cannot send it whole."""
        device = ObjectId("device", self.instance)
        count: int | None = None
        if self.info is not None and not self.info.can_segment_responses:
            count = await self._object_count(device)
        if count is None or _APDU_OVERHEAD + 12 + 5 * count <= (self.info or _NO_INFO).max_apdu:
            try:
                whole = await self.read_property(device, "object-list")
            except (BacnetAbortError, BacnetRejectError) as err:
                if err.reason not in _TOO_BIG:
                    raise
            else:
                return [item for item in _as_tuple(whole) if isinstance(item, ObjectId)]
        if count is None:
            count = await self._object_count(device)
        objects = []
        for index in range(1, count + 1):
            item = await self.read_property(device, "object-list", index)
            if isinstance(item, ObjectId):
                objects.append(item)
        return objects

    async def _object_count(self, device: ObjectId) -> int:
        count = await self.read_property(device, "object-list", 0)
        if not isinstance(count, int) or isinstance(count, bool):
            raise BacnetError(f"object-list size of {device} is not a number: {count!r}")
        return count

    async def read_properties(
        self, requests: Sequence[tuple[ObjectId, Sequence[str]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError]:
        """Read many properties of many objects, as few requests as the device allows.

        ReadPropertyMultiple in batches that fit the device's max APDU; a batch the device
        cannot answer whole is split, down to ReadProperty of single properties, and a device
        that rejects RPM is read property by property from then on. Each property maps to its
        value or to the error the device gave for it. A timeout raises BacnetTimeoutError.
        """
        wanted = [(oid, tuple(props)) for oid, props in requests if props]
        results: dict[tuple[ObjectId, str], PropertyValue | BacnetError] = {}
        for batch in _plan_batches(wanted, self._budget()):
            results.update(await self._read_batch(batch))
        return results

    def _budget(self) -> int:
        if self.info is None:
            return _UNKNOWN_MAX_APDU
        if self.info.can_segment_responses:
            return self.info.max_apdu * 4
        return self.info.max_apdu

    async def _read_batch(
        self, batch: list[tuple[ObjectId, tuple[str, ...]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError]:
        if self.rpm_supported is False:
            return await self._read_singly(batch)
        try:
            results = await self._read_multiple(batch)
        except BacnetError as err:
            if self._splits(err):
                return await self._split(batch)
            if isinstance(err, BacnetTimeoutError) or not self._reads_singly(err):
                raise
            return await self._read_singly(batch)
        if results is None:
            return await self._read_singly(batch)
        self.rpm_supported = True
        return results

    async def _read_multiple(
        self, batch: list[tuple[ObjectId, tuple[str, ...]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError] | None:
        """One ReadPropertyMultiple: the poll's decoded by hand, the rest by bacpypes3.

        None: the answer was no ReadPropertyMultiple-ACK (read the batch singly).
        """
        if self.hand_decoded_polls is not False and all(
            is_poll_request(oid.type, props) for oid, props in batch
        ):
            decoded = await self._read_poll_batch(batch)
            if decoded is not None:
                return decoded
        parameters: list[Any] = []
        for oid, props in batch:
            parameters.append(_bacnet_object_id(oid))
            parameters.append([PropertyIdentifier(prop) for prop in props])
        raw = await self._call(
            lambda: self._network.app.read_property_multiple(
                self._address, list(parameters), vendor_info=_ASHRAE
            )
        )
        results = _rpm_results(raw)
        if results is None:
            # bacpypes3 gives None for an answer that is not a ReadPropertyMultiple-ACK.
            _LOGGER.debug("device %s answered RPM with %s", self.instance, type(raw).__name__)
        return results

    async def _read_poll_batch(
        self, batch: list[tuple[ObjectId, tuple[str, ...]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError] | None:
        """The poll's batch, encoded and decoded by hand; None: the answer was not its shape.

        Errors, rejects and aborts raise as from bacpypes3's read, for _read_batch to handle.
        """
        service_data = encode_request([(oid.type, oid.instance, props) for oid, props in batch])
        ack = await self._call(
            lambda: self._network.app.request_raw_ack(self._address, service_data)
        )
        data = getattr(ack, "pduData", None)  # a SimpleACK to an RPM has none
        decoded = decode_ack(bytes(data)) if isinstance(data, bytes | bytearray) else None
        asked = {(oid.type, oid.instance, prop) for oid, props in batch for prop in props}
        if decoded is None or {(t, i, p) for t, i, p, _ in decoded} != asked:
            # A device answering in another datatype or shape: bacpypes3 reads it from now on.
            _LOGGER.debug("%s: poll answer not in the expected shape; decoding it generally", self)
            self.hand_decoded_polls = False
            return None
        self.hand_decoded_polls = True
        results: dict[tuple[ObjectId, str], PropertyValue | BacnetError] = {}
        for object_type, instance, prop, value in decoded:
            oid = ObjectId(object_type, instance)
            results[oid, prop] = _polled(oid, value)
        return results

    @staticmethod
    def _splits(err: BacnetError) -> bool:
        """The answer would not fit: ask for half at a time."""
        return isinstance(err, BacnetRejectError | BacnetAbortError) and err.reason in _TOO_BIG

    def _reads_singly(self, err: BacnetError) -> bool:
        """Whether a failed RPM is worth reading again property by property."""
        if isinstance(err, BacnetRejectError):
            if err.reason not in _NO_RPM_REJECTS:
                return False
            self.rpm_supported = False
            return True
        if isinstance(err, BacnetDeviceError):
            if err.error_code in _NO_RPM_ERRORS:
                self.rpm_supported = False
            return True  # also an RPM whose every object is unknown: single reads say which
        if isinstance(err, BacnetDecodeError):
            # One object's value of the wrong type spoils the whole answer: read singly, so
            # that only that property fails (and the device stays available).
            _LOGGER.debug("RPM answer of device %s undecodable: %s", self.instance, err)
            return True
        return False

    async def _split(
        self, batch: list[tuple[ObjectId, tuple[str, ...]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError]:
        if len(batch) > 1:
            halves = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
        else:
            oid, props = batch[0]
            if len(props) == 1:
                return await self._read_singly(batch)
            halves = [[(oid, props[: len(props) // 2])], [(oid, props[len(props) // 2 :])]]
        results: dict[tuple[ObjectId, str], PropertyValue | BacnetError] = {}
        for half in halves:
            results.update(await self._read_batch(half))
        return results

    async def _read_singly(
        self, batch: list[tuple[ObjectId, tuple[str, ...]]]
    ) -> dict[tuple[ObjectId, str], PropertyValue | BacnetError]:
        results: dict[tuple[ObjectId, str], PropertyValue | BacnetError] = {}
        for oid, props in batch:
            for prop in props:
                try:
                    results[oid, prop] = await self.read_property(oid, prop)
                except BacnetTimeoutError:
                    raise
                except BacnetError as err:
                    results[oid, prop] = err
        return results

    async def read_objects(self, object_ids: Iterable[ObjectId]) -> dict[ObjectId, ObjectInfo]:
        """Name, description, units, present value, status, commandability and state texts."""
        requests = [(oid, _metadata_properties(oid)) for oid in object_ids]
        values = await self.read_properties(requests)

        def get(oid: ObjectId, prop: str) -> PropertyValue:
            value = values.get((oid, prop))
            return None if isinstance(value, BacnetError) else value

        infos: dict[ObjectId, ObjectInfo] = {}
        for oid, props in requests:
            name, description, units = (
                get(oid, p) for p in ("object-name", "description", "units")
            )
            flags = get(oid, "status-flags")
            texts = get(oid, "state-text")
            has_default = "relinquish-default" in props and not isinstance(
                values.get((oid, "relinquish-default")), BacnetError | None
            )
            infos[oid] = ObjectInfo(
                object_id=oid,
                name=name if isinstance(name, str) else None,
                description=description if isinstance(description, str) else None,
                units=units if isinstance(units, str) else None,
                present_value=_present(oid, get(oid, "present-value")),
                status_flags=flags if isinstance(flags, StatusFlags) else None,
                commandable=has_default,
                state_texts=(tuple(str(t) for t in texts) if isinstance(texts, tuple) else None),
                relinquish_default=_present(oid, get(oid, "relinquish-default")),
            )
        return infos

    async def read_present_values(
        self, object_ids: Iterable[ObjectId]
    ) -> dict[ObjectId, PointReading]:
        """The poll: present value and status flags of each object, batched."""
        requests = [(oid, ("present-value", "status-flags")) for oid in object_ids]
        values = await self.read_properties(requests)
        readings: dict[ObjectId, PointReading] = {}
        for oid, _props in requests:
            present = values.get((oid, "present-value"), _MISSING)
            flags = values.get((oid, "status-flags"))
            readings[oid] = PointReading(
                oid,
                None if isinstance(present, BacnetError) else _present(oid, present),
                flags if isinstance(flags, StatusFlags) else None,
                present if isinstance(present, BacnetError) else None,
            )
        return readings

    async def read_priority_array(self, object_id: ObjectId) -> tuple[PresentValue, ...]:
        """The 16 slots of a commandable object's priority array (None: relinquished)."""
        value = await self.read_property(object_id, "priority-array")
        return tuple(_present(object_id, slot) for slot in _as_tuple(value))

    async def write_present_value(
        self, object_id: ObjectId, value: float | bool | int, priority: int
    ) -> None:
        """Command a present value at a priority (1 highest .. 16 lowest)."""
        _check_priority(priority)
        await self._write(object_id, _encode_present(object_id, value), priority)

    async def relinquish(self, object_id: ObjectId, priority: int) -> None:
        """Write null at the priority: give the point back to lower priorities."""
        _check_priority(priority)
        await self._write(object_id, Null(()), priority)

    async def _write(self, object_id: ObjectId, value: Any, priority: int) -> None:
        oid = _bacnet_object_id(object_id)
        pid = PropertyIdentifier("present-value")
        await self._call(
            lambda: self._network.app.write_property(
                self._address, oid, pid, value, priority=priority
            )
        )

    # --- change of value ---

    async def subscribe_cov(
        self,
        object_id: ObjectId,
        callback: CovCallback,
        *,
        lifetime_s: int = 300,
        confirmed: bool = False,
    ) -> CovSubscription:
        """SubscribeCOV; ``callback`` gets each notification as a PointReading.

        Renewed at 3/4 of ``lifetime_s`` (0: no lifetime, never renewed) and after the device
        restarts. Raises the device's error if it refuses (e.g. no COV for the object type).
        """
        if lifetime_s < 0:
            raise ValueError("lifetime_s must be 0 (indefinite) or positive")
        process_id = self._unconfirmed_process_ids.pop(object_id, None)
        if process_id is None:
            process_id = self._network._next_process_id()
        subscription = CovSubscription(
            self,
            object_id,
            callback,
            lifetime_s=lifetime_s,
            confirmed=confirmed,
            process_id=process_id,
        )
        self._network._register_subscription(subscription)
        try:
            await self._subscribe(subscription)
        except BaseException as err:
            # Refused, a bad object, or the caller gave up (cancelled) while the device may
            # still accept it: nobody holds this subscription, so its notifications are dropped.
            self._network._unregister_subscription(subscription)
            if not isinstance(err, BacnetError) or isinstance(err, BacnetTimeoutError):
                self._unconfirmed_process_ids[object_id] = subscription.process_id
            raise
        self._subscriptions.append(subscription)
        if lifetime_s:
            subscription._renewal = self._spawn(self._renew(subscription))
        return subscription

    async def _subscribe(self, subscription: CovSubscription) -> None:
        request = SubscribeCOVRequest(
            subscriberProcessIdentifier=subscription.process_id,
            monitoredObjectIdentifier=_bacnet_object_id(subscription.object_id),
            issueConfirmedNotifications=subscription.confirmed,
            lifetime=subscription.lifetime_s,
            destination=self._address,
        )
        try:
            await self._call(lambda: self._network.app.request(request))
        except BacnetError as err:
            subscription.active = False
            subscription.last_error = err
            raise
        subscription.active = True
        subscription.last_error = None

    async def _renew(self, subscription: CovSubscription) -> None:
        delay = subscription.lifetime_s * 0.75
        while True:
            await asyncio.sleep(delay)
            try:
                await self._subscribe(subscription)
            except BacnetError as err:
                _LOGGER.debug("COV renewal of %s failed: %s", subscription.object_id, err)
                delay = max(1.0, min(60.0, subscription.lifetime_s / 4))
            else:
                delay = subscription.lifetime_s * 0.75

    async def resubscribe(self) -> None:
        """Subscribe every COV subscription again (after a device restart)."""
        if self._resubscribing:
            return
        self._resubscribing = True
        try:
            for subscription in list(self._subscriptions):
                try:
                    await self._subscribe(subscription)
                except BacnetTimeoutError:
                    return  # still away; the next answer triggers another round
                except BacnetError as err:
                    _LOGGER.debug("resubscribe %s failed: %s", subscription.object_id, err)
        finally:
            self._resubscribing = False

    async def unsubscribe_cov(self, subscription: CovSubscription) -> None:
        """Cancel a subscription: stop renewing, and tell the device (best effort)."""
        renewal, subscription._renewal = subscription._renewal, None
        if renewal is not None and renewal is not asyncio.current_task():
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        self._network._unregister_subscription(subscription)
        subscription.active = False
        request = SubscribeCOVRequest(
            subscriberProcessIdentifier=subscription.process_id,
            monitoredObjectIdentifier=_bacnet_object_id(subscription.object_id),
            destination=self._address,
        )
        with contextlib.suppress(BacnetError):
            await self._call(lambda: self._network.app.request(request))

    async def close(self) -> None:
        """Cancel this client's subscriptions (best effort) and forget it."""
        for subscription in list(self._subscriptions):
            await self.unsubscribe_cov(subscription)
        await self.cancel_tasks()
        self._network._forget(self)

    async def cancel_tasks(self) -> None:
        """Stop renewals and pending resubscriptions, and wait until they have stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self._tasks.clear()
        for subscription in self._subscriptions:
            subscription._renewal = None
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


# --- helpers -----------------------------------------------------------------------------


def _as_tuple(value: PropertyValue) -> tuple[PropertyValue, ...]:
    return value if isinstance(value, tuple) else ()


def _check_priority(priority: int) -> None:
    if not 1 <= priority <= 16:
        raise ValueError(f"BACnet priority must be 1..16, not {priority}")


def _metadata_properties(object_id: ObjectId) -> tuple[str, ...]:
    if object_id.type not in VALUE_OBJECT_TYPES:
        return ("object-name", "description")
    props = ["object-name", "description", "present-value", "status-flags"]
    if object_id.type.startswith("analog-"):
        props.append("units")
    if object_id.is_multistate:
        props.append("state-text")
    if not object_id.type.endswith("-input"):
        # Present on every commandable object, absent otherwise: cheaper than the array.
        props.append("relinquish-default")
    return tuple(props)


def _plan_batches(
    requests: list[tuple[ObjectId, tuple[str, ...]]], budget: int
) -> list[list[tuple[ObjectId, tuple[str, ...]]]]:
    """Group requests so each ReadPropertyMultiple's answer (and request) fits ``budget``."""
    batches: list[list[tuple[ObjectId, tuple[str, ...]]]] = []
    current: list[tuple[ObjectId, tuple[str, ...]]] = []
    size = _APDU_OVERHEAD
    for oid, props in requests:
        cost = _OBJECT_OVERHEAD + sum(_RESULT_SIZE.get(p, 24) for p in props)
        if current and size + cost > budget:
            batches.append(current)
            current, size = [], _APDU_OVERHEAD
        current.append((oid, props))
        size += cost
    if current:
        batches.append(current)
    return batches
