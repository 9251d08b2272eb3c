"""The BACnet/IP stack under the simulator's BACnet device, with a switch to cut it off.

bacpypes3's ``NormalApplication`` wires an application to one UDP socket. The simulator needs
the same stack with two additions, so it is assembled here from the same parts:

- a gate on the datagram server: while the device is "offline" every packet in and out is
  dropped, so a client sees silence (a timeout), exactly as with an unplugged controller,
  instead of the abort that dropping a request higher up the stack would produce; and a delay
  on incoming packets for slow replies;
- a hook that counts incoming requests per service, for the control API's counters;
- a COV table of a set size (``cov_table_size``; None: unlimited): a new subscription beyond
  it is refused with error class resources, code no-space-to-add-list-element (ASHRAE 135
  clause 13.14.1.3.2), as a small controller with a fixed table does; renewals and
  cancellations of existing subscriptions are always taken.

bacpypes3 ships no type hints; everything it returns is ``Any`` and stays inside this module
and bacnet_device.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
import socket
from typing import Any

from bacpypes3.apdu import AbortPDU, AbortReason, ComplexAckPDU  # type: ignore[import-untyped]
from bacpypes3.app import Application  # type: ignore[import-untyped]
from bacpypes3.appservice import ApplicationServiceAccessPoint  # type: ignore[import-untyped]
from bacpypes3.basetypes import Segmentation  # type: ignore[import-untyped]
from bacpypes3.comm import bind  # type: ignore[import-untyped]
from bacpypes3.errors import (  # type: ignore[import-untyped]
    ExecutionError,
    UnrecognizedService,
)
from bacpypes3.ipv4 import IPv4DatagramServer  # type: ignore[import-untyped]
from bacpypes3.ipv4.bvll import BVLLCodec  # type: ignore[import-untyped]
from bacpypes3.ipv4.service import BIPNormal, UDPMultiplexer  # type: ignore[import-untyped]
from bacpypes3.netservice import (  # type: ignore[import-untyped]
    NetworkServiceAccessPoint,
    NetworkServiceElement,
)
from bacpypes3.pdu import IPv4Address  # type: ignore[import-untyped]

# Request PDU class name -> the service name the control API reports.
SERVICE_NAMES = {
    "WhoIsRequest": "who-is",
    "ReadPropertyRequest": "read-property",
    "ReadPropertyMultipleRequest": "read-property-multiple",
    "WritePropertyRequest": "write-property",
    "SubscribeCOVRequest": "subscribe-cov",
}


def free_udp_port(host: str) -> int:
    """Return a UDP port on ``host`` that nothing holds right now.

    bacpypes3 turns off the broadcast listener for an ephemeral (port 0) socket and does not
    tell which port it got, so a port-0 request is resolved to a concrete port first.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _GatedServer(IPv4DatagramServer):  # type: ignore[misc]
    """A datagram server that drops every packet while ``is_open()`` is false and holds each
    incoming one for ``delay_s()`` seconds (each datagram is handled in its own task)."""

    def __init__(
        self, address: Any, is_open: Callable[[], bool], delay_s: Callable[[], float]
    ) -> None:
        super().__init__(address)
        self._is_open = is_open
        self._delay_s = delay_s
        self._held: set[asyncio.Task[Any] | None] = set()

    async def indication(self, pdu: Any) -> None:
        if self._is_open():
            await super().indication(pdu)

    async def confirmation(self, pdu: Any) -> None:
        if not self._is_open():
            return
        delay = self._delay_s()
        if delay > 0:
            task = asyncio.current_task()
            self._held.add(task)
            try:
                await asyncio.sleep(delay)
            finally:
                self._held.discard(task)
            if not self._is_open():
                return
        await super().confirmation(pdu)

    def close(self) -> None:
        for task in list(self._held):
            if task is not None:
                task.cancel()
        super().close()


class _GatedLinkLayer(BIPNormal):  # type: ignore[misc]
    """bacpypes3's normal BACnet/IP link layer, on a gated datagram server."""

    def __init__(
        self, address: Any, is_open: Callable[[], bool], delay_s: Callable[[], float]
    ) -> None:
        BIPNormal.__init__(self)
        self.codec = BVLLCodec()
        self.multiplexer = UDPMultiplexer()
        self.server = _GatedServer(address, is_open, delay_s)
        bind(self, self.codec, self.multiplexer.annexJ)
        bind(self.multiplexer, self.server)

    def close(self) -> None:
        self.server.close()


