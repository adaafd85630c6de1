"""The local repository: atomic writes, ranged reads, listing, deletion, confinement."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest
from crc32c import crc32c

from polytrack_server.artifacts import local
from polytrack_server.artifacts.local import (
    CHECKSUM_ATTRIBUTE,
    TEMPORARY_PREFIX,
    WRITE_BACK_INTERVAL,
    LocalArtifactRepository,
)
from polytrack_server.errors import InvalidParameter, NotFound


def test_write_read_list_delete(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path / "root")
    assert repository.list("") is None
    assert repository.write("a/b/c.bin", [b"abc", b"def"]) == 6
    assert repository.write("a/empty", []) == 0
    with repository.open_read("a/b/c.bin", 2, 3) as reader:
        assert reader.file_size == 6
        assert b"".join(reader.chunks(1)) == b"cde"
    assert [(e.path, e.is_dir, e.file_size) for e in repository.list("a") or []] == [
        ("a/b", True, None),
        ("a/empty", False, 0),
    ]
    assert repository.list("a/empty") is None
    stat = repository.stat("a/b/c.bin")
    assert stat is not None and stat.size == 6 and stat.etag.startswith('"6-')
    repository.delete("a/b")
    repository.delete("a/missing")
    assert repository.list("a") is not None and repository.size("a/b/c.bin") is None
    with pytest.raises(NotFound):
        repository.open_read("a/b/c.bin")
    with pytest.raises(InvalidParameter):
        repository.open_read("a")


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.txt", [b"old"])

    def broken() -> list[bytes]:
        raise OSError("connection lost")

    with pytest.raises(OSError), repository.open_write("f.txt") as writer:
        writer.write(b"new but partial")
        broken()
    assert (tmp_path / "f.txt").read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMPORARY_PREFIX)]


def test_overwrite_is_atomic_replacement(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.txt", [b"one"])
    with repository.open_write("f.txt") as writer:
        writer.write(b"two")
        assert (tmp_path / "f.txt").read_bytes() == b"one"  # not visible before commit
        writer.commit()
    assert (tmp_path / "f.txt").read_bytes() == b"two"


def test_symlink_out_of_the_root_is_neither_read_written_nor_deleted(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s3cr3t")
    (root / "link").symlink_to(outside)
    repository = LocalArtifactRepository(root)
    for operation in (
        lambda: repository.open_read("link/secret"),
        lambda: repository.write("link/new", [b"x"]),
        lambda: repository.delete("link/secret"),
        lambda: repository.list("link"),
    ):
        with pytest.raises(InvalidParameter):
            operation()
    assert [e.path for e in repository.list("") or []] == []  # the link is not listed either
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "s3cr3t"


def test_a_large_write_is_handed_to_disk_as_it_goes_and_stays_invisible_until_commit(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("big.bin", [b"old"])
    chunk = bytes(range(256)) * 4096  # 1 MiB
    count = 2 * WRITE_BACK_INTERVAL // len(chunk) + 3  # past two write-back points
    with repository.open_write("big.bin") as writer:
        for index in range(count):
            writer.write(chunk[index:] + chunk[:index])
        assert (tmp_path / "big.bin").read_bytes() == b"old"
        assert writer.commit() == count * len(chunk)
    expected = b"".join(chunk[index:] + chunk[:index] for index in range(count))
    assert (tmp_path / "big.bin").read_bytes() == expected
    with repository.open_read("big.bin", len(chunk) - 5, 10) as reader:
        assert reader.read() == expected[len(chunk) - 5 : len(chunk) + 5]
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_checksum_given_at_commit_is_kept_while_the_file_is_unchanged(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    data = b"model weights" * 1000
    checksum = crc32c(data)
    with repository.open_write("m.bin") as writer:
        writer.write(data)
        writer.commit(crc32c=checksum)
    with repository.open_read("m.bin") as reader:
        assert reader.crc32c == checksum
    # Rewritten in place behind the server's back (same size, new modification time): not trusted.
    time.sleep(0.01)
    (tmp_path / "m.bin").write_bytes(data[::-1])
    with repository.open_read("m.bin") as reader:
        assert reader.crc32c is None
    # Replaced through the repository without a checksum: none either.
    repository.write("m.bin", [data])
    with repository.open_read("m.bin") as reader:
        assert reader.crc32c is None


def test_a_checksum_computed_by_a_reader_is_kept_for_later_readers(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.txt", [b"abc"])
    with repository.open_read("f.txt") as reader:
        assert reader.crc32c is None
        reader.remember_crc32c(crc32c(b"abc"))
    with repository.open_read("f.txt") as reader:
        assert reader.crc32c == crc32c(b"abc")
    # Something that is not a 32-bit checksum is never kept.
    repository.write("g.txt", [b"abc"])
    with repository.open_read("g.txt") as reader:
        reader.remember_crc32c(2**32)
    with repository.open_read("g.txt") as reader:
        assert reader.crc32c is None


def test_a_checksum_kept_in_another_form_is_ignored(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.txt", [b"abc"])
    stamp = os.stat(tmp_path / "f.txt")
    for tag in (b"garbage", f"{stamp.st_size}:{stamp.st_mtime_ns}:1234567".encode()):
        try:
            os.setxattr(tmp_path / "f.txt", CHECKSUM_ATTRIBUTE, tag)
        except OSError:
            pytest.skip("no user extended attributes on this filesystem")
        with repository.open_read("f.txt") as reader:
            assert reader.crc32c is None


def test_a_checksum_is_not_kept_when_the_file_changed_while_it_was_read(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.txt", [b"abc"])
    with repository.open_read("f.txt") as reader:
        assert reader.read() == b"abc"
        with open(tmp_path / "f.txt", "ab") as handle:  # appended to by someone else meanwhile
            handle.write(b"d")
        reader.remember_crc32c(crc32c(b"abc"))
    with repository.open_read("f.txt") as reader:
        assert reader.crc32c is None


def test_without_extended_attributes_checksums_are_simply_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", unsupported)
    monkeypatch.setattr(os, "getxattr", unsupported)
    repository = LocalArtifactRepository(tmp_path)
    with repository.open_write("m.bin") as writer:
        writer.write(b"data")
        assert writer.commit(crc32c=crc32c(b"data")) == 4
    with repository.open_read("m.bin") as reader:
        assert reader.crc32c is None
        assert reader.read() == b"data"


def test_skip_moves_within_the_range_and_stops_at_its_end(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    repository.write("f.bin", [bytes(range(100))])
    with repository.open_read("f.bin", 10, 50) as reader:
        reader.skip(5)
        assert reader.read(3) == bytes([15, 16, 17])
        reader.skip(1000)
        assert reader.read() == b""


def test_write_all_stores_many_buffers_in_order_without_joining_them(tmp_path: Path) -> None:
    repository = LocalArtifactRepository(tmp_path)
    # More buffers than one writev call takes, some empty, of uneven sizes, and a memoryview.
    chunks = [bytes([index % 256]) * (index % 7) for index in range(2500)]
    chunks.append(memoryview(b"tail"))  # type: ignore[arg-type]
    with repository.open_write("many.bin") as writer:
        writer.write(b"head")
        writer.write_all(chunks)
        assert writer.bytes_written == 4 + sum(len(chunk) for chunk in chunks)
        writer.commit()
    assert (tmp_path / "many.bin").read_bytes() == b"head" + b"".join(bytes(chunk) for chunk in chunks)


class RecordedFlushes:
    """Stands in for fdatasync: records the file's size at each flush and the thread it ran on;
    `gate`, while cleared, holds a flush back; `failure` is raised by every flush."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.failure: OSError | None = None

    def __call__(self, descriptor: int) -> None:
        assert self.gate.wait(10)
        self.threads.add(threading.current_thread().name)
        self.sizes.append(os.fstat(descriptor).st_size)
        if self.failure is not None:
            raise self.failure


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> RecordedFlushes:
    recorded = RecordedFlushes()
    monkeypatch.setattr(local, "_flush_data", recorded)
    monkeypatch.setattr(local, "SYNC_INTERVAL", 1024 * 1024)
    return recorded


