"""Fixtures of the Python client tests: a real polytrack server, tracking URIs of every transport,
and a small scripted HTTP server for what a healthy server never does (errors, delays, refusals).

`tracking_uri` is parametrized over REST and gRPC (both to one live `polytrack server` started per
session), the embedded store on SQLite, and the embedded store on PostgreSQL (marker `postgres`).
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from polytrack._run_context import state
from polytrack.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))

from live_server import ServerHandle, start_server

TRANSPORTS = [
    "rest",
    "grpc",
    "embedded-sqlite",
    pytest.param("embedded-postgres", marks=pytest.mark.postgres),
]

# Variables that change how a client connects; tests set the ones they need themselves.
CLIENT_VARIABLES = [
    f"{prefix}_{name}"
    for prefix in ("POLYTRACK", "MLFLOW")
    for name in (
        "TRACKING_URI",
        "TRACKING_TOKEN",
        "TRACKING_USERNAME",
        "TRACKING_PASSWORD",
        "TRACKING_INSECURE_TLS",
        "TRACKING_SERVER_CERT_PATH",
        "HTTP_REQUEST_MAX_RETRIES",
        "DEFAULT_ARTIFACT_ROOT",
        "ARTIFACTS_DESTINATION",
    )
]


@pytest.fixture(autouse=True)
def _clean_client_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLIENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


FLUENT_VARIABLES = [
    f"{prefix}_{name}"
    for prefix in ("POLYTRACK", "MLFLOW")
    for name in ("EXPERIMENT_NAME", "EXPERIMENT_ID", "RUN_ID", "TRACKING_URI", "SPOOL_AFTER_SECONDS")
]


@pytest.fixture
def fluent_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fresh fluent state per test, with the spool and artifacts under the test's folder."""
    for name in FLUENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLYTRACK_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("POLYTRACK_ARTIFACTS_DESTINATION", str(tmp_path / "artifacts"))
    state.reset()
    yield
    state.reset()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One `polytrack server` (REST and gRPC) over SQLite for the whole session."""
    handle = start_server("polytrack", tmp_path_factory.mktemp("client-live-server"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def rest_uri(live_server: ServerHandle) -> str:
    if not live_server.is_running():
        pytest.fail(f"the live server has exited\n{live_server.describe()}", pytrace=False)
    return live_server.url


@pytest.fixture
def grpc_uri(live_server: ServerHandle) -> str:
    if not live_server.is_running():
        pytest.fail(f"the live server has exited\n{live_server.describe()}", pytrace=False)
    return f"grpc://{live_server.grpc_target}"


@pytest.fixture(scope="session")
def embedded_sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('client-embedded') / 'tracking.db'}"


@pytest.fixture(scope="session")
def embedded_postgres_uri(postgres_uri: str) -> Iterator[str]:
    """A database of its own on the test PostgreSQL server, dropped at the end of the session."""
    from sqlalchemy.engine import make_url

    from polytrack_server.store.engine import create_engine_for

    name = f"polytrack_client_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(postgres_uri)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield make_url(postgres_uri).set(database=name).render_as_string(hide_password=False)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=TRANSPORTS)
def transport_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def tracking_uri(request: pytest.FixtureRequest, transport_name: str) -> str:
    fixture = {
        "rest": "rest_uri",
        "grpc": "grpc_uri",
        "embedded-sqlite": "embedded_sqlite_uri",
        "embedded-postgres": "embedded_postgres_uri",
    }[transport_name]
    uri: str = request.getfixturevalue(fixture)
    return uri


@pytest.fixture
def client(tracking_uri: str) -> Iterator[Client]:
    with Client(tracking_uri) as opened:
        yield opened


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names that no other test (or earlier session on the shared server) uses."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


# --- a scripted HTTP server ----------------------------------------------------------------------
@dataclass
class Reply:
    """What the scripted server answers to one request (after `delay` seconds)."""

    status: int = 200
    body: bytes | str | dict[str, object] = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    """One request the scripted server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedHttpServer:
    """Answers requests with the queued replies in order (an empty `{}` once they run out) and
    records every request it received."""

    def __init__(self, port: int = 0) -> None:
        self.replies: queue.Queue[Reply] = queue.Queue()
        self.received: list[Received] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                scripted.received.append(
                    Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                try:
                    reply = scripted.replies.get_nowait()
                except queue.Empty:
                    reply = Reply()
                if reply.delay:
                    threading.Event().wait(reply.delay)
                payload = reply.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def reply(
        self,
        status: int = 200,
        body: bytes | str | dict[str, object] = b"{}",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Queue the next `times` replies."""
        for _ in range(times):
            self.replies.put(Reply(status, body, headers or {}, delay))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def http_stub_on() -> Iterator[Callable[[int], ScriptedHttpServer]]:
    """Starts scripted HTTP servers on given ports (0: any free port), closed after the test."""
    started: list[ScriptedHttpServer] = []

    def start(port: int = 0) -> ScriptedHttpServer:
        server = ScriptedHttpServer(port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def http_stub(http_stub_on: Callable[[int], ScriptedHttpServer]) -> ScriptedHttpServer:
    """A scripted HTTP server on a free port."""
    return http_stub_on(0)
