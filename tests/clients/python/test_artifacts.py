"""Artifacts through `polytrack.Client`, the fluent functions, `polytrack.artifacts` and the CLI, on
every transport (REST and gRPC to a live server, the embedded store writing to local disk)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest
from live_server import ServerHandle

import polytrack
from polytrack._run_context import state
from polytrack.cli import main
from polytrack.client import Client
from polytrack.errors import PolytrackException


@pytest.fixture(autouse=True)
def fresh_fluent_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> object:
    monkeypatch.setenv("POLYTRACK_ARTIFACTS_DESTINATION", str(tmp_path / "artifacts"))
    state.reset()
    yield
    state.reset()


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/tracking.db"


def _run(client: Client) -> str:
    return client.create_run(client.create_experiment(f"art-{uuid.uuid4().hex}")).info.run_id


def test_client_round_trip(tracking_uri: str, tmp_path: Path) -> None:
    with Client(tracking_uri) as client:
        run_id = _run(client)
        (tmp_path / "src" / "sub").mkdir(parents=True)
        (tmp_path / "src" / "a.bin").write_bytes(bytes(range(256)) * 1000)
        (tmp_path / "src" / "sub" / "ü.txt").write_text("ü")
        client.log_artifacts(run_id, tmp_path / "src", "out")
        client.log_artifact(run_id, tmp_path / "src" / "a.bin")
        assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
            ("a.bin", False),
            ("out", True),
        ]
        assert [f.path for f in client.list_artifacts(run_id, "out/sub")] == ["out/sub/ü.txt"]
        local = Path(client.download_artifacts(run_id, "out", tmp_path / "dl"))
        assert (local / "a.bin").read_bytes() == bytes(range(256)) * 1000
        assert (local / "sub" / "ü.txt").read_text() == "ü"
        for hostile in ("../x", "/etc", "a/../../b", "C:/x"):
            with pytest.raises(PolytrackException):
                client.log_artifact(run_id, tmp_path / "src" / "a.bin", hostile)
            with pytest.raises(PolytrackException):
                client.download_artifacts(run_id, hostile, tmp_path / "dl2")
        assert not (tmp_path / "x").exists()


def test_a_file_larger_than_the_transfer_buffers_round_trips_and_leaves_no_partial_files(
    tracking_uri: str, tmp_path: Path
) -> None:
    # 9.5 MiB of varied bytes: several download buffers and gRPC messages, the last one partial.
    data = hashlib.sha256(b"seed").digest() * (19 * 1024 * 1024 // 2 // 32)
    (tmp_path / "big.bin").write_bytes(data)
    with Client(tracking_uri) as client:
        run_id = _run(client)
        client.log_artifact(run_id, tmp_path / "big.bin", "d")
        client.log_artifact(run_id, tmp_path / "big.bin", "d")  # a repeated upload simply succeeds
        target = tmp_path / "dl"
        local = Path(client.download_artifacts(run_id, "d/big.bin", target))
        assert local.read_bytes() == data
        assert sorted(entry.name for entry in local.parent.iterdir()) == ["big.bin"]
        with pytest.raises(PolytrackException):
            client.download_artifacts(run_id, "d/missing.bin", target)
        assert sorted(entry.name for entry in local.parent.iterdir()) == ["big.bin"]


def test_a_grpc_download_of_bytes_damaged_on_the_server_fails_and_leaves_no_file(
    grpc_uri: str, live_server: ServerHandle, tmp_path: Path
) -> None:
    name = f"{uuid.uuid4().hex}.bin"
    (tmp_path / name).write_bytes(bytes(range(256)) * 4096)
    with Client(grpc_uri) as client:
        run_id = _run(client)
        client.log_artifact(run_id, tmp_path / name)
        [stored] = (live_server.log_path.parent / "artifacts").rglob(name)
        # Damaged in place with size and modification time unchanged, as bit rot would leave it: the
        # server still sends the checksum recorded at upload, and the client's check catches it.
        before = stored.stat()
        damaged = bytearray(stored.read_bytes())
        damaged[-1] ^= 1
        stored.write_bytes(damaged)
        os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
        with pytest.raises(PolytrackException) as failure:
            client.download_artifacts(run_id, name, tmp_path / "dl")
        assert failure.value.error_code == "DATA_LOSS" and name in str(failure.value)
        assert not (tmp_path / "dl").exists() or not list((tmp_path / "dl").iterdir())


def test_fluent_functions(tracking_uri: str, tmp_path: Path) -> None:
    polytrack.set_tracking_uri(tracking_uri)
    polytrack.set_experiment(f"fluent-art-{uuid.uuid4().hex}")
    (tmp_path / "f.txt").write_text("file")
    with polytrack.start_run() as run:
        polytrack.log_artifact(tmp_path / "f.txt", "files")
        polytrack.log_text("text ✓", "notes/t.txt")
        polytrack.log_dict({"a": [1, 2]}, "d.json")
        assert polytrack.load_text("notes/t.txt") == "text ✓"
        assert polytrack.load_dict("d.json") == {"a": [1, 2]}
        assert [f.path for f in polytrack.list_artifacts()] == ["d.json", "files", "notes"]
    run_id = run.info.run_id
    out = polytrack.artifacts.download_artifacts(
        run_id=run_id, artifact_path="files", dst_path=tmp_path / "o"
    )
    assert (Path(out) / "f.txt").read_text() == "file"
    assert polytrack.load_text("notes/t.txt", run_id=run_id) == "text ✓"


def test_optional_packages_fail_clearly(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def missing(name: str, *args: object) -> object:
        if name.startswith(("PIL", "matplotlib", "yaml")):
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", missing)
    polytrack.set_tracking_uri(sqlite_uri)
    with polytrack.start_run():
        with pytest.raises(PolytrackException, match="Pillow"):
            polytrack.log_image(object(), "i.png")
        with pytest.raises(PolytrackException, match="matplotlib"):
            polytrack.log_figure(object(), "f.png")
        with pytest.raises(PolytrackException, match="PyYAML"):
            polytrack.log_dict({}, "c.yaml")


def test_cli(sqlite_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Client(sqlite_uri) as client:
        run_id = _run(client)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "x.txt").write_text("x")
    assert (
        main(
            [
                "artifacts",
                "log",
                "--tracking-uri",
                sqlite_uri,
                run_id,
                str(tmp_path / "up"),
                "--artifact-path",
                "d",
            ]
        )
        == 0
    )
    assert main(["artifacts", "list", "--tracking-uri", sqlite_uri, "--json", run_id, "--path", "d"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing == {"files": [{"path": "d/x.txt", "is_dir": False, "file_size": 1}]}
    assert (
        main(["artifacts", "download", "--tracking-uri", sqlite_uri, run_id, "--dst", str(tmp_path / "dl")])
        == 0
    )
    assert (tmp_path / "dl" / "d" / "x.txt").read_text() == "x"
    assert main(["artifacts", "download", "--tracking-uri", sqlite_uri, run_id, "--path", "../x"]) == 1
