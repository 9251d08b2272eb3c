"""A TCP proxy that counts Modbus TCP requests (MBAP frames) and bytes, for the benchmarks.

One ``CountingProxy`` listens on 127.0.0.1 (a free port) and forwards every connection to one
upstream address, unchanged. It splits what clients send into MBAP frames (7-byte header whose
length field covers the unit id and the PDU) and keeps, per request, the time it was sent;
bytes are counted both ways. Give each client its own proxy to count them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import time

MBAP_HEADER = 7  # transaction id (2), protocol id (2), length (2), unit id (1)


@dataclass
class Counts:
    """What went through a proxy since the last reset."""

    requests: int = 0
    bytes_up: int = 0  # client to device
    bytes_down: int = 0  # device to client
    request_times: list[float] = field(default_factory=list)  # time.monotonic() of each
    response_times: list[float] = field(default_factory=list)  # of each chunk received


def frames(buffer: bytearray) -> int:
    """Remove the complete MBAP frames at the start of buffer; return how many there were."""
    count = 0
    while len(buffer) >= MBAP_HEADER:
        length = int.from_bytes(buffer[4:6], "big")
        size = 6 + length
        if len(buffer) < size:
            break
        del buffer[:size]
        count += 1
    return count


class CountingProxy:
    """``await start()``, then clients connect to ``port``; ``counts`` holds the figures."""

    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.counts = Counts()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def reset(self) -> Counts:
        """The counts so far; counting starts again from zero."""
        counts, self.counts = self.counts, Counts()
        return counts

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        tasks = [
            asyncio.create_task(self._pump(reader, up_writer, upward=True)),
            asyncio.create_task(self._pump(up_reader, writer, upward=False)),
        ]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)
            self._tasks.difference_update(tasks)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upward: bool
    ) -> None:
        buffer = bytearray()
        while data := await reader.read(65536):
            now = time.monotonic()
            counts = self.counts
            if upward:
                counts.bytes_up += len(data)
                buffer += data
                for _ in range(frames(buffer)):
                    counts.requests += 1
                    counts.request_times.append(now)
            else:
                counts.bytes_down += len(data)
                counts.response_times.append(now)
            writer.write(data)
            await writer.drain()


def scan_durations(counts: Counts, gap_s: float) -> list[float]:
    """Wall time of each scan: requests closer than gap_s form one scan, from its first
    request to the last response that came before the next scan began."""
    requests = sorted(counts.request_times)
    responses = sorted(counts.response_times)
    scans: list[list[float]] = []
    for t in requests:
        if scans and t - scans[-1][-1] < gap_s:
            scans[-1].append(t)
        else:
            scans.append([t])
    durations = []
    for i, scan in enumerate(scans):
        limit = scans[i + 1][0] if i + 1 < len(scans) else float("inf")
        last = max((r for r in responses if scan[0] <= r < limit), default=scan[-1])
        durations.append(last - scan[0])
    return durations
