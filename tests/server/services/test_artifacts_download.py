"""DownloadArtifact on the servicer itself: a resumed download of a file without a kept checksum
reads the skipped part to checksum the whole file, and stops if the file shrank meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path

from crc32c import crc32c

from polytrack.v1 import artifacts_service_pb2 as art
from polytrack_server.artifacts.roots import ArtifactRoots
from polytrack_server.services.artifacts import ArtifactsServicer


class _NoRuns:
    def get_run(self, run_id: str) -> object:
        raise AssertionError("no run-relative calls here")


def _servicer(destination: Path) -> ArtifactsServicer:
    return ArtifactsServicer(ArtifactRoots.local(destination), _NoRuns())  # type: ignore[arg-type]


def _messages(raws: list[bytes]) -> list[art.DownloadArtifactResponse]:
    return [art.DownloadArtifactResponse.FromString(raw) for raw in raws]


def test_a_resumed_download_sends_the_whole_files_checksum(tmp_path: Path) -> None:
    content = bytes(range(256)) * 100
    (tmp_path / "f.bin").write_bytes(content)
    messages = _messages(
        list(_servicer(tmp_path).download_artifact(art.DownloadArtifactRequest(path="f.bin", offset=1000)))
    )
    assert b"".join(m.data for m in messages) == content[1000:]
    assert messages[0].file_size == len(content) and messages[-1].crc32c == crc32c(content)


def test_a_file_shrunk_during_a_resumed_download_ends_it_with_a_checksum_that_cannot_match(
    tmp_path: Path,
) -> None:
    content = bytes(range(256)) * 100
    (tmp_path / "f.bin").write_bytes(content)
    # Opened (and sized) first, as the gRPC edge does; the file shrinks before it is read.
    responses = _servicer(tmp_path).download_artifact(
        art.DownloadArtifactRequest(path="f.bin", offset=20_000)
    )
    (tmp_path / "f.bin").write_bytes(content[:500])
    collected: list[bytes] = []
    reader = threading.Thread(target=lambda: collected.extend(responses), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "the download kept reading a file that had shrunk"
    messages = _messages(collected)
    assert b"".join(m.data for m in messages) == b""
    assert messages[-1].crc32c == crc32c(content[:500]) != crc32c(content)
