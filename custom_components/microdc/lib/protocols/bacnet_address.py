"""A BACnet/IP address as typed (``host[:port]``) made into an IPv4 ``a.b.c.d:port``.

bacpypes3 resolves a host name itself, with a blocking lookup, and raises a bare RuntimeError
when it fails; so names are resolved here first, with the event loop's getaddrinfo (run in
its executor), and the transport only ever sees literal addresses.

The subentry keeps what the user typed: a plant network without DHCP reservations often names
its controllers, and a name keeps working when the controller's address changes; the site
resolves it again at each start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

DEFAULT_BACNET_PORT = 47808  # 0xBAC0, BACnet/IP's own UDP port (ASHRAE 135, annex J)

# RFC 1123 labels; a name of digits and dots only is a mistyped IPv4 address, not a name.
_HOST_NAME = re.compile(
    r"^(?=.*[A-Za-z-])[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?$"
)


class InvalidAddressError(ValueError):
    """Not an IPv4 address, nor a host name, with an optional port."""


class UnresolvedHostError(ValueError):
    """A well-formed host name that the network's name service does not know."""


def split_host_port(address: str) -> tuple[str, int | None]:
    """``host[:port]`` as host and port (None when left out); InvalidAddressError if neither."""
    address = address.strip()
    host, sep, port_text = address.rpartition(":")
    if not sep:
        host, port_text = address, ""
    elif not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidAddressError(f"not a port: {port_text!r}")
    if not host:
        raise InvalidAddressError("no host")
    return host, int(port_text) if port_text else None


def is_host_name(address: str) -> bool:
    """Whether ``address`` names its host rather than giving it as a literal."""
    try:
        host, _port = split_host_port(address)
    except InvalidAddressError:
        return False
    return _HOST_NAME.match(host) is not None


async def async_resolve(address: str) -> str:
    """``a.b.c.d:port`` for ``host[:port]`` (port 47808 when left out), without blocking.

    Literal forms bacpypes3 knows (``a.b.c.d/prefix:port`` for a subnet's broadcast, a network
    number prefix) pass through unchanged for the transport to judge.
    """
    host, port = split_host_port(address)
    port = DEFAULT_BACNET_PORT if port is None else port
    if ":" in host or "/" in host:
        return f"{host}:{port}"
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        pass
    else:
        return f"{host}:{port}"
    if _HOST_NAME.match(host) is None:
        raise InvalidAddressError(f"not an IPv4 address or host name: {host!r}")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
        )
    except (OSError, UnicodeError) as err:
        raise UnresolvedHostError(f"{host}: {err}") from err
    if not infos:
        raise UnresolvedHostError(f"{host}: no IPv4 address")
    resolved = str(infos[0][4][0])
    return f"{resolved}:{port}"
