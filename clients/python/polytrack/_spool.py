"""The local spool: logged data that could not reach the server, kept on disk until `polytrack sync`.

When the tracking server stays unreachable past the logging queue's deadline, the queue writes the
data it could not send to a spool file instead of dropping it. Files live in `$POLYTRACK_SPOOL_DIR`
(default `~/.polytrack/spool/`), one per run and process, named `<run_id>-<pid>-<nanoseconds>.jsonl`.

Format (JSON lines, UTF-8; floats that JSON cannot carry are written "NaN", "Infinity", "-Infinity"):

    {"polytrack_spool": 1, "tracking_uri": "...", "run_id": "...", "pid": 123, "created_ms": ...}
    {"log": {"metrics": [[key, value, timestamp, step], ...], "params": [[k, v]], "tags": [[k, v]]}}

A metric logged with a model or dataset has a fifth element:
`{"model_id": ..., "dataset_name": ..., "dataset_digest": ...}` (only the fields that are set).
    {"end": {"status": "FINISHED", "end_time": 1700000000000}}

Durability: the file is created exclusively (O_EXCL) and its folder fsynced; every append is one
`write()` of whole lines on an O_APPEND descriptor followed by `fsync`, so a reader sees whole
records only, except for a possibly torn last line after a crash, which is ignored. The writer holds
an exclusive `flock` for as long as the file is open; `replay_spool_file` takes the same lock without
waiting and skips a file that a live process is still writing.

Replay sends the records in order with the same requests as the queue (`_batches`); it is safe to
repeat, because the server ignores repeated metric points and same-value params and tags are upserts.
The file is deleted only after every record was delivered. Items the server refuses for good are moved
to `<name>.rejected` (same format) so that a later sync does not try them again.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytrack._batches import (
    METRIC,
    PARAM,
    TAG,
    EndRequest,
    Item,
    LogRequest,
    Rejection,
    Request,
    RetryDecider,
    deliver,
    json_number,
    number_from_json,
    plan_requests,
)
from polytrack.errors import PolytrackException

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, the pid in the name must do
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "SPOOL_DIR_ENV",
    "ReplayReport",
    "SpoolBusyError",
    "SpoolContents",
    "SpoolError",
    "SpoolWriter",
    "list_spool_files",
    "read_spool_file",
    "replay_spool_file",
    "spool_directory",
]

SPOOL_DIR_ENV = "POLYTRACK_SPOOL_DIR"
FORMAT_VERSION = 1
SUFFIX = ".jsonl"
REJECTED_SUFFIX = ".rejected"


class SpoolError(Exception):
    """A spool file cannot be read (not a spool file, or corrupt before its last line)."""


class SpoolBusyError(SpoolError):
    """Another process holds the spool file open (it is still being written)."""


def spool_directory() -> Path:
    """Where spool files go: `$POLYTRACK_SPOOL_DIR`, else `~/.polytrack/spool`."""
    configured = os.environ.get(SPOOL_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".polytrack" / "spool"


def _fsync_directory(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open folders
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)


_METRIC_LINKS = ("model_id", "dataset_name", "dataset_digest")


def _metric_record(metric: Item) -> list[Any]:
    record: list[Any] = [metric.key, json_number(float(metric.value)), metric.timestamp, metric.step]
    links = {name: getattr(metric, name) for name in _METRIC_LINKS if getattr(metric, name) is not None}
    if links:
        record.append(links)
    return record


def _record_of(request: Request) -> dict[str, Any]:
    if isinstance(request, EndRequest):
        return {"end": {"status": request.status, "end_time": request.end_time}}
    body: dict[str, list[list[Any]]] = {}
    if request.metrics:
        body["metrics"] = [_metric_record(m) for m in request.metrics]
    if request.params:
        body["params"] = [[p.key, str(p.value)] for p in request.params]
    if request.tags:
        body["tags"] = [[t.key, str(t.value)] for t in request.tags]
    return {"log": body}


def _encode_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n").encode()


class SpoolWriter:
    """Appends one run's unsent requests to a new spool file, durably. Not thread-safe: one writer
    per run, used by the logging queue's worker thread."""

    def __init__(self, directory: Path, tracking_uri: str, run_id: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.tracking_uri = tracking_uri
        self.run_id = run_id
        safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:64]
        self.path = directory / f"{safe_id}-{os.getpid()}-{time.time_ns()}{SUFFIX}"
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        header = {
            "polytrack_spool": FORMAT_VERSION,
            "tracking_uri": tracking_uri,
            "run_id": run_id,
            "pid": os.getpid(),
            "created_ms": int(time.time() * 1000),
        }
        self._write(_encode_line(header))
        _fsync_directory(directory)

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise SpoolError(f"spool file {self.path} is closed")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def append(self, requests: Sequence[Request]) -> None:
        """Write `requests` (all of this writer's run) as records, then fsync."""
        lines = []
        for request in requests:
            if request.run_id != self.run_id:
                raise ValueError(f"spool file of run {self.run_id} cannot hold data of run {request.run_id}")
            lines.append(_encode_line(_record_of(request)))
        if lines:
            self._write(b"".join(lines))

    @property
    def closed(self) -> bool:
        """Whether the file was closed (its lock released)."""
        return self._fd is None

    def close(self) -> None:
        """Close the file and release its lock; `polytrack sync` may take it from then on."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class SpoolContents:
    """A parsed spool file."""

    path: Path
    tracking_uri: str
    run_id: str
    requests: list[Request]
    torn_tail: bool = False

    def items(self) -> list[Item]:
        """Every item recorded, in order (end markers included)."""
        return [item for request in self.requests for item in request.items()]


def _request_from_record(run_id: str, record: Any) -> Request:
    if not isinstance(record, dict):
        raise ValueError("record is not an object")
    if "end" in record:
        end = record["end"]
        return EndRequest(run_id, str(end["status"]), int(end["end_time"]))
    body = record["log"]
    request = LogRequest(run_id)
    for key, value, timestamp, step, *more in body.get("metrics", ()):
        links = more[0] if more and isinstance(more[0], dict) else {}
        point = Item(
            run_id,
            METRIC,
            str(key),
            number_from_json(value),
            int(timestamp),
            int(step),
            **{name: str(links[name]) for name in _METRIC_LINKS if links.get(name) is not None},
        )
        request.metrics.append(point)
    for key, value in body.get("params", ()):
        request.params.append(Item(run_id, PARAM, str(key), str(value)))
    for key, value in body.get("tags", ()):
        request.tags.append(Item(run_id, TAG, str(key), str(value)))
    return request


def read_spool_file(path: Path) -> SpoolContents:
    """Parse a spool file; a torn (incomplete) last line is ignored and flagged."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = False
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # no newline at the end: the last write did not complete
        torn = True
    if not lines:
        raise SpoolError(f"{path} is empty: not a polytrack spool file")
    try:
        header = json.loads(lines[0])
    except ValueError as error:
        raise SpoolError(f"{path} is not a polytrack spool file: {error}") from None
    if not isinstance(header, dict) or header.get("polytrack_spool") != FORMAT_VERSION:
        raise SpoolError(f"{path} is not a polytrack spool file (version {FORMAT_VERSION})")
    run_id = str(header["run_id"])
    requests: list[Request] = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            requests.append(_request_from_record(run_id, json.loads(line)))
        except (ValueError, KeyError, TypeError) as error:
            if number == len(lines):
                torn = True
                break
            raise SpoolError(f"{path}, line {number}: unreadable record ({error})") from None
    return SpoolContents(path, str(header["tracking_uri"]), run_id, requests, torn)


