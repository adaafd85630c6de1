"""Writing a downloaded artifact to disk while the next bytes arrive.

Receiving (a socket read, a gRPC message) and storing (a file write, a CRC-32C update) both release
the GIL, so a download overlaps them: the receiving thread hands each chunk to a writer thread
through a queue of at most `MAX_PENDING_CHUNKS` entries. Memory stays bounded by that queue, and a
slow disk holds back the network rather than piling chunks up in memory.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, BinaryIO

MAX_PENDING_CHUNKS = 4
READ_BUFFER_SIZE = 4 * 1024 * 1024
# Written bytes are handed to the kernel for write-back every this many bytes.
WRITE_BACK_INTERVAL = 8 * 1024 * 1024

_DONE = None


class _WriteBack:
    """Starts write-back of a file's new bytes as they are written and drops their cached pages.

    Left alone, a large download piles up as dirty page cache, and on memory-constrained machines
    the kernel throttles the writer long before that is flushed; POSIX_FADV_DONTNEED starts the
    write-back without waiting (and drops pages already clean), which keeps the cost per byte flat.
    A no-op where the call, or a file descriptor, is missing.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._descriptor: int | None = None
        if hasattr(os, "posix_fadvise"):
            try:
                self._descriptor = handle.fileno()
            except (AttributeError, OSError, io.UnsupportedOperation):
                self._descriptor = None
        self._written = 0
        self._written_back = 0

    def wrote(self, count: int) -> None:
        self._written += count
        if self._descriptor is None or self._written - self._written_back < WRITE_BACK_INTERVAL:
            return
        self._handle.flush()
        # Pages of the previous interval were being written back last time: drop them now.
        start = max(0, self._written_back - WRITE_BACK_INTERVAL)
        os.posix_fadvise(self._descriptor, start, self._written - start, os.POSIX_FADV_DONTNEED)
        self._written_back = self._written


class PipelinedWriter:
    """Appends chunks to `handle` (and feeds them to `checksum`, when given) on a writer thread.

    `write` blocks while `MAX_PENDING_CHUNKS` chunks wait; leaving the `with` block waits for every
    chunk to be written and re-raises a failure of the writer thread. `on_written`, when given, is
    called on the writer thread with each chunk once it is stored (to recycle its buffer).
    """

    def __init__(
        self,
        handle: BinaryIO,
        checksum: Any | None = None,
        on_written: Callable[[memoryview], None] | None = None,
    ) -> None:
        self._handle = handle
        self._write_back = _WriteBack(handle)
        self._checksum = checksum
        self._on_written = on_written
        self._pending: queue.Queue[memoryview | bytes | None] = queue.Queue(MAX_PENDING_CHUNKS)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="polytrack-artifact-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._pending.get()
            if chunk is _DONE:
                return
            # After a failure the queue is still drained (and buffers recycled), so that the
            # receiving side never blocks on it before it sees the failure.
            if self._failure is None:
                try:
                    self._handle.write(chunk)
                    self._write_back.wrote(len(chunk))
                    if self._checksum is not None:
                        self._checksum.update(chunk)
                except BaseException as failure:  # re-raised on the receiving thread
                    self._failure = failure
            if self._on_written is not None and isinstance(chunk, memoryview):
                self._on_written(chunk)

    def write(self, chunk: memoryview | bytes) -> None:
        if self._failure is not None:
            raise self._failure
        self._pending.put(chunk)

    def finish(self) -> None:
        """Wait until everything is written; raise the writer's failure, if any."""
        if self._thread.is_alive():
            self._pending.put(_DONE)
            self._thread.join()
        if self._failure is not None:
            raise self._failure

    def __enter__(self) -> PipelinedWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is None:
            self.finish()
            return
        # Already failing: stop the writer without masking the original error.
        self._failure = self._failure or error
        if self._thread.is_alive():
            self._pending.put(_DONE)
            self._thread.join()


def copy_stream(readinto: Callable[[memoryview], int], handle: BinaryIO, limit: int | None) -> int:
    """Copy what `readinto` yields (until it returns 0, or `limit` bytes) to `handle`, reading into a
    few reused buffers while the writer thread stores the previous ones; returns the bytes copied."""
    free: queue.Queue[memoryview] = queue.Queue()
    for _ in range(MAX_PENDING_CHUNKS + 2):
        free.put(memoryview(bytearray(READ_BUFFER_SIZE)))

    def recycle(chunk: memoryview) -> None:
        # `chunk` is a slice; its buffer is handed out again whole.
        free.put(memoryview(chunk.obj))

    copied = 0
    with PipelinedWriter(handle, on_written=recycle) as writer:
        while limit is None or copied < limit:
            buffer = free.get()
            wanted = READ_BUFFER_SIZE if limit is None else min(READ_BUFFER_SIZE, limit - copied)
            count = readinto(buffer[:wanted])
            if count <= 0:
                free.put(buffer)
                break
            copied += count
            writer.write(buffer[:count])
    return copied