class DeviceApplication(Application):  # type: ignore[misc]
    """One BACnet/IP device's application: its objects, services and one UDP socket.

    Requires a running event loop (bacpypes3 opens the socket in a task).
    """

    def __init__(
        self,
        device_object: Any,
        host: str,
        port: int,
        is_open: Callable[[], bool],
        delay_s: Callable[[], float],
    ) -> None:
        Application.__init__(self)
        # host/8 on loopback (host/24 elsewhere) gives the socket a broadcast address, so the
        # device also hears Who-Is sent by local broadcast where the OS delivers it.
        prefix = 8 if host.startswith("127.") else 24
        local_address = IPv4Address(f"{host}/{prefix}:{port}")
        self.asap = ApplicationServiceAccessPoint(device_object, self.device_info_cache)
        self.nsap = NetworkServiceAccessPoint()
        self.nse = NetworkServiceElement()
        bind(self.nse, self.nsap)
        bind(self, self.asap, self.nsap)
        self.link = _GatedLinkLayer(local_address, is_open, delay_s)
        self.nsap.bind(self.link, address=local_address)
        self.add_object(device_object)
        self.request_counts: Counter[str] = Counter()
        self.rpm_enabled = True
        # Objects that refuse SubscribeCOV, as controllers that offer COV on a few objects do.
        self.cov_refused: set[tuple[str, int]] = set()
        self.cov_table_size: int | None = None
        self.cov_refusals = 0

    async def indication(self, apdu: Any) -> None:
        name = type(apdu).__name__
        self.request_counts[SERVICE_NAMES.get(name, name)] += 1
        await super().indication(apdu)

    async def do_ReadPropertyMultipleRequest(self, apdu: Any) -> None:  # noqa: N802
        # A device without the service rejects it as unrecognized (clause 5.4.5.3).
        if not self.rpm_enabled:
            raise UnrecognizedService("read-property-multiple is switched off")
        await super().do_ReadPropertyMultipleRequest(apdu)

    async def response(self, apdu: Any) -> None:
        # bacpypes3 limits a response only by the client's max APDU. A controller that cannot
        # segment is also limited by its own buffer (its max APDU), and aborts what does not fit.
        device = self.device_object
        if (
            isinstance(apdu, ComplexAckPDU)
            and device.segmentationSupported == Segmentation.noSegmentation
            and len(apdu.encode().pduData) > device.maxApduLengthAccepted
        ):
            abort = AbortPDU(True, apdu.apduInvokeID, AbortReason.segmentationNotSupported)
            abort.pduDestination = apdu.pduDestination
            apdu = abort
        await super().response(apdu)

    async def do_SubscribeCOVRequest(self, apdu: Any) -> None:  # noqa: N802
        object_id = apdu.monitoredObjectIdentifier
        if (str(object_id[0]), int(object_id[1])) in self.cov_refused:
            # An object that does not do COV, as controllers that offer it on a few objects.
            raise ExecutionError(
                errorClass="services", errorCode="optionalFunctionalityNotSupported"
            )
        size = self.cov_table_size
        cancel = apdu.issueConfirmedNotifications is None and apdu.lifetime is None
        if size is not None and not cancel and self.cov_subscription_count() >= size:
            detection = self._cov_detections.get(apdu.monitoredObjectIdentifier)
            renewal = detection is not None and any(
                cov.client_addr == apdu.pduSource
                and cov.proc_id == apdu.subscriberProcessIdentifier
                for cov in detection.cov_subscriptions
            )
            if not renewal:
                self.cov_refusals += 1
                raise ExecutionError(errorClass="resources", errorCode="noSpaceToAddListElement")
        await super().do_SubscribeCOVRequest(apdu)

    def cov_subscription_count(self) -> int:
        """How many COV subscriptions the device holds (its table's entries)."""
        return sum(len(d.cov_subscriptions) for d in self._cov_detections.values())

    def get_services_supported(self) -> Any:
        supported = super().get_services_supported()
        if not self.rpm_enabled:
            supported[supported.readPropertyMultiple] = 0
        return supported

    def subscribers(self) -> set[Any]:
        """The addresses that hold a COV subscription on any object of this device."""
        return {
            cov.client_addr
            for detection in self._cov_detections.values()
            for cov in detection.cov_subscriptions
        }

    def drop_subscriptions(self) -> None:
        """Forget every COV subscription, as a controller does when it restarts."""
        for detection in list(self._cov_detections.values()):
            for cov in list(detection.cov_subscriptions):
                self.cancel_subscription(cov)

    def close(self) -> None:
        self.link.close()
