"""Whether two Modbus hosts are one machine: ``127.0.0.1`` and ``localhost``, say.

A Modbus device's unique id keeps the host as typed (changing it would orphan users' entities),
so the flow compares the addresses both hosts resolve to as well, with the event loop's
getaddrinfo (run in its executor: nothing blocks Home Assistant).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket


async def async_host_addresses(host: str) -> frozenset[str]:
    """The IP addresses of a host (itself when it is a literal); empty when it does not resolve."""
    host = host.strip()
    try:
        return frozenset({str(ipaddress.ip_address(host))})
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError, UnicodeError:
        return frozenset()
    return frozenset(str(info[4][0]) for info in infos)


async def async_same_host(first: str, second: str) -> bool:
    """Whether two hosts are written alike or resolve to a common address."""
    if first.strip().lower() == second.strip().lower():
        return True
    first_addresses = await async_host_addresses(first)
    return bool(first_addresses & await async_host_addresses(second))
