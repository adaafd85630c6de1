"""polytrack's Python client moving artifacts through a live server: REST (polytrack or MLflow) and
gRPC (polytrack), with round trips of binary, empty, nested and unicode-named files, a 50 MB file,
and the memory of client and server staying flat while a large file streams through."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import ServerHandle

from polytrack import Client

pytestmark = pytest.mark.e2e

MEMORY_FILE_SIZE = 256 * 1024 * 1024
MEMORY_LIMIT = 100 * 1024 * 1024


def _uris(live_server: ServerHandle) -> list[str]:
    uris = [live_server.url]
    if live_server.grpc_target:
        uris.append(f"grpc://{live_server.grpc_target}")
    return uris


@pytest.fixture(params=["rest", "grpc"])
def client(request: pytest.FixtureRequest, live_server: ServerHandle) -> Iterator[Client]:
    if request.param == "grpc" and not live_server.grpc_target:
        pytest.skip(f"the {live_server.kind} server has no gRPC port")
    uri = live_server.url if request.param == "rest" else f"grpc://{live_server.grpc_target}"
    with Client(uri) as opened:
        yield opened


def _tree(base: Path) -> Path:
    source = base / "source"
    (source / "nested" / "deeper").mkdir(parents=True)
    (source / "binary.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (source / "empty.txt").write_bytes(b"")
    (source / "nested" / "résumé ü.txt").write_text("unicode ✓", encoding="utf-8")
    (source / "nested" / "deeper" / "100%.json").write_text('{"a": 1}')
    return source


def _new_run(client: Client) -> str:
    experiment = client.create_experiment(f"artifacts-{uuid.uuid4().hex}")
    return client.create_run(experiment).info.run_id


def test_directory_round_trip(client: Client, tmp_path: Path) -> None:
    run_id = _new_run(client)
    source = _tree(tmp_path)
    client.log_artifacts(run_id, source, "tree")
    client.log_artifact(run_id, source / "binary.bin")
    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("binary.bin", False), ("tree", True)]
    nested = client.list_artifacts(run_id, "tree/nested")
    assert [(f.path, f.file_size) for f in nested] == [
        ("tree/nested/deeper", None),
        ("tree/nested/résumé ü.txt", len("unicode ✓".encode())),
    ]
    downloaded = Path(client.download_artifacts(run_id, "tree", tmp_path / "out"))
    assert downloaded == tmp_path / "out" / "tree"
    comparison = filecmp.dircmp(source, downloaded)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    assert (downloaded / "nested" / "deeper" / "100%.json").read_text() == '{"a": 1}'
    single = Path(client.download_artifacts(run_id, "tree/empty.txt", tmp_path / "single"))
    assert single.read_bytes() == b""


def test_fifty_megabytes(client: Client, tmp_path: Path) -> None:
    run_id = _new_run(client)
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        for _ in range(50):
            handle.write(os.urandom(1024 * 1024))
    client.log_artifact(run_id, big, "large")
    out = Path(client.download_artifacts(run_id, "large/big.bin", tmp_path / "out"))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()


def test_missing_artifact_is_not_found(client: Client, tmp_path: Path) -> None:
    run_id = _new_run(client)
    with pytest.raises(Exception, match=r"RESOURCE_DOES_NOT_EXIST|ENDPOINT_NOT_FOUND|NOT_FOUND"):
        client.download_artifacts(run_id, "nope.txt", tmp_path)


def _peak_server_rss(live_server: ServerHandle) -> int:
    status = Path(f"/proc/{live_server.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


CLIENT_SCRIPT = """
import json, resource, sys
from pathlib import Path
from polytrack import Client
uri, run_id, big, out = sys.argv[1:]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with Client(uri) as client:
    client.log_artifacts(run_id, big, "memory")  # warm everything up on a tiny file first
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    client.log_artifact(run_id, Path(big) / "large.bin")
    client.download_artifacts(run_id, "large.bin", out)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline": baseline, "peak": peak}))
"""


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs /proc to read the server's peak RSS"
)
def test_memory_stays_flat_while_streaming(live_server: ServerHandle, tmp_path: Path) -> None:
    if live_server.kind != "polytrack":
        pytest.skip("measures polytrack's server")
    source = tmp_path / "big"
    source.mkdir()
    (source / "warm.txt").write_text("warm")
    chunk = os.urandom(1024 * 1024)
    with (source / "large.bin").open("wb") as handle:
        for _ in range(MEMORY_FILE_SIZE // len(chunk)):
            handle.write(chunk)
    for uri in _uris(live_server):
        with Client(uri) as client:
            run_id = _new_run(client)
            client.log_artifact(run_id, source / "warm.txt")
            client.download_artifacts(run_id, "warm.txt", tmp_path / "warm")
        server_before = _peak_server_rss(live_server)
        out = tmp_path / f"out-{uri.split(':')[0]}"
        finished = subprocess.run(
            [sys.executable, "-c", CLIENT_SCRIPT, uri, run_id, str(source), str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        measured = json.loads(finished.stdout.strip().splitlines()[-1])
        server_growth = _peak_server_rss(live_server) - server_before
        client_growth = measured["peak"] - measured["baseline"]
        assert (out / "large.bin").stat().st_size == MEMORY_FILE_SIZE
        assert client_growth < MEMORY_LIMIT, f"{uri}: client grew {client_growth / 2**20:.0f} MiB"
        assert server_growth < MEMORY_LIMIT, f"{uri}: server grew {server_growth / 2**20:.0f} MiB"
        (out / "large.bin").unlink()
