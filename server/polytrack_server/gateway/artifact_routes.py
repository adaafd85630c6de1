"""REST routes moving artifact bytes, which the `google.api.http` model cannot express.

MLflow's artifact proxy sends file contents as raw HTTP bodies, not JSON, so these routes are
written by hand and passed to `build_gateway(extra_routes=...)`. Each is mounted under `/api/2.0`
and `/ajax-api/2.0`:

* `PUT  /mlflow-artifacts/artifacts/<path>`: the request body is streamed to the repository in
  bounded chunks (never held whole in memory) and committed atomically once it is complete (a
  body shorter than its Content-Length, or a dropped connection, stores nothing); reply `{}`.
* `GET  /mlflow-artifacts/artifacts/<path>`: the file, streamed; `Range: bytes=a-b` gives 206
  (416 when unsatisfiable), `ETag` with `If-None-Match` gives 304, `If-Range` is honoured;
  `Content-Disposition: attachment` (RFC 5987 `filename*` for non-ASCII names), a guessed
  `Content-Type` and `X-Content-Type-Options: nosniff`, so a browser never renders an artifact
  as a page of this origin.
* multipart-upload and presigned-URL routes: 501 NOT_IMPLEMENTED, as MLflow answers for a local
  destination (clients only try them when server-info advertises them, which it does not).

Listing and deleting are ordinary RPCs of ArtifactsService. `ArtifactsDisabled` wraps the whole
gateway when the server runs with `--no-serve-artifacts`: every `/mlflow-artifacts/` request then
gets MLflow's 503 with a plain-text body.
"""

from __future__ import annotations

import asyncio
import collections
import mimetypes
import re
import urllib.parse
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from polytrack_server.artifacts.paths import clean_relative_path
from polytrack_server.artifacts.repository import ArtifactReader, ArtifactRepository, FileStat
from polytrack_server.errors import ErrorCode, InvalidParameter, NotFound, PolytrackError
from polytrack_server.gateway.errors import error_body, error_reply, json_response

PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
WRITE_BUFFER_SIZE = 1024 * 1024
# Writes of an upload that may wait for the disk while its next bytes arrive.
QUEUED_WRITES = 4
READ_CHUNK_SIZE = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_FILENAME_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\]')

Destination = Callable[[], ArtifactRepository]


def artifact_routes(destination: Destination) -> list[BaseRoute]:
    """The byte-moving routes over the repository `destination()` returns (it raises when the
    server does not serve artifacts)."""

    async def upload(request: Request) -> Response:
        try:
            path = clean_relative_path(request.path_params["path"])
            if not path:
                raise InvalidParameter("Missing artifact path: PUT .../mlflow-artifacts/artifacts/<path>.")
            await _receive_file(request, destination(), path)
        except PolytrackError as error:
            return _error_response(error)
        except ClientDisconnect:
            return Response(status_code=400)
        return json_response(200, b"{}")

    async def download(request: Request) -> Response:
        try:
            path = clean_relative_path(request.path_params["path"])
            return await _send_file(request, destination(), path)
        except PolytrackError as error:
            return _error_response(error)

    async def not_implemented(request: Request) -> Response:
        message = (
            f"{request.method} {request.url.path}: multipart uploads and presigned URLs are not supported "
            "by this artifact store; upload with PUT .../mlflow-artifacts/artifacts/<path>."
        )
        return json_response(501, error_body(ErrorCode.NOT_IMPLEMENTED, message))

    routes: list[BaseRoute] = []
    for prefix in PREFIXES:
        routes += [
            Route(f"{prefix}/artifacts/{{path:path}}", upload, methods=["PUT"]),
            Route(f"{prefix}/artifacts/{{path:path}}", download, methods=["GET"]),
            Route(f"{prefix}/mpu/{{action:str}}/{{path:path}}", not_implemented, methods=["POST"]),
            Route(f"{prefix}/presigned/{{path:path}}", not_implemented, methods=["GET"]),
        ]
    return routes


def _error_response(error: PolytrackError) -> Response:
    status, body = error_reply(error)
    return json_response(status, body)


