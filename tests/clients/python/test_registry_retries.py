"""Registry writes whose response is lost: which are repeated, and what the caller then sees.

A real server processes every request here; the fault is injected between it and the client:
over REST by a proxy that forwards a request and then hangs up instead of answering, over gRPC by
a channel interceptor that makes the call and then reports the connection as lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest

from polytrack._transport.base import RetryPolicy
from polytrack._transport.grpc import GrpcTransport
from polytrack._transport.rest import RestTransport
from polytrack.client import Client
from polytrack.errors import PolytrackException

FAST_RETRIES = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


class LosingProxy:
    """Forwards HTTP requests to `upstream`; the first request of each RPC path named in `lose`
    reaches the server but its answer is dropped (the connection closes without a response)."""

    def __init__(self, upstream: str) -> None:
        self.lose: set[str] = set()
        self.forwarded: list[str] = []
        forwarder = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                answer = forwarder.request(self.command, self.path, content=body, headers=headers)
                path = self.path.split("?", 1)[0]
                proxy.forwarded.append(path)
                if path in proxy.lose:
                    proxy.lose.discard(path)
                    self.close_connection = True  # processed upstream; the client never hears
                    return
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._forwarder = forwarder
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._forwarder.close()


class LostResponse(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """What gRPC raises when the connection breaks after the request was sent."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "Socket closed"

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def initial_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


class LosingInterceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Makes each call; the first call of each method named in `lose` then reports a lost answer."""

    def __init__(self) -> None:
        self.lose: set[str] = set()
        self.forwarded: list[str] = []

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        outcome = continuation(details, request)
        name = details.method.rsplit("/", 1)[-1]
        self.forwarded.append(name)
        if name in self.lose:
            self.lose.discard(name)
            outcome.result()  # the server has answered (and committed) by now
            raise LostResponse()
        return outcome


@pytest.fixture(params=["rest", "grpc"])
def lossy(
    request: pytest.FixtureRequest, rest_uri: str, grpc_uri: str
) -> Iterator[tuple[Client, Callable[[str], None], Callable[[str], int]]]:
    """A client whose next answer to a named RPC is lost, and a count of requests that RPC sent."""
    if request.param == "rest":
        proxy = LosingProxy(rest_uri)
        paths = {
            "CreateRegisteredModel": "/api/2.0/mlflow/registered-models/create",
            "CreateModelVersion": "/api/2.0/mlflow/model-versions/create",
            "SetRegisteredModelAlias": "/api/2.0/mlflow/registered-models/alias",
            "DeleteModelVersion": "/api/2.0/mlflow/model-versions/delete",
            "DeleteRegisteredModel": "/api/2.0/mlflow/registered-models/delete",
            "SetModelVersionTag": "/api/2.0/mlflow/model-versions/set-tag",
        }
        client = Client(transport=RestTransport(proxy.url, retry=FAST_RETRIES))
        try:
            yield (
                client,
                lambda rpc: proxy.lose.add(paths[rpc]),
                lambda rpc: proxy.forwarded.count(paths[rpc]),
            )
        finally:
            client.close()
            proxy.close()
    else:
        interceptor = LosingInterceptor()
        transport = GrpcTransport(grpc_uri.removeprefix("grpc://"), retry=FAST_RETRIES)
        transport._channel = grpc.intercept_channel(transport._channel, interceptor)
        transport._stubs.clear()
        client = Client(transport=transport)
        try:
            yield client, interceptor.lose.add, interceptor.forwarded.count
        finally:
            client.close()


def _model_with_run(client: Client, unique: Callable[[str], str]) -> tuple[str, str]:
    experiment_id = client.create_experiment(unique("retries"))
    run_id = client.create_run(experiment_id).info.run_id
    name = unique("model")
    client.create_registered_model(name)
    return name, run_id


def test_lost_create_model_version_is_not_repeated(
    lossy: tuple[Client, Callable[[str], None], Callable[[str], int]], unique: Callable[[str], str]
) -> None:
    client, lose, sent = lossy
    name, run_id = _model_with_run(client, unique)
    lose("CreateModelVersion")
    with pytest.raises(PolytrackException) as failed:
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert failed.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert "may have been processed; CreateModelVersion is not retried" in failed.value.message
    assert sent("CreateModelVersion") == 1
    # The server did create it, once: the caller checks before creating another.
    versions = client.search_model_versions(f"name = '{name}'")
    assert [version.version for version in versions] == ["1"]


def test_lost_create_registered_model_is_not_repeated(
    lossy: tuple[Client, Callable[[str], None], Callable[[str], int]], unique: Callable[[str], str]
) -> None:
    client, lose, sent = lossy
    name = unique("model")
    lose("CreateRegisteredModel")
    with pytest.raises(PolytrackException, match="may have been processed") as failed:
        client.create_registered_model(name)
    assert failed.value.error_code == "TEMPORARILY_UNAVAILABLE"  # not a misleading ALREADY_EXISTS
    assert sent("CreateRegisteredModel") == 1
    assert client.get_registered_model(name).name == name


def test_lost_idempotent_writes_are_repeated(
    lossy: tuple[Client, Callable[[str], None], Callable[[str], int]], unique: Callable[[str], str]
) -> None:
    client, lose, sent = lossy
    name, run_id = _model_with_run(client, unique)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    lose("SetRegisteredModelAlias")
    client.set_registered_model_alias(name, "champion", 1)
    assert sent("SetRegisteredModelAlias") == 2
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    lose("SetModelVersionTag")
    client.set_model_version_tag(name, 1, "validated", "yes")
    assert sent("SetModelVersionTag") == 2
    assert client.get_model_version(name, 1).tags == {"validated": "yes"}


def test_lost_deletions_succeed_although_the_retry_finds_nothing(
    lossy: tuple[Client, Callable[[str], None], Callable[[str], int]], unique: Callable[[str], str]
) -> None:
    client, lose, sent = lossy
    name, run_id = _model_with_run(client, unique)
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    lose("DeleteModelVersion")
    client.delete_model_version(name, 1)
    assert sent("DeleteModelVersion") == 2
    lose("DeleteRegisteredModel")
    client.delete_registered_model(name)
    assert sent("DeleteRegisteredModel") == 2
    with pytest.raises(PolytrackException) as gone:
        client.get_registered_model(name)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # Without a lost answer, deleting what does not exist is still an error.
    with pytest.raises(PolytrackException) as missing:
        client.delete_registered_model(name)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
