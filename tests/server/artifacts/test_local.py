"""The local repository: atomic writes, ranged reads, listing, deletion, confinement."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytrack_server.artifacts.local import TEMPORARY_PREFIX, WRITE_BACK_INTERVAL, LocalArtifactRepository
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
