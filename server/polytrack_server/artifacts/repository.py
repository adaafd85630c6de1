"""The storage interface of artifacts, independent of where the bytes live.

Callers (servicers, HTTP routes) speak only to `ArtifactRepository` with clean relative paths
(see `paths.clean_relative_path`); an implementation maps them to its storage and must keep every
operation inside its root. `LocalArtifactRepository` stores files on a filesystem; an
S3-compatible store implements the same methods (a multipart upload behind `open_write`, ranged
GETs behind `open_read`) without any caller changing.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType

DEFAULT_CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: its path (as the caller asked for it), kind and size (files only)."""

    path: str
    is_dir: bool
    file_size: int | None


@dataclass(frozen=True, slots=True)
class FileStat:
    """Size and last modification (nanoseconds since the epoch) of a stored file."""

    size: int
    modified_ns: int

    @property
    def etag(self) -> str:
        """A strong entity tag, changing whenever the file is replaced."""
        return f'"{self.size:x}-{self.modified_ns:x}"'


class ArtifactWriter(abc.ABC):
    """A file being written: bytes are appended with `write`, and the file only becomes visible
    (replacing any earlier file at the path) on `commit`. `abort`, or leaving a `with` block on an
    exception, discards everything written."""

    @abc.abstractmethod
    def write(self, data: bytes | memoryview) -> None:
        """Append `data`."""

    def write_all(self, chunks: Sequence[bytes | memoryview]) -> None:
        """Append each of `chunks` in turn (an implementation may do it in one vectored write)."""
        for data in chunks:
            self.write(data)

    @abc.abstractmethod
    def commit(self, crc32c: int | None = None) -> int:
        """Make the file durable and visible at its path; returns its size.

        `crc32c` is the CRC-32C of everything written, when the caller computed it on the way in; a
        repository may keep it with the file (see `ArtifactReader.crc32c`).
        """

    @abc.abstractmethod
    def abort(self) -> None:
        """Discard the file; idempotent, and harmless after commit."""

    @property
    @abc.abstractmethod
    def bytes_written(self) -> int:
        """Bytes appended so far."""

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.abort()


class ArtifactReader(abc.ABC):
    """An open byte range of a stored file."""

    @property
    @abc.abstractmethod
    def file_size(self) -> int:
        """Size of the whole file."""

    @abc.abstractmethod
    def read(self, size: int = DEFAULT_CHUNK_SIZE) -> bytes:
        """Up to `size` next bytes of the range; b"" at its end."""

    @property
    def crc32c(self) -> int | None:
        """The CRC-32C of the whole file when the repository kept one that still matches it, else
        None (the caller computes it from the bytes)."""
        return None

    def remember_crc32c(self, crc32c: int) -> None:
        """Keep `crc32c`, computed by reading this whole file, for later readers. Best effort: a
        repository that cannot keep it, or whose file changed meanwhile, ignores it."""
        return None

    def skip(self, count: int) -> None:
        """Move `count` bytes further into the range without returning them."""
        while count > 0:
            data = self.read(min(count, DEFAULT_CHUNK_SIZE))
            if not data:
                return
            count -= len(data)

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    def chunks(self, size: int = DEFAULT_CHUNK_SIZE) -> Iterable[bytes]:
        """The rest of the range in chunks of at most `size` bytes."""
        while True:
            data = self.read(size)
            if not data:
                return
            yield data

    def __enter__(self) -> ArtifactReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class ArtifactRepository(abc.ABC):
    """Files and directories below one root, addressed by clean relative paths ("" = the root)."""

    @abc.abstractmethod
    def list(self, path: str) -> list[FileInfo] | None:
        """Entries directly under directory `path`, sorted by name, with paths relative to the root;
        None when `path` does not exist or is a file."""

    @abc.abstractmethod
    def is_dir(self, path: str) -> bool:
        """Whether `path` is an existing directory."""

    @abc.abstractmethod
    def stat(self, path: str) -> FileStat | None:
        """Size and modification time of file `path`; None when it is missing or a directory."""

    def size(self, path: str) -> int | None:
        """Size of file `path`; None when it is missing or a directory."""
        found = self.stat(path)
        return None if found is None else found.size

    @abc.abstractmethod
    def open_read(self, path: str, offset: int = 0, length: int | None = None) -> ArtifactReader:
        """Open bytes `[offset, offset + length)` (to the end when length is None) of file `path`.

        Raises NotFound when the file does not exist, InvalidParameter when it is a directory.
        """

    @abc.abstractmethod
    def open_write(self, path: str) -> ArtifactWriter:
        """Start writing file `path` (parents are created); nothing is visible before commit."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a directory tree; a missing path is not an error."""

    def write(self, path: str, chunks: Iterable[bytes]) -> int:
        """Store all of `chunks` at `path` atomically; returns the size."""
        with self.open_write(path) as writer:
            for chunk in chunks:
                writer.write(chunk)
            return writer.commit()
