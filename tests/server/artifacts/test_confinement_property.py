"""Property: no path, however hostile, makes the artifact service touch anything outside its root.

Paths are built from the pieces attacks are made of (dot segments, separators, percent-encodings
of them at several depths, drive letters, NUL, `?`, `#`); each is used for an upload, a download,
a listing and a delete. Afterwards the files outside the destination must be exactly as before.
"""

from __future__ import annotations

from pathlib import Path

from crc32c import crc32c
from hypothesis import given, settings
from hypothesis import strategies as st

from polytrack.v1 import artifacts_service_pb2 as art
from polytrack_server.artifacts.roots import ArtifactRoots
from polytrack_server.errors import PolytrackError
from polytrack_server.services.artifacts import ArtifactsServicer

PIECES = [
    "..", ".", "/", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%25", "%252e", "%252f", "%00", "\x00",
    "C:", "c:", "?", "#", "etc", "passwd", "secret.txt", "a", "link", "~", " ", "é",
]  # fmt: skip


def _outside(base: Path, destination: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(base)): p.read_bytes()
        for p in base.rglob("*")
        if p.is_file() and destination not in p.parents
    } | {
        str(p.relative_to(base)) + "/": b""
        for p in base.rglob("*")
        if p.is_dir() and p != destination and destination not in p.parents
    }


class _NoRuns:
    def get_run(self, run_id: str) -> object:
        raise AssertionError("no run-relative calls here")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join))
def test_hostile_paths_never_escape(tmp_path_factory: object, path: str) -> None:
    base: Path = tmp_path_factory.mktemp("confine")  # type: ignore[attr-defined]
    destination = base / "dest"
    (destination / "a").mkdir(parents=True)
    (base / "secret.txt").write_text("s3cr3t")
    (base / "etc").mkdir()
    (base / "etc" / "passwd").write_text("root:x")
    (destination / "link").symlink_to(base)
    servicer = ArtifactsServicer(ArtifactRoots.local(destination), _NoRuns())  # type: ignore[arg-type]
    before = _outside(base, destination)
    payload = b"pwned"
    upload = [
        art.UploadArtifactRequest(path=path, data=payload),
        art.UploadArtifactRequest(crc32c=crc32c(payload)),
    ]
    operations = [
        lambda: servicer.upload_artifact(iter(upload)),
        lambda: b"".join(
            art.DownloadArtifactResponse.FromString(raw).data
            for raw in servicer.download_artifact(art.DownloadArtifactRequest(path=path))
        ),
        lambda: servicer.list_artifact_files(art.ListArtifactFilesRequest(path=path)),
        lambda: servicer.delete_artifact(art.DeleteArtifactRequest(path=path)),
    ]
    for operation in operations:
        try:
            result = operation()
        except PolytrackError:
            continue
        if isinstance(result, bytes):
            assert result in (b"", payload)
        elif isinstance(result, art.ListArtifactFilesResponse):
            assert not {f.path for f in result.files} & {"secret.txt", "passwd", "etc", "dest"}
    assert _outside(base, destination) == before
