"""A peer that answers with garbage: every failure is a ModbusError, and the connection
recovers (the next good answer is read).

The peer is a raw asyncio TCP server on 127.0.0.1 (pymodbus's server cannot send malformed
frames): for each request it sends the bytes Hypothesis drew, then, once told to behave, a
correct MBAP reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import os
import struct

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.microdc.lib.protocols.modbus import (
    Endpoint,
    ModbusConnection,
    ModbusError,
    Table,
)

CASES = int(os.environ.get("MICRODC_FUZZ_FRAME_EXAMPLES", "40"))


class GarbagePeer:
    """Answers the next request with ``garbage`` (then hangs up if ``hang_up``), else well."""

    def __init__(self) -> None:
        self.garbage: bytes | None = None
        self.hang_up = False
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                garbage, self.garbage = self.garbage, None
                if garbage is not None:
                    writer.write(garbage)
                    await writer.drain()
                    if self.hang_up:
                        break
                    continue
                count = struct.unpack(">H", pdu[3:5])[0]
                body = bytes([pdu[0], 2 * count]) + b"\x00\x2a" * count
                writer.write(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
                await writer.drain()
        except asyncio.IncompleteReadError, ConnectionError, struct.error:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def peer(socket_enabled: None) -> AsyncIterator[tuple[GarbagePeer, ModbusConnection]]:
    garbage = GarbagePeer()
    port = await garbage.start()
    connection = ModbusConnection(
        Endpoint("127.0.0.1", port), timeout=0.2, backoff_initial=0.0, backoff_max=0.0
    )
    yield garbage, connection
    await connection.close()
    await garbage.stop()


def _mbap(tid: int, unit: int, body: bytes, length_delta: int = 0) -> bytes:
    return (
        struct.pack(">HHHB", tid & 0xFFFF, 0, (len(body) + 1 + length_delta) & 0xFFFF, unit) + body
    )


FRAMES = st.one_of(
    st.binary(max_size=40),  # noise
    st.builds(  # a well-formed header around a random body
        _mbap, st.integers(0, 3), st.integers(0, 255), st.binary(max_size=20), st.integers(-3, 3)
    ),
    st.builds(  # truncated: the header promises more than comes
        lambda body: _mbap(1, 1, body, 10)[: 7 + len(body)], st.binary(max_size=8)
    ),
    st.builds(  # an exception reply with any code, or a wrong function code
        lambda fc, code: _mbap(1, 1, bytes([fc, code])), st.integers(0, 255), st.integers(0, 255)
    ),
)


@settings(
    max_examples=CASES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frame=FRAMES, hang_up=st.booleans())
async def test_garbage_is_a_modbus_error_and_the_connection_recovers(
    peer: tuple[GarbagePeer, ModbusConnection], frame: bytes, hang_up: bool
) -> None:
    garbage, connection = peer
    garbage.garbage, garbage.hang_up = frame, hang_up
    try:
        words = await connection.read(1, Table.HOLDING, 0, 2)
    except ModbusError:
        pass
    else:  # garbage that happens to be a valid answer must be the answer it claims
        assert len(words) == 2
    garbage.hang_up = False
    # A generous timeout for the good answer: on a loaded machine 0.2 s is not always enough,
    # and a slow good answer is not what this test is about.
    assert await connection.read(1, Table.HOLDING, 0, 2, timeout_s=5.0) == [42, 42]
