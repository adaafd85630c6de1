"""How the client moves artifact files, chosen by the run's artifact URI and the transport.

* `mlflow-artifacts:/<p>` (or an http(s) URL of a proxy) over REST: raw PUT/GET on
  `/api/2.0/mlflow-artifacts/artifacts/<p>`;
* `mlflow-artifacts:/<p>` over gRPC: streaming UploadArtifact / DownloadArtifact, CRC-32C checked;
* a local directory (`/path`, `file:///path`), any transport: straight to the filesystem.

Files are streamed in bounded chunks in both directions, so memory use does not grow with the
file; a download is written on a separate thread while the next chunks arrive (`_artifacts_io`).
A download is written to a temporary file beside its destination and renamed into place when
complete. The server stores an upload under a temporary name and renames it into place only once
it is complete (and, over gRPC, its CRC-32C matches), so a failed upload is retried as a whole and
a retry of the same content simply succeeds; a gRPC download that breaks off resumes from the
bytes already received.
"""

from __future__ import annotations

import contextlib
import http.client
import mimetypes
import os
import re
import socket
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import httpx
from crc32c import CRC32CHash

from polytrack._artifact_wire import parse_download_chunk, upload_data_messages
from polytrack._artifacts_io import PipelinedWriter, copy_stream
from polytrack._transport.base import RetryPolicy
from polytrack._transport.rest import DEFAULT_TIMEOUT, error_from_response
from polytrack.errors import PolytrackException

CHUNK_SIZE = 1024 * 1024
PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
_DRIVE = re.compile(r"^[A-Za-z]:")
_TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
# Failures of the plain-HTTP download's connection (not of writing the local file), retried.
_NETWORK_FAILURES = (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException)


def safe_relative(path: str) -> str:
    """`path` as a clean relative path (`a/b`), refusing anything that could escape a directory:
    `..`, absolute paths, drive letters, backslashes, NUL."""
    if "\x00" in path or "\\" in path:
        raise PolytrackException(f"Unsafe artifact path {path!r}", "INVALID_PARAMETER_VALUE")
    if path.startswith("/") or _DRIVE.match(path):
        raise PolytrackException(f"Artifact paths must be relative, got {path!r}", "INVALID_PARAMETER_VALUE")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PolytrackException(f"'..' is not allowed in artifact path {path!r}", "INVALID_PARAMETER_VALUE")
    return "/".join(parts)


def join(*paths: str | None) -> str:
    return "/".join(part.strip("/") for part in paths if part and part.strip("/"))


def local_directory_of(uri: str) -> Path | None:
    """The local directory named by `uri` (`/abs/path` or `file:///abs/path`), else None."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(urllib.parse.unquote(parts.path))
    if parts.scheme == "" and uri.startswith("/") and not uri.startswith("//"):
        return Path(uri)
    return None


def proxied_path_of(uri: str) -> str | None:
    """The path below the server's artifacts destination of a proxied artifact URI, else None."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "mlflow-artifacts":
        return safe_relative(urllib.parse.unquote(parts.path).lstrip("/"))
    if parts.scheme in ("http", "https"):
        marker = parts.path.find(PROXY_PREFIX)
        if marker >= 0:
            return safe_relative(urllib.parse.unquote(parts.path[marker + len(PROXY_PREFIX) :]).lstrip("/"))
    return None


def file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while True:
        data = handle.read(CHUNK_SIZE)
        if not data:
            return
        yield data


@contextlib.contextmanager
def atomic_destination(target: Path) -> Iterator[BinaryIO]:
    """A temporary file beside `target`, renamed onto it when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


class Transfer(Protocol):
    """Moves one file between this machine and the artifact store; paths are relative to the
    run's artifact root."""

    def upload(self, local: Path, path: str) -> None: ...

    def download(self, path: str, local: Path) -> None: ...


