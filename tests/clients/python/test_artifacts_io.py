"""The download pipeline: a writer thread storing chunks while the next ones arrive, with a bounded
queue between them."""

from __future__ import annotations

import io
import threading
from typing import BinaryIO, cast

import pytest
from crc32c import CRC32CHash, crc32c

from polytrack._artifacts_io import MAX_PENDING_CHUNKS, READ_BUFFER_SIZE, PipelinedWriter, copy_stream


class _GatedFile(io.BytesIO):
    """A file whose writes wait for `opened`, counting the chunks they received."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = threading.Event()
        self.writes = 0

    def write(self, data: object) -> int:
        assert self.opened.wait(10)
        self.writes += 1
        return super().write(data)  # type: ignore[arg-type]


def test_chunks_are_written_in_order_and_checksummed() -> None:
    target = io.BytesIO()
    checksum = CRC32CHash()
    chunks = [bytes([index]) * (1000 + index) for index in range(50)]
    with PipelinedWriter(target, checksum) as writer:
        for chunk in chunks:
            writer.write(chunk)
    assert target.getvalue() == b"".join(chunks)
    assert checksum.checksum == crc32c(b"".join(chunks))


def test_a_slow_disk_holds_back_the_receiver() -> None:
    target = _GatedFile()
    submitted = 0

    def receive() -> None:
        nonlocal submitted
        with PipelinedWriter(cast(BinaryIO, target)) as writer:
            for _ in range(20):
                writer.write(b"x" * 1000)
                submitted += 1

    receiver = threading.Thread(target=receive)
    receiver.start()
    receiver.join(0.5)
    # One chunk in the writer's hands, the queue full, one waiting to be queued: no more.
    assert receiver.is_alive() and submitted <= MAX_PENDING_CHUNKS + 1
    target.opened.set()
    receiver.join(10)
    assert submitted == 20 and target.writes == 20 and len(target.getvalue()) == 20_000


def test_a_write_failure_reaches_the_receiver() -> None:
    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"), PipelinedWriter(Full()) as writer:
        for _ in range(100):
            writer.write(b"x")


def test_copy_stream_copies_exactly_the_limit_through_reused_buffers() -> None:
    data = bytes(range(256)) * (3 * READ_BUFFER_SIZE // 256 + 17)
    source = io.BytesIO(data + b"trailing bytes of the next response")
    target = io.BytesIO()
    assert copy_stream(source.readinto, target, len(data)) == len(data)
    assert target.getvalue() == data
    source = io.BytesIO(data)
    target = io.BytesIO()
    assert copy_stream(source.readinto, target, None) == len(data)
    assert target.getvalue() == data


def test_copy_stream_reports_a_write_failure_instead_of_waiting_for_buffers() -> None:
    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    source = io.BytesIO(b"x" * (20 * READ_BUFFER_SIZE))
    with pytest.raises(OSError, match="No space left"):
        copy_stream(source.readinto, Full(), None)
