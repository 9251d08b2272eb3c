"""Fixtures of the BACnet transport tests: the simulator's device and microdc's network."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from custom_components.microdc.lib.protocols.bacnet import BacnetNetwork

from .test_bacnet import CONFIG, Site, start_site


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Site]:
    """The simulator's BACnet device with its model and fault board, on 127.0.0.1."""
    site = await start_site()
    yield site
    site.device.close()


@pytest.fixture
async def network(socket_enabled: None) -> AsyncIterator[BacnetNetwork]:
    """microdc's shared BACnet/IP network, released however often a test acquired it."""
    net = await BacnetNetwork.acquire(CONFIG)
    yield net
    while net.references:
        await net.release()
