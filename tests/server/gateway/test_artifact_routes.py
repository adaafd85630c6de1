"""The artifact proxy over REST, through the whole gateway of a real application (in process).

Requests are sent as raw ASGI messages so that hostile paths reach the server exactly as typed
(an HTTP client would normalise `../` away), and decoded once, as uvicorn decodes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from polytrack_server.app import Application, build_application
from polytrack_server.artifacts.local import _LocalWriter
from polytrack_server.config import ServerConfig
from polytrack_server.gateway.artifact_routes import (
    QUEUED_WRITES,
    WRITE_BUFFER_SIZE,
    content_disposition,
    parse_range,
)

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_PROXY = "/ajax-api/2.0/mlflow-artifacts/artifacts"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def http_scope(method: str, raw: str, headers: Sequence[tuple[str, str]] = ()) -> dict[str, object]:
    """The ASGI scope of a request for `raw` (path and query exactly as sent), decoded as uvicorn does."""
    raw_path, _, query = raw.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": urllib.parse.unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


def drop_upload(
    app: Application, raw: str, chunks: Sequence[bytes], headers: Sequence[tuple[str, str]] = ()
) -> None:
    """PUT `chunks` to `raw`, then drop the connection before the body is complete."""
    messages: list[dict[str, object]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    messages.append({"type": "http.disconnect"})

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        pass

    asyncio.run(app.gateway(http_scope("PUT", raw, headers), receive, send))  # type: ignore[arg-type]


def call(
    app: Application,
    method: str,
    raw: str,
    body: bytes | Sequence[bytes] = b"",
    headers: Sequence[tuple[str, str]] = (),
) -> Reply:
    chunks = [body] if isinstance(body, bytes) else list(body)
    scope = http_scope(method, raw, headers)
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # the client stays connected until the reply is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(app.gateway(scope, receive, send))  # type: ignore[arg-type]
    start = sent[0]
    reply_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}  # type: ignore[attr-defined]
    content = b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    return Reply(int(start["status"]), reply_headers, content)  # type: ignore[call-overload]


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[Application, Path]]:
    """An application storing under tmp/root/dest, with a secret beside the destination."""
    root = tmp_path / "root"
    destination = root / "dest"
    destination.mkdir(parents=True)
    (root / "secret.txt").write_text("s3cr3t")
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path}/db.sqlite", artifacts_destination=str(destination)
    )
    application = build_application(config)
    try:
        yield application, destination
    finally:
        application.close()


def test_a_body_of_many_chunks_is_stored_in_order_through_the_queued_writes(
    layout: tuple[Application, Path],
) -> None:
    app, destination = layout
    # Uneven chunks adding up to many write batches: more than QUEUED_WRITES wait at times.
    chunks = [bytes([index % 251]) * (300_000 + index * 1_000) for index in range(40)]
    assert sum(map(len, chunks)) > (QUEUED_WRITES + 2) * WRITE_BUFFER_SIZE
    assert call(app, "PUT", f"{PROXY}/q/many.bin", chunks).status == 200
    assert (destination / "q" / "many.bin").read_bytes() == b"".join(chunks)
    assert [entry.name for entry in (destination / "q").iterdir()] == ["many.bin"]


def test_put_get_list_delete_round_trip(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    data = bytes(range(256)) * 4096
    assert call(app, "PUT", f"{PROXY}/1/r/artifacts/dir/data.bin", [data[:1000], data[1000:]]).status == 200
    assert (destination / "1/r/artifacts/dir/data.bin").read_bytes() == data
    reply = call(app, "GET", f"{PROXY}/1/r/artifacts/dir/data.bin")
    assert reply.status == 200 and reply.body == data
    assert reply.headers["content-length"] == str(len(data))
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-disposition"] == 'attachment; filename="data.bin"'
    listing = call(app, "GET", f"{PROXY}?path=1/r/artifacts/dir")
    assert listing.json() == {"files": [{"path": "data.bin", "is_dir": False, "file_size": len(data)}]}
    assert call(app, "GET", f"{AJAX_PROXY}?path=1/r").json() == {
        "files": [{"path": "artifacts", "is_dir": True}]
    }
    assert call(app, "GET", f"{PROXY}?path=missing").json() == {}
    assert call(app, "GET", f"{PROXY}?path=1/r/artifacts/dir/data.bin").json() == {}
    assert call(app, "DELETE", f"{PROXY}/1/r").status == 200
    assert call(app, "DELETE", f"{PROXY}/1/r").status == 200  # missing is fine
    assert not (destination / "1/r").exists()
    missing = call(app, "GET", f"{PROXY}/1/r/artifacts/dir/data.bin")
    assert missing.status == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"  # type: ignore[index]


def test_ranges_etags_and_content_headers(layout: tuple[Application, Path]) -> None:
    app, _ = layout
    call(app, "PUT", f"{PROXY}/x/résumé.txt", b"0123456789")
    url = f"{PROXY}/x/r%C3%A9sum%C3%A9.txt"
    full = call(app, "GET", url)
    assert full.headers["content-type"].startswith("text/plain")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.txt" in full.headers["content-disposition"]
    etag = full.headers["etag"]
    part = call(app, "GET", url, headers=[("Range", "bytes=2-5")])
    assert (part.status, part.body, part.headers["content-range"]) == (206, b"2345", "bytes 2-5/10")
    assert call(app, "GET", url, headers=[("Range", "bytes=-3")]).body == b"789"
    assert call(app, "GET", url, headers=[("Range", "bytes=20-")]).status == 416
    assert call(app, "GET", url, headers=[("If-None-Match", etag)]).status == 304
    stale = call(app, "GET", url, headers=[("Range", "bytes=0-1"), ("If-Range", '"other"')])
    assert stale.status == 200 and stale.body == b"0123456789"
    assert call(app, "GET", f"{PROXY}/x").status == 400  # a directory


def test_upload_overwrites_and_empty_files(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    call(app, "PUT", f"{PROXY}/f", b"first")
    call(app, "PUT", f"{PROXY}/f", b"")
    assert (destination / "f").read_bytes() == b""
    assert call(app, "GET", f"{PROXY}/f").body == b""


def test_server_info_and_unsupported_transfers(layout: tuple[Application, Path]) -> None:
    app, _ = layout
    info = call(app, "GET", "/api/3.0/mlflow/server-info")
    assert info.status == 200
    assert info.json() == {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "trace_archival_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
        "presigned_upload_run_id_supported": True,
        "presigned_upload_model_id_supported": True,
        "features_enabled": {"gateway": False},
    }
    assert call(app, "GET", "/ajax-api/3.0/mlflow/server-info").status == 200
    for method, path in (("POST", "mpu/create/a/b"), ("POST", "mpu/complete/a"), ("GET", "presigned/a")):
        reply = call(
            app, method, f"/api/2.0/mlflow-artifacts/{path}", headers=[("Content-Type", "application/json")]
        )
        assert reply.status == 501 and reply.json()["error_code"] == "NOT_IMPLEMENTED"  # type: ignore[index]


def test_no_serve_artifacts_answers_503_plain_text(tmp_path: Path) -> None:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path}/db.sqlite",
        artifacts_destination=str(tmp_path / "dest"),
        serve_artifacts=False,
    )
    app = build_application(config)
    try:
        for method, path in (("GET", PROXY), ("PUT", f"{PROXY}/a"), ("DELETE", f"{AJAX_PROXY}/a")):
            reply = call(app, method, path, b"x")
            assert reply.status == 503 and reply.headers["content-type"].startswith("text/plain")
        assert call(app, "GET", "/health").status == 200
    finally:
        app.close()
    assert not (tmp_path / "dest" / "a").exists()


def test_helpers() -> None:
    assert parse_range("bytes=0-", 5) == (0, 5)
    assert parse_range("bytes=1-2,4-5", 9) == (0, 9)  # multiple ranges: whole file
    assert parse_range("bytes=5-", 5) is None
    assert content_disposition('a"b.txt') == "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"


# --- security: attack list 2b, every pattern on every verb --------------------------------------
TRAVERSALS = {
    "dot-dot": "../secret.txt",
    "deep-dot-dot": "a/../../secret.txt",
    "absolute": "/{root}/secret.txt",
    "absolute-etc": "/etc/passwd",
    "drive-letter": "C:/secret.txt",
    "backslashes": "..\\secret.txt",
    "nul": "a%00b",
    "encoded": "%2e%2e%2fsecret.txt",
    "double-encoded": "%252E%252E%252Fsecret.txt",
    "triple-encoded": "%25252E%25252E%25252Fsecret.txt",
    "query-smuggling": "a%3F/../../secret.txt",
    "fragment-smuggling": "a%23/../../secret.txt",
}


def _snapshot(root: Path, destination: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and destination not in p.parents
    }


@pytest.mark.parametrize("name", sorted(TRAVERSALS))
def test_traversal_is_refused_on_every_verb(name: str, layout: tuple[Application, Path]) -> None:
    app, destination = layout
    root = destination.parent
    path = TRAVERSALS[name].replace("{root}", str(root).lstrip("/"))
    before = _snapshot(root, destination)
    replies = [
        call(app, "GET", f"{PROXY}/{path}"),
        call(app, "PUT", f"{PROXY}/{path}", b"pwned"),
        call(app, "DELETE", f"{PROXY}/{path}"),
        call(app, "GET", f"{PROXY}?path={urllib.parse.quote(urllib.parse.unquote(path))}"),
        call(app, "GET", f"{AJAX_PROXY}?path={path}"),
    ]
    for reply in replies:
        assert b"s3cr3t" not in reply.body and b"root:" not in reply.body
        assert reply.status in (400, 404), (reply.status, reply.body)
    assert _snapshot(root, destination) == before
    assert not list(destination.rglob("*"))


def test_symlink_out_of_the_destination_is_refused(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    (destination / "link").symlink_to(destination.parent)
    for reply in (
        call(app, "GET", f"{PROXY}/link/secret.txt"),
        call(app, "PUT", f"{PROXY}/link/new.txt", b"x"),
        call(app, "DELETE", f"{PROXY}/link/secret.txt"),
        call(app, "GET", f"{PROXY}?path=link"),
    ):
        assert reply.status == 400 and b"s3cr3t" not in reply.body
    assert (destination.parent / "secret.txt").read_text() == "s3cr3t"
    assert not (destination.parent / "new.txt").exists()


def test_streamed_upload_checksum(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    chunks = [bytes([i]) * 70_000 for i in range(40)]
    call(app, "PUT", f"{PROXY}/big.bin", chunks)
    assert (
        hashlib.sha256((destination / "big.bin").read_bytes()).digest()
        == hashlib.sha256(b"".join(chunks)).digest()
    )


# --- security: attack list 2a, stored artifact locations ------------------------------------------
@pytest.mark.parametrize(
    "location",
    ["file://./etc", "//proc/self/root", "http:///?/../../../etc/", "http:///#/../../../etc/", "../../etc"],
)
def test_hostile_artifact_locations_are_refused_at_creation(
    location: str, layout: tuple[Application, Path]
) -> None:
    app, _ = layout
    body = json.dumps({"name": f"exp {location}", "artifact_location": location}).encode()
    reply = call(
        app, "POST", "/api/2.0/mlflow/experiments/create", body, [("Content-Type", "application/json")]
    )
    assert reply.status == 400 and reply.json()["error_code"] == "INVALID_PARAMETER_VALUE"  # type: ignore[index]


def test_a_run_under_file_etc_never_lists_etc(layout: tuple[Application, Path]) -> None:
    app, _ = layout
    json_type = [("Content-Type", "application/json")]
    body = json.dumps({"name": "etc", "artifact_location": "file:///etc"}).encode()
    experiment = call(app, "POST", "/api/2.0/mlflow/experiments/create", body, json_type).json()[
        "experiment_id"
    ]  # type: ignore[index]
    run = call(
        app,
        "POST",
        "/api/2.0/mlflow/runs/create",
        json.dumps({"experiment_id": experiment}).encode(),
        json_type,
    ).json()["run"]["info"]  # type: ignore[index]
    for path in ("", "..", "../..", "../../passwd"):
        reply = call(app, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run['run_id']}&path={path}")
        assert reply.status == 400 and b"passwd" not in reply.body.replace(b"../../passwd", b"")


def test_tracking_list_artifacts_over_rest(layout: tuple[Application, Path]) -> None:
    app, _ = layout
    json_type = [("Content-Type", "application/json")]
    experiment = call(app, "POST", "/api/2.0/mlflow/experiments/create", b'{"name": "ok"}', json_type).json()
    run = call(app, "POST", "/api/2.0/mlflow/runs/create", json.dumps(experiment).encode(), json_type).json()[
        "run"
    ]["info"]  # type: ignore[index]
    root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
    call(app, "PUT", f"{PROXY}/{root}/dir/hello.txt", b"hi")
    listing = call(app, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run['run_id']}&path=dir").json()
    assert listing == {
        "root_uri": run["artifact_uri"],
        "files": [{"path": "dir/hello.txt", "is_dir": False, "file_size": 2}],
    }
    missing = call(
        app, "GET", f"/ajax-api/2.0/mlflow/artifacts/list?run_uuid={run['run_id']}&path=nope"
    ).json()
    assert missing == {"root_uri": run["artifact_uri"]}


def test_a_body_shorter_than_its_content_length_stores_nothing(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    call(app, "PUT", f"{PROXY}/d/f.bin", b"version 1")
    reply = call(app, "PUT", f"{PROXY}/d/f.bin", [b"x" * 10, b"y" * 10], headers=[("Content-Length", "50")])
    assert reply.status == 400
    assert "Content-Length" in reply.json()["message"]  # type: ignore[index]
    assert [entry.name for entry in (destination / "d").iterdir()] == ["f.bin"]
    assert (destination / "d" / "f.bin").read_bytes() == b"version 1"


def test_a_dropped_upload_leaves_the_old_file_and_no_partial_one(layout: tuple[Application, Path]) -> None:
    app, destination = layout
    call(app, "PUT", f"{PROXY}/d/f.bin", b"version 1")
    path = f"{PROXY}/d/f.bin"
    # Two megabytes arrive (one write to disk), then the connection drops.
    drop_upload(app, path, [b"x" * 1_048_576] * 2, headers=[("Content-Length", "3000000")])
    assert [entry.name for entry in (destination / "d").iterdir()] == ["f.bin"]
    assert (destination / "d" / "f.bin").read_bytes() == b"version 1"
    # The whole upload, retried, is stored.
    assert call(app, "PUT", path, b"z" * 3_000_000).status == 200
    assert (destination / "d" / "f.bin").read_bytes() == b"z" * 3_000_000


def test_a_dropped_upload_discards_its_file_only_after_every_queued_write(
    layout: tuple[Application, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, destination = layout
    events: list[str] = []
    original_write_all, original_abort = _LocalWriter.write_all, _LocalWriter.abort

    def slow_write_all(self: _LocalWriter, chunks: Sequence[bytes]) -> None:
        time.sleep(0.05)  # a disk that lags: writes pile up in the queue
        original_write_all(self, chunks)
        events.append("write")

    def recorded_abort(self: _LocalWriter) -> None:
        events.append("abort")
        original_abort(self)

    monkeypatch.setattr(_LocalWriter, "write_all", slow_write_all)
    monkeypatch.setattr(_LocalWriter, "abort", recorded_abort)
    # Six megabytes arrive much faster than they are written, then the connection drops.
    drop_upload(
        app, f"{PROXY}/slow/f.bin", [bytes([i]) * WRITE_BUFFER_SIZE for i in range(QUEUED_WRITES + 2)]
    )
    assert events == ["write"] * (QUEUED_WRITES + 2) + ["abort"]
    assert not (destination / "slow").exists() or not list((destination / "slow").iterdir())