def list_spool_files(directory: Path | None = None) -> list[Path]:
    """Spool files waiting in `directory` (default `spool_directory()`), oldest first."""
    folder = spool_directory() if directory is None else directory
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{SUFFIX}"), key=lambda path: (path.stat().st_mtime, path.name))


@contextmanager
def _claimed(path: Path) -> Iterator[None]:
    """Hold the file's lock (without waiting) so that no live writer appends while it is replayed."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SpoolBusyError(f"{path} is still being written by a running process") from None
        yield
    finally:
        os.close(descriptor)


@dataclass
class ReplayReport:
    """What replaying one spool file did."""

    path: Path
    run_id: str
    tracking_uri: str
    metrics: int = 0
    params: int = 0
    tags: int = 0
    end_status: str | None = None
    rejections: list[Rejection] = field(default_factory=list)
    rejected_path: Path | None = None
    torn_tail: bool = False


def _write_rejected(contents: SpoolContents, rejections: list[Rejection]) -> Path:
    target = contents.path.with_name(contents.path.name[: -len(SUFFIX)] + REJECTED_SUFFIX)
    writer_header = {
        "polytrack_spool": FORMAT_VERSION,
        "tracking_uri": contents.tracking_uri,
        "run_id": contents.run_id,
        "pid": os.getpid(),
        "created_ms": int(time.time() * 1000),
        "errors": [f"{rejection.item.describe()}: {rejection.error}" for rejection in rejections],
    }
    requests = plan_requests(rejection.item for rejection in rejections)
    with target.open("wb") as handle:
        handle.write(_encode_line(writer_header))
        for request in requests:
            handle.write(_encode_line(_record_of(request)))
        handle.flush()
        os.fsync(handle.fileno())
    return target


def _count(report: ReplayReport, request: Request, rejections: list[Rejection]) -> None:
    if isinstance(request, EndRequest):
        if not rejections:
            report.end_status = request.status
        return
    refused = [rejection.item.kind for rejection in rejections]
    report.metrics += len(request.metrics) - refused.count(METRIC)
    report.params += len(request.params) - refused.count(PARAM)
    report.tags += len(request.tags) - refused.count(TAG)


def replay_spool_file(
    path: Path,
    client_for: Callable[[str], Any],
    retry: RetryDecider,
    tracking_uri: str | None = None,
) -> ReplayReport:
    """Send a spool file's records to `tracking_uri` (default: the one recorded in the file).

    `client_for(uri)` returns the `polytrack.Client` to use. On success the file is deleted (items the
    server refused are first moved to a `.rejected` file); if the server cannot be reached the file is
    kept whole and the PolytrackException (or other error) propagates, so re-running is always safe.
    Raises SpoolBusyError when a live process still writes the file.
    """
    with _claimed(path):
        contents = read_spool_file(path)
        target = tracking_uri or contents.tracking_uri
        report = ReplayReport(path, contents.run_id, target, torn_tail=contents.torn_tail)
        client = client_for(target)
        for request in contents.requests:
            result = deliver(client, request, retry)
            if result.unsent:
                raise PolytrackException(
                    f"the tracking server at {target} could not be reached; {path} is kept for a later sync",
                    "TEMPORARILY_UNAVAILABLE",
                    503,
                )
            report.rejections.extend(result.rejections)
            _count(report, request, result.rejections)
        if report.rejections:
            report.rejected_path = _write_rejected(contents, report.rejections)
        path.unlink()
        _fsync_directory(path.parent)
    return report
