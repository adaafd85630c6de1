"""Artifacts on a local (or mounted) filesystem, below one root directory.

Writes go to a hidden temporary file in the target's directory, are flushed and fsynced, then
renamed over the target, so readers see either the old file or the complete new one, never a
torn one, and a failed upload leaves nothing. A large upload is flushed to stable storage in
steps while it still arrives (`_BackgroundSync`), so the fsync that precedes the answer only waits
for the last step. Every path is confined with `paths.confined`, which
also refuses symbolic links leading out of the root.

A file's CRC-32C, once known (sent with a gRPC upload, or computed by a whole-file download), is
kept in an extended attribute of the file together with its size and modification time, so that
later gRPC downloads send it without computing it again; above all, a resumed download need not
read the part it skips to checksum the whole file. The attribute only counts while size and
modification time still match: a file changed behind the server's back is checksummed anew.
Filesystems without user extended attributes just checksum every time.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from polytrack_server.artifacts.paths import confined
from polytrack_server.artifacts.repository import (
    DEFAULT_CHUNK_SIZE,
    ArtifactReader,
    ArtifactRepository,
    ArtifactWriter,
    FileInfo,
    FileStat,
)
from polytrack_server.errors import InvalidParameter, NotFound

TEMPORARY_PREFIX = ".polytrack-upload-"
# Written bytes are handed to the kernel for write-back every this many bytes (see _LocalWriter).
WRITE_BACK_INTERVAL = 8 * 1024 * 1024
# A file being written is flushed to stable storage in the background every this many bytes.
SYNC_INTERVAL = 64 * 1024 * 1024
_flush_data = getattr(os, "fdatasync", os.fsync)
# Reads ask the kernel for the next this many bytes ahead of them (see _LocalReader.read).
READ_AHEAD = 16 * 1024 * 1024
_CAN_ADVISE = hasattr(os, "posix_fadvise")
# Buffers per writev call: Linux accepts at most 1024 (IOV_MAX).
_MAX_WRITE_BUFFERS = 1024
CHECKSUM_ATTRIBUTE = "user.polytrack.crc32c"
_CAN_TAG = hasattr(os, "setxattr")
_CHECKSUM_TAG = re.compile(rb"(\d+):(\d+):([0-9a-f]{8})")


class LocalArtifactRepository(ArtifactRepository):
    """Files below `root`, created on first write."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().absolute()

    def __repr__(self) -> str:
        return f"LocalArtifactRepository({str(self.root)!r})"

    def _path(self, path: str) -> Path:
        if not self.root.exists():
            # Nothing stored yet: resolve against the root as it will be.
            return self.root.joinpath(*path.split("/")) if path else self.root
        return confined(self.root, path)

    def list(self, path: str) -> list[FileInfo] | None:
        directory = self._path(path)
        if not directory.is_dir():
            return None
        entries: list[FileInfo] = []
        with os.scandir(directory) as scan:
            for entry in scan:
                if entry.name.startswith(TEMPORARY_PREFIX):
                    continue
                relative = f"{path}/{entry.name}" if path else entry.name
                try:
                    # Entries that are symbolic links leaving the root are not shown.
                    target = confined(self.root, relative)
                    info = target.stat()
                except (InvalidParameter, OSError):
                    continue
                is_dir = stat.S_ISDIR(info.st_mode)
                entries.append(FileInfo(relative, is_dir, None if is_dir else info.st_size))
        entries.sort(key=lambda item: item.path)
        return entries

    def is_dir(self, path: str) -> bool:
        return self._path(path).is_dir()

    def stat(self, path: str) -> FileStat | None:
        target = self._path(path)
        try:
            info = target.stat()
        except FileNotFoundError:
            return None
        return FileStat(info.st_size, info.st_mtime_ns) if stat.S_ISREG(info.st_mode) else None

    def open_read(self, path: str, offset: int = 0, length: int | None = None) -> ArtifactReader:
        target = self._path(path)
        if target.is_dir():
            raise InvalidParameter(f"Artifact {path!r} is a directory, not a file.")
        try:
            handle = target.open("rb")
        except FileNotFoundError:
            raise NotFound(f"Artifact {path!r} does not exist.") from None
        return _LocalReader(handle, offset, length)

    def open_write(self, path: str) -> ArtifactWriter:
        if not path:
            raise InvalidParameter("An artifact file needs a path below the root.")
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._path(path)
        if target.is_dir():
            raise InvalidParameter(f"Artifact path {path!r} is a directory; cannot write a file there.")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Creating the parents cannot have moved the target outside (they were confined first),
        # but a concurrent symlink swap could: check again now that they exist.
        target = confined(self.root, path)
        return _LocalWriter(target)

    def delete(self, path: str) -> None:
        target = self._path(path)
        if target == Path(os.path.realpath(self.root)):
            # Deleting the root empties it but keeps it.
            for child in list(target.iterdir()) if target.is_dir() else []:
                self._remove(child)
            return
        self._remove(target)

    @staticmethod
    def _remove(target: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


def _kept_checksum(descriptor: int, info: os.stat_result) -> int | None:
    """The CRC-32C kept with the open file, if it was kept for the file as it is now."""
    if not _CAN_TAG:
        return None
    try:
        tag = os.getxattr(descriptor, CHECKSUM_ATTRIBUTE)
    except OSError:
        return None
    found = _CHECKSUM_TAG.fullmatch(tag)
    if found is None or (int(found[1]), int(found[2])) != (info.st_size, info.st_mtime_ns):
        return None
    return int(found[3], 16)


def _keep_checksum(descriptor: int, crc32c: int) -> None:
    """Keep `crc32c` with the open file, stamped with its current size and modification time."""
    if not _CAN_TAG or not 0 <= crc32c <= 0xFFFFFFFF:
        return
    info = os.fstat(descriptor)
    tag = f"{info.st_size}:{info.st_mtime_ns}:{crc32c:08x}".encode()
    # Unsupported by the filesystem, read-only or not ours: the checksum is only an optimisation.
    with contextlib.suppress(OSError):
        os.setxattr(descriptor, CHECKSUM_ATTRIBUTE, tag)


class _LocalReader(ArtifactReader):
    def __init__(self, handle: BinaryIO, offset: int, length: int | None) -> None:
        self._handle = handle
        self._opened = os.fstat(handle.fileno())
        self._size = self._opened.st_size
        if offset < 0 or offset > self._size:
            handle.close()
            raise InvalidParameter(f"Offset {offset} is outside the file (size {self._size}).")
        handle.seek(offset)
        if _CAN_ADVISE:
            # Read ahead further: artifacts are read front to back in large chunks.
            os.posix_fadvise(handle.fileno(), offset, 0, os.POSIX_FADV_SEQUENTIAL)
        end = self._size if length is None else min(self._size, offset + max(0, length))
        self._remaining = end - offset
        self._advised_until = offset

    @property
    def file_size(self) -> int:
        return self._size

    def read(self, size: int = DEFAULT_CHUNK_SIZE) -> bytes:
        if self._remaining <= 0:
            return b""
        if _CAN_ADVISE and self._remaining > size:
            # Keep the disk busy with the next bytes while this chunk is sent: an upload's pages
            # are dropped from the cache as it is written, so a download often starts from disk,
            # and the kernel's own read-ahead is far shorter than a large artifact.
            position = self._handle.tell()
            if self._advised_until < position + READ_AHEAD // 2:
                start = max(self._advised_until, position + size)
                self._advised_until = position + READ_AHEAD
                os.posix_fadvise(
                    self._handle.fileno(), start, self._advised_until - start, os.POSIX_FADV_WILLNEED
                )
        data = self._handle.read(min(size, self._remaining))
        self._remaining -= len(data)
        return data

    @property
    def crc32c(self) -> int | None:
        return _kept_checksum(self._handle.fileno(), self._opened)

    def remember_crc32c(self, crc32c: int) -> None:
        now = os.fstat(self._handle.fileno())
        if (now.st_size, now.st_mtime_ns) == (self._opened.st_size, self._opened.st_mtime_ns):
            _keep_checksum(self._handle.fileno(), crc32c)

    def skip(self, count: int) -> None:
        step = max(0, min(count, self._remaining))
        self._handle.seek(step, os.SEEK_CUR)
        self._remaining -= step

    def close(self) -> None:
        self._handle.close()


class _BackgroundSync:
    """Flushes one open file to stable storage (fdatasync) on a thread of its own, one flush at a
    time, while the file is still being written.

    Making a gigabyte durable took this machine's (virtual) disk a second or more after the last
    byte had arrived: the fsync waited for the device to flush everything at once. Flushing in
    steps as the bytes arrive overlaps that with receiving them; the final fsync still follows the
    last write, so nothing is answered before all of it is durable. A failed flush is raised by
    `wait`, and so fails the commit.
    """

    def __init__(self, descriptor: int) -> None:
        self._descriptor = descriptor
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def request(self) -> None:
        """Start a flush of what is written so far, unless one is still running."""
        if self._pending is not None:
            if not self._pending.done():
                return
            self._pending.result()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="polytrack-sync")
        self._pending = self._executor.submit(_flush_data, self._descriptor)

    def wait(self) -> None:
        """Wait for the flush in progress, if any (before the file is committed or closed), and
        raise its failure."""
        executor, pending = self._executor, self._pending
        self._executor = self._pending = None
        if executor is None:
            return
        executor.shutdown(wait=True)
        if pending is not None:
            pending.result()


