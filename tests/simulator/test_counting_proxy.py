"""The benchmarks' counting proxy: MBAP frames counted whole, however TCP splits them."""

from __future__ import annotations

from benchmarks.counting_proxy import frames


def _request(transaction: int) -> bytes:
    # Read holding registers 0..9 of unit 1: MBAP header (length 6 = unit + 5 PDU bytes) + PDU.
    return transaction.to_bytes(2, "big") + b"\x00\x00\x00\x06\x01\x03\x00\x00\x00\x0a"


def test_frames_are_counted_whole_across_chunks() -> None:
    stream = _request(1) + _request(2) + _request(3)
    buffer = bytearray(stream[:15])  # one frame and a part of the next
    assert frames(buffer) == 1
    assert len(buffer) == 3
    buffer += stream[15:]
    assert frames(buffer) == 2
    assert buffer == bytearray()