class LocalTransfer:
    """Artifacts in a directory this process can open (embedded stores, direct local roots)."""

    def __init__(self, root: Path) -> None:
        from polytrack_server.artifacts.local import LocalArtifactRepository

        self._repository = LocalArtifactRepository(root)

    def upload(self, local: Path, path: str) -> None:
        from polytrack_server.artifacts.paths import clean_relative_path

        with local.open("rb") as handle:
            self._repository.write(clean_relative_path(path), file_chunks(handle))

    def download(self, path: str, local: Path) -> None:
        from polytrack_server.artifacts.paths import clean_relative_path
        from polytrack_server.errors import PolytrackError

        try:
            reader = self._repository.open_read(clean_relative_path(path))
        except PolytrackError as error:
            raise PolytrackException(error.message, error.code.name, error.code.http_status) from None
        with reader, atomic_destination(local) as handle:
            for data in reader.chunks(CHUNK_SIZE):
                handle.write(data)

    def list(self, path: str) -> list[tuple[str, bool, int | None]] | None:
        from polytrack_server.artifacts.paths import clean_relative_path

        entries = self._repository.list(clean_relative_path(path))
        return None if entries is None else [(e.path, e.is_dir, e.file_size) for e in entries]


class HttpProxyTransfer:
    """Artifacts behind a server's `/api/2.0/mlflow-artifacts/` proxy, over the REST transport's
    HTTP client (same base URL, credentials and TLS settings)."""

    def __init__(self, http: httpx.Client, root: str, retry: RetryPolicy) -> None:
        self._http = http
        self._root = root
        self._retry = retry

    def _url(self, path: str) -> str:
        return f"{PROXY_PREFIX}/{urllib.parse.quote(join(self._root, path), safe='/')}"

    def _with_retries(self, what: str, attempt: Any) -> Any:
        started, retry = time.monotonic(), 0
        while True:
            try:
                return attempt()
            except (httpx.TransportError, *_NETWORK_FAILURES, _Transient) as error:
                wait = self._retry.delay(retry, time.monotonic() - started)
                if wait is None:
                    if isinstance(error, _Transient):
                        raise error.error from None
                    raise PolytrackException(f"{what} failed: {error}", "TEMPORARILY_UNAVAILABLE") from error
                self._retry.sleep(wait)
                retry += 1

    def upload(self, local: Path, path: str) -> None:
        url = self._url(path)
        size = local.stat().st_size
        headers = {
            "Content-Type": mimetypes.guess_type(local.name)[0] or "application/octet-stream",
            "Content-Length": str(size),
        }

        def attempt() -> None:
            with local.open("rb") as handle:
                response = self._http.put(url, content=file_chunks(handle), headers=headers, timeout=None)
            _check(response)

        self._with_retries(f"Uploading {local}", attempt)

    def download(self, path: str, local: Path) -> None:
        url = self._http.base_url.join(self._url(path))
        plain = url.scheme == "http" and not _proxied(url)

        def attempt() -> None:
            if plain:
                self._download_plain(url, local)
                return
            with self._http.stream("GET", url, timeout=None) as response:
                if not response.is_success:
                    response.read()
                    _check(response)
                # Undecoded network chunks are much cheaper than re-chunked ones; decode only when
                # the server compressed the body.
                chunks = (
                    response.iter_bytes() if response.headers.get("content-encoding") else response.iter_raw()
                )
                with atomic_destination(local) as handle, PipelinedWriter(handle) as writer:
                    for data in chunks:
                        writer.write(data)

        self._with_retries(f"Downloading {path}", attempt)

    def _download_plain(self, url: httpx.URL, local: Path) -> None:
        """GET over plain HTTP, reading the body straight from the socket into reused buffers: a
        third of the CPU time httpx's parser needs per byte, which is what limits a download on
        loopback or a fast network. HTTPS and proxied URLs keep the httpx path (TLS dominates)."""
        headers = {
            name: value
            for name, value in self._http.headers.items()
            if name.lower() not in ("accept-encoding", "connection", "host")
        }
        headers["Accept-Encoding"] = "identity"
        connection = http.client.HTTPConnection(url.host, url.port, timeout=DEFAULT_TIMEOUT)
        try:
            connection.request("GET", url.raw_path.decode("ascii"), headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                reply = httpx.Response(
                    response.status,
                    headers=response.getheaders(),
                    content=response.read(),
                    request=httpx.Request("GET", url),
                )
                _check(reply)
                raise PolytrackException(
                    f"GET {url} answered {response.status} instead of the file", "INTERNAL_ERROR"
                )
            encoding = response.getheader("content-encoding", "identity").lower()
            if encoding != "identity":
                raise PolytrackException(
                    f"GET {url} answered with Content-Encoding {encoding!r} though identity was asked for",
                    "INTERNAL_ERROR",
                )
            expected = response.length
            with atomic_destination(local) as handle:
                received = copy_stream(response.readinto, handle, expected)
                if expected is not None and received != expected:
                    # http.client ends a short body silently; a retry starts over.
                    raise http.client.IncompleteRead(b"", expected - received)
        finally:
            connection.close()


def _proxied(url: httpx.URL) -> bool:
    """Whether the environment routes `url` through a proxy (httpx honours the same variables)."""
    proxies = urllib.request.getproxies()
    return "http" in proxies and not urllib.request.proxy_bypass(url.host)


class _Transient(Exception):
    def __init__(self, error: PolytrackException) -> None:
        super().__init__(str(error))
        self.error = error


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    error = error_from_response(response)
    if response.status_code in _TRANSIENT_STATUSES:
        raise _Transient(error)
    raise error


class GrpcStreamTransfer:
    """Artifacts over the streaming RPCs of ArtifactsService, with CRC-32C checks both ways."""

    def __init__(self, transport: Any, root: str) -> None:
        from polytrack.v1 import artifacts_service_pb2

        self._api = artifacts_service_pb2
        service = artifacts_service_pb2.DESCRIPTOR.services_by_name["ArtifactsService"]
        download_request = artifacts_service_pb2.DownloadArtifactRequest
        self._download = transport.raw_server_stream(
            f"/{service.full_name}/DownloadArtifact", download_request.SerializeToString
        )
        self._upload = transport.raw_client_stream(
            f"/{service.full_name}/UploadArtifact", artifacts_service_pb2.UploadArtifactResponse.FromString
        )
        self._metadata = transport.metadata
        self._retry: RetryPolicy = transport.retry
        self._root = root

    def upload(self, local: Path, path: str) -> None:
        import grpc

        from polytrack._transport.grpc import error_from_rpc_error

        target = join(self._root, path)

        def messages() -> Iterator[bytes]:
            checksum = CRC32CHash()
            yield self._api.UploadArtifactRequest(path=target).SerializeToString()
            with local.open("rb") as handle:
                yield from upload_data_messages(handle, CHUNK_SIZE, checksum)
            yield self._api.UploadArtifactRequest(crc32c=checksum.checksum).SerializeToString()

        started, retry = time.monotonic(), 0
        while True:
            try:
                self._upload(messages(), metadata=self._metadata)
                return
            except grpc.RpcError as error:
                # An upload replaces the whole file atomically, so repeating it is always safe.
                wait = None
                if error.code() == grpc.StatusCode.UNAVAILABLE:
                    wait = self._retry.delay(retry, time.monotonic() - started)
                if wait is None:
                    raise error_from_rpc_error(error) from None
                self._retry.sleep(wait)
                retry += 1

    def download(self, path: str, local: Path) -> None:
        import grpc

        from polytrack._transport.grpc import error_from_rpc_error

        source = join(self._root, path)
        started, retry = time.monotonic(), 0
        checksum = CRC32CHash()
        with atomic_destination(local) as handle, PipelinedWriter(handle, checksum) as writer:
            received = 0
            while True:
                expected: int | None = None
                try:
                    request = self._api.DownloadArtifactRequest(path=source, offset=received)
                    for raw in self._download(request, metadata=self._metadata):
                        chunk = parse_download_chunk(raw)
                        if chunk.data:
                            writer.write(chunk.data)
                            received += len(chunk.data)
                        if chunk.crc32c is not None:
                            expected = chunk.crc32c
                except grpc.RpcError as error:
                    wait = None
                    if error.code() == grpc.StatusCode.UNAVAILABLE:
                        wait = self._retry.delay(retry, time.monotonic() - started)
                    if wait is None:
                        raise error_from_rpc_error(error) from None
                    # Resume after the bytes already written.
                    self._retry.sleep(wait)
                    retry += 1
                    continue
                break
            writer.finish()
            if expected is None:
                raise PolytrackException(
                    f"Download of {path!r} is incomplete: the server's stream ended without the file's "
                    "CRC-32C",
                    "DATA_LOSS",
                )
            if expected != checksum.checksum:
                raise PolytrackException(
                    f"Download of {path!r} is corrupt: the bytes received have CRC-32C "
                    f"{checksum.checksum:08x}, the server's file {expected:08x}",
                    "DATA_LOSS",
                )