async def _receive_file(request: Request, repository: ArtifactRepository, path: str) -> None:
    """Stream the request body into `path`, in writes of about WRITE_BUFFER_SIZE bytes.

    Writes run in order on a thread of the upload's own while the next buffers fill, up to
    QUEUED_WRITES of them: uvicorn stops reading the socket while the body waits unread, so writing
    and receiving in turn would leave the network idle during every disk write, and one write at a
    time still stalls the network whenever the kernel makes a write wait for write-back. The
    received chunks are written as they are (one vectored write), not joined first.
    """
    writer = await run_in_threadpool(repository.open_write, path)
    loop = asyncio.get_running_loop()
    writes: collections.deque[asyncio.Future[None]] = collections.deque()
    # Created with the second batch: most uploads fit in one.
    writer_thread: ThreadPoolExecutor | None = None
    try:
        batch: list[bytes] = []
        batch_size = 0
        async for chunk in request.stream():
            batch.append(chunk)
            batch_size += len(chunk)
            if batch_size >= WRITE_BUFFER_SIZE:
                if writer_thread is None:
                    writer_thread = ThreadPoolExecutor(1, thread_name_prefix="polytrack-upload")
                if len(writes) >= QUEUED_WRITES:
                    await writes.popleft()
                writes.append(loop.run_in_executor(writer_thread, writer.write_all, batch))
                batch, batch_size = [], 0
        while writes:
            await writes.popleft()
        if batch:
            await run_in_threadpool(writer.write_all, batch)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != writer.bytes_written:
            raise InvalidParameter(
                f"The body of the upload of {path!r} has {writer.bytes_written} bytes, but Content-Length "
                f"says {declared}; nothing was stored."
            )
        await run_in_threadpool(writer.commit)
    finally:
        if writer_thread is None:
            await run_in_threadpool(writer.abort)
        else:
            # The abort (which closes the file, and is harmless after a commit) is queued on the
            # writes' own thread: it runs after any write still pending, never beside one, even
            # when this task is cancelled while it waits.
            aborted = loop.run_in_executor(writer_thread, writer.abort)
            writer_thread.shutdown(wait=False)
            await aborted
            for write in writes:
                # Outcomes of an upload that failed already: collected, so none goes unreported.
                if write.done() and not write.cancelled():
                    write.exception()


async def _send_file(request: Request, repository: ArtifactRepository, path: str) -> Response:
    found: FileStat | None = await run_in_threadpool(repository.stat, path)
    if found is None:
        is_directory: bool = bool(path) and await run_in_threadpool(repository.is_dir, path)
        if is_directory:
            raise InvalidParameter(f"Artifact {path!r} is a directory; only files can be downloaded.")
        raise NotFound(f"Artifact {path!r} does not exist.")
    size, etag = found.size, found.etag
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition(path.rsplit("/", 1)[-1]),
    }
    if etag in _entity_tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and (if_range is None or if_range == etag):
        chosen = parse_range(wanted, size)
        if chosen is None:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
        if chosen != (0, size) or size == 0:
            start, end = chosen
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    reader = await run_in_threadpool(repository.open_read, path, start, end - start)
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(_chunks(reader), status_code=status, headers=headers, media_type=media_type)


async def _chunks(reader: ArtifactReader) -> AsyncIterator[bytes]:
    try:
        while True:
            data = await run_in_threadpool(reader.read, READ_CHUNK_SIZE)
            if not data:
                return
            yield data
    finally:
        reader.close()


def _entity_tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The half-open byte range `[start, end)` a single-range `Range` header asks of a file of `size`
    bytes: the whole file when the header is not one range we serve (multiple ranges, other units),
    None when it is unsatisfiable."""
    found = _RANGE.match(header.strip().replace(" ", ""))
    if found is None:
        return (0, size)
    first, last = found.groups()
    if not first and not last:
        return (0, size)
    if not first:
        suffix = int(last)
        if suffix == 0:
            return None
        return (max(0, size - suffix), size)
    start = int(first)
    if start >= size:
        return None
    end = size if not last else min(size, int(last) + 1)
    if end <= start:
        return None
    return (start, end)


def content_disposition(filename: str) -> str:
    """`attachment` with the file name: plain when it is printable ASCII, else an ASCII fallback
    plus RFC 5987 `filename*=UTF-8''...`."""
    fallback = _FILENAME_UNSAFE.sub("_", filename) or "artifact"
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"
    return value


class ArtifactsDisabled:
    """Wraps the gateway of a server running with `--no-serve-artifacts`: `/mlflow-artifacts/`
    requests get 503 with a plain-text body, as MLflow answers; everything else passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and any(path == p or path.startswith(p + "/") for p in PREFIXES):
            body = (
                f"Endpoint {path} is disabled: this server runs with --no-serve-artifacts. "
                "Start it with --serve-artifacts to proxy artifacts."
            ).encode()
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