class _LocalWriter(ArtifactWriter):
    def __init__(self, target: Path) -> None:
        self._target = target
        descriptor, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=target.parent)
        self._temporary = Path(name)
        self._handle: BinaryIO | None = os.fdopen(descriptor, "wb")
        self._written = 0
        self._written_back = 0
        self._synced = 0
        self._sync = _BackgroundSync(descriptor)
        self._committed = False

    @property
    def bytes_written(self) -> int:
        return self._written

    def write(self, data: bytes | memoryview) -> None:
        self.write_all((data,))

    def write_all(self, chunks: Sequence[bytes | memoryview]) -> None:
        if self._handle is None:
            raise ValueError("The artifact writer is closed")
        # Straight from the received buffers, without joining them first (a copy of every byte).
        self._handle.flush()
        descriptor = self._handle.fileno()
        pending = [memoryview(data) for data in chunks if data]
        while pending:
            written = os.writev(descriptor, pending[:_MAX_WRITE_BUFFERS])
            self._written += written
            while pending and written >= len(pending[0]):
                written -= len(pending[0])
                pending.pop(0)
            if written:
                pending[0] = pending[0][written:]
        if _CAN_ADVISE and self._written - self._written_back >= WRITE_BACK_INTERVAL:
            self._write_back()
        if self._written - self._synced >= SYNC_INTERVAL:
            self._sync.request()
            self._synced = self._written

    def _write_back(self) -> None:
        """Start writing the new bytes to disk now and let the kernel drop the cached pages.

        Left alone, a large upload piles up as dirty page cache until the final fsync, which then
        writes it all at once, and the kernel may throttle the writer long before that. Asking for
        write-back as the bytes arrive (POSIX_FADV_DONTNEED starts it without waiting, and drops
        pages already clean) keeps the cost flat: on the benchmark machine a third of the CPU time
        per gigabyte, and a short fsync.
        """
        assert self._handle is not None
        self._handle.flush()
        # Pages of the previous interval were being written back last time: drop them now.
        start = max(0, self._written_back - WRITE_BACK_INTERVAL)
        os.posix_fadvise(self._handle.fileno(), start, self._written - start, os.POSIX_FADV_DONTNEED)
        self._written_back = self._written

    def commit(self, crc32c: int | None = None) -> int:
        handle = self._handle
        if handle is None:
            raise ValueError("The artifact writer is closed")
        handle.flush()
        if crc32c is not None:
            # After the last write, so that the stamped modification time is the final one.
            _keep_checksum(handle.fileno(), crc32c)
        self._sync.wait()
        os.fsync(handle.fileno())
        handle.close()
        self._handle = None
        os.chmod(self._temporary, 0o644)
        os.replace(self._temporary, self._target)
        self._committed = True
        return self._written

    def abort(self) -> None:
        if self._handle is not None:
            # Never close the descriptor under a flush still using it; its outcome no longer matters.
            with contextlib.suppress(OSError):
                self._sync.wait()
            self._handle.close()
            self._handle = None
        if not self._committed:
            with contextlib.suppress(FileNotFoundError):
                self._temporary.unlink()