def test_a_large_write_is_flushed_in_the_background_one_flush_at_a_time(
    tmp_path: Path, flushes: RecordedFlushes
) -> None:
    flushes.gate.clear()  # the flush due at 1 MiB is held back until the end
    repository = LocalArtifactRepository(tmp_path)
    chunk = b"x" * (256 * 1024)
    committed: list[int] = []
    with repository.open_write("big.bin") as writer:
        for _ in range(21):  # 5.25 MiB: a flush is due every 1 MiB
            writer.write(chunk)  # never waits for the held flush
        # The commit waits for the flush still running before its own fsync.
        commit = threading.Thread(target=lambda: committed.append(writer.commit()))
        commit.start()
        commit.join(0.2)
        assert commit.is_alive() and committed == []
        flushes.gate.set()
        commit.join(10)
    assert committed == [21 * len(chunk)]
    assert (tmp_path / "big.bin").stat().st_size == 21 * len(chunk)
    # Requests at 2 to 5 MiB found the first flush running and queued no other; it ran on the
    # writer's own thread.
    assert len(flushes.sizes) == 1
    assert all(name.startswith("polytrack-sync") for name in flushes.threads)


def test_a_small_write_starts_no_background_flush(tmp_path: Path, flushes: RecordedFlushes) -> None:
    LocalArtifactRepository(tmp_path).write("small.txt", [b"a" * 1000])
    assert flushes.sizes == [] and (tmp_path / "small.txt").read_bytes() == b"a" * 1000


def test_a_failed_background_flush_fails_the_upload_and_stores_nothing(
    tmp_path: Path, flushes: RecordedFlushes
) -> None:
    flushes.failure = OSError(errno.EIO, "Input/output error")
    repository = LocalArtifactRepository(tmp_path)
    with pytest.raises(OSError, match="Input/output error"), repository.open_write("big.bin") as writer:
        for _ in range(8):
            writer.write(b"x" * (256 * 1024))
        writer.commit()
    assert list(tmp_path.iterdir()) == []


def test_an_abort_waits_for_a_running_flush_before_closing_the_file(
    tmp_path: Path, flushes: RecordedFlushes
) -> None:
    flushes.gate.clear()
    writer = LocalArtifactRepository(tmp_path).open_write("big.bin")
    for _ in range(5):
        writer.write(b"x" * (256 * 1024))  # the flush due at 1 MiB is now held back
    aborted = threading.Thread(target=writer.abort)
    aborted.start()
    aborted.join(0.2)
    assert aborted.is_alive(), "abort closed the file under a running flush"
    flushes.gate.set()
    aborted.join(10)
    assert not aborted.is_alive() and list(tmp_path.iterdir()) == []
    # The held-back flush saw the open file, all written (fstat fails on a closed descriptor).
    assert flushes.sizes == [5 * 256 * 1024]
