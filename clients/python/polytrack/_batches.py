"""Logged items, how they are grouped into LogBatch requests, and how a request is delivered.

Shared by the background logging queue (`_logging_queue`) and the spool replay (`_spool`,
`polytrack sync`), so both send exactly the same requests and treat failures the same way.

Grouping (`plan_requests`): items are split per run, keeping each run's order, into requests that
respect the server's LogBatch limits (1000 metrics, 100 params, 100 tags, 1000 in all). Within one
request a tag set twice keeps its last value (what the server would end with anyway) and a param
logged twice with the same value is sent once; the same param with a *different* value starts a new
request, so the server rejects exactly that item. An end-of-run marker closes the run's current
request and becomes its own request (UpdateRun), sent after the data logged before it.

Delivery (`deliver`): a transient failure (the service is unreachable, 408/429/5xx, any error that
is not a PolytrackException) is retried as the caller's `RetryDecider` says; a whole request may be
sent again because the server ignores a metric point identical to a stored one, a param re-logged
with its stored value is a no-op and tags are upserts. A permanent failure (another 4xx) of a
request holding several items is narrowed down by splitting the request in halves, so that the
valid items still reach the server and only the offending items are reported — unless the run
itself is gone or deleted, in which case every item is reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from polytrack._transport import RetryPolicy, transport_for
from polytrack.client import Client
from polytrack.errors import PolytrackException, http_status_for
from polytrack.v1 import tracking_pb2, tracking_service_pb2

__all__ = [
    "END",
    "METRIC",
    "PARAM",
    "TAG",
    "EndRequest",
    "Item",
    "LogRequest",
    "Rejection",
    "Request",
    "RetryDecider",
    "deliver",
    "delivery_client",
    "is_transient",
    "plan_requests",
]

METRIC, PARAM, TAG, END = 0, 1, 2, 3
_KIND_NAMES = {METRIC: "metric", PARAM: "param", TAG: "tag", END: "end of run"}

MAX_METRICS_PER_REQUEST = 1000
MAX_PARAMS_PER_REQUEST = 100
MAX_TAGS_PER_REQUEST = 100
MAX_ITEMS_PER_REQUEST = 1000

_RETRYABLE_STATUSES = frozenset({408, 429})


class Item(NamedTuple):
    """One logged value. For METRIC: key, value (float), timestamp (ms), step, and optionally the
    model and dataset the measurement is about; PARAM/TAG: key and value (str); END: key is the
    final status name and timestamp the end time (ms)."""

    run_id: str
    kind: int
    key: str
    value: float | str
    timestamp: int = 0
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def describe(self) -> str:
        """A short human description, e.g. "metric 'loss' (step 3)"."""
        if self.kind == METRIC:
            return f"metric {self.key!r} (step {self.step}, value {self.value!r})"
        if self.kind == END:
            return f"end of run ({self.key})"
        return f"{_KIND_NAMES[self.kind]} {self.key!r}"


@dataclass
class LogRequest:
    """Items of one run that fit one LogBatch request."""

    run_id: str
    metrics: list[Item] = field(default_factory=list)
    params: list[Item] = field(default_factory=list)
    tags: list[Item] = field(default_factory=list)

    def items(self) -> list[Item]:
        """Every item of the request: metrics, then params, then tags."""
        return [*self.metrics, *self.params, *self.tags]

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def halves(self) -> tuple[LogRequest, LogRequest]:
        """Two requests holding half of the items each (for narrowing down a rejected item)."""
        everything = self.items()
        middle = len(everything) // 2
        return _request_of(self.run_id, everything[:middle]), _request_of(self.run_id, everything[middle:])


@dataclass
class EndRequest:
    """Set a run's final status and end time (sent after the data logged before it)."""

    run_id: str
    status: str
    end_time: int

    def items(self) -> list[Item]:
        """The end marker as an item."""
        return [Item(self.run_id, END, self.status, "", self.end_time)]

    def __len__(self) -> int:
        return 1


Request = LogRequest | EndRequest


class Rejection(NamedTuple):
    """An item the server refused for good, with its answer."""

    item: Item
    error: PolytrackException


def _request_of(run_id: str, items: Iterable[Item]) -> LogRequest:
    request = LogRequest(run_id)
    for item in items:
        if item.kind == METRIC:
            request.metrics.append(item)
        elif item.kind == PARAM:
            request.params.append(item)
        else:
            request.tags.append(item)
    return request


class _RunPlanner:
    """Builds the requests of one run in order."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.requests: list[Request] = []
        self._current = LogRequest(run_id)
        self._params: dict[str, str] = {}
        self._tags: dict[str, int] = {}

    def _close(self) -> None:
        if len(self._current):
            self.requests.append(self._current)
        self._current = LogRequest(self.run_id)
        self._params = {}
        self._tags = {}

    def add(self, item: Item) -> None:
        current = self._current
        if item.kind == END:
            self._close()
            self.requests.append(EndRequest(self.run_id, item.key, item.timestamp))
            return
        if item.kind == PARAM:
            known = self._params.get(item.key)
            if known is not None and known == item.value:
                return
            if known is not None or len(current.params) >= MAX_PARAMS_PER_REQUEST:
                self._close()
        elif item.kind == TAG:
            position = self._tags.get(item.key)
            if position is not None:
                current.tags[position] = item
                return
            if len(current.tags) >= MAX_TAGS_PER_REQUEST:
                self._close()
        elif len(current.metrics) >= MAX_METRICS_PER_REQUEST:
            self._close()
        if len(self._current) >= MAX_ITEMS_PER_REQUEST:
            self._close()
        current = self._current
        if item.kind == METRIC:
            current.metrics.append(item)
        elif item.kind == PARAM:
            current.params.append(item)
            self._params[item.key] = str(item.value)
        else:
            self._tags[item.key] = len(current.tags)
            current.tags.append(item)

    def finish(self) -> list[Request]:
        self._close()
        return self.requests


def plan_requests(items: Iterable[Item]) -> list[Request]:
    """Group `items` into requests: per run (runs in order of first appearance), order kept."""
    planners: dict[str, _RunPlanner] = {}
    for item in items:
        planner = planners.get(item.run_id)
        if planner is None:
            planner = planners[item.run_id] = _RunPlanner(item.run_id)
        planner.add(item)
    return [request for planner in planners.values() for request in planner.finish()]


_NETWORK_SCHEMES = ("http:", "https:", "grpc:", "grpcs:")


def delivery_client(tracking_uri: str) -> Client:
    """A Client for delivering batches: its transport makes one attempt per call, because the caller
    (`deliver` with a RetryDecider) does the retrying and decides when to give up. Embedded URIs get a
    plain Client (there is no network to retry)."""
    if not tracking_uri.lower().startswith(_NETWORK_SCHEMES):
        return Client(tracking_uri)
    transport = transport_for(tracking_uri)
    transport.retry = RetryPolicy.never()
    return Client(tracking_uri, transport=transport)


class BatchClient(Protocol):
    """What delivery needs from `polytrack.Client`."""

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Any] = ...,
        params: Sequence[Any] = ...,
        tags: Sequence[Any] = ...,
    ) -> Any:
        """Log metrics, params and tags to a run in one request."""
        ...

    def set_terminated(self, run_id: str, status: str = ..., end_time: int | None = ...) -> Any:
        """Set a run's final status and end time."""
        ...

    @property
    def accepts_metric_columns(self) -> bool:
        """Whether LogBatch requests may carry `metric_columns` (see `send_log_batch`)."""
        ...

    def send_log_batch(self, request: tracking_service_pb2.LogBatchRequest) -> Any:
        """Send one prepared LogBatch request."""
        ...

    def get_run(self, run_id: str) -> Any:
        """Fetch a run (used to tell a deleted or missing run from a bad item)."""
        ...


def metric_message(item: Item) -> tracking_pb2.Metric:
    """The Metric message of a METRIC item."""
    return tracking_pb2.Metric(
        key=item.key,
        value=float(item.value),
        timestamp=item.timestamp,
        step=item.step,
        model_id=item.model_id,
        dataset_name=item.dataset_name,
        dataset_digest=item.dataset_digest,
    )


def param_messages(request: LogRequest) -> list[tracking_pb2.Param]:
    """The Param messages of a request's PARAM items."""
    return [tracking_pb2.Param(key=item.key, value=str(item.value)) for item in request.params]


def tag_messages(request: LogRequest) -> list[tracking_pb2.RunTag]:
    """The RunTag messages of a request's TAG items."""
    return [tracking_pb2.RunTag(key=item.key, value=str(item.value)) for item in request.tags]


def columnar_request(request: LogRequest) -> tracking_service_pb2.LogBatchRequest:
    """`request` as one LogBatch request with its metric points in `metric_columns` (a polytrack
    extension: several times cheaper to build, send and read than a Metric message per point).
    Points linked to a model or dataset, which columns do not carry, stay Metric messages."""
    keys: dict[str, int] = {}
    key_indexes: list[int] = []
    values: list[float] = []
    timestamps: list[int] = []
    steps: list[int] = []
    linked: list[tracking_pb2.Metric] = []
    for item in request.metrics:
        if item.model_id or item.dataset_name or item.dataset_digest:
            linked.append(metric_message(item))
            continue
        index = keys.get(item.key)
        if index is None:
            index = keys[item.key] = len(keys)
        key_indexes.append(index)
        values.append(float(item.value))
        timestamps.append(item.timestamp)
        steps.append(item.step)
    columns = None
    if key_indexes:
        columns = tracking_pb2.MetricColumns(
            keys=list(keys), key_indexes=key_indexes, values=values, timestamps=timestamps, steps=steps
        )
    return tracking_service_pb2.LogBatchRequest(
        run_id=request.run_id,
        metrics=linked,
        params=param_messages(request),
        tags=tag_messages(request),
        metric_columns=columns,
    )


def send(client: BatchClient, request: Request) -> None:
    """Send one request, with no retry of its own beyond the transport's."""
    if isinstance(request, EndRequest):
        client.set_terminated(request.run_id, request.status, request.end_time)
        return
    if client.accepts_metric_columns:
        client.send_log_batch(columnar_request(request))
        return
    client.log_batch(
        request.run_id,
        metrics=[metric_message(item) for item in request.metrics],
        params=param_messages(request),
        tags=tag_messages(request),
    )


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed later: unreachable service, 408/429/5xx, unknown errors."""
    if not isinstance(error, PolytrackException):
        return True
    status = error.http_status if error.http_status is not None else http_status_for(error.error_code)
    return status >= 500 or status in _RETRYABLE_STATUSES


class RetryDecider(Protocol):
    """Told about every transient failure and every success of a delivery attempt."""

    def should_retry(self, error: BaseException) -> bool:
        """True (after waiting as long as it sees fit) to send the request again; False to give up."""
        ...

    def succeeded(self) -> None:
        """A request reached the server."""
        ...


def _run_is_gone(client: BatchClient, run_id: str) -> bool:
    """Whether the run does not exist or is deleted (so every item for it is refused)."""
    try:
        run = client.get_run(run_id)
    except PolytrackException as error:
        return error.error_code == "RESOURCE_DOES_NOT_EXIST"
    except Exception:
        return False
    stage = getattr(getattr(run, "info", None), "lifecycle_stage", "active")
    return bool(stage == "deleted")


@dataclass
class DeliveryResult:
    """What became of a request: items refused for good, and parts given up on (still unsent)."""

    rejections: list[Rejection] = field(default_factory=list)
    unsent: list[Request] = field(default_factory=list)


def deliver(
    client: BatchClient,
    request: Request,
    retry: RetryDecider,
    sender: Callable[[BatchClient, Request], None] = send,
) -> DeliveryResult:
    """Send `request`, retrying transient failures and narrowing permanent ones down to their items."""
    result = DeliveryResult()
    pending: list[Request] = [request]
    checked_run = False
    while pending:
        part = pending.pop()
        try:
            sender(client, part)
        except Exception as error:
            if is_transient(error):
                if retry.should_retry(error):
                    pending.append(part)
                    continue
                result.unsent.append(part)
                result.unsent.extend(reversed(pending))
                return result
            assert isinstance(error, PolytrackException)  # is_transient() is True for anything else
            retry.succeeded()  # the server answered
            if isinstance(part, EndRequest) or len(part) == 1:
                result.rejections.extend(Rejection(item, error) for item in part.items())
                continue
            if not checked_run:
                checked_run = True
                if _run_is_gone(client, part.run_id):
                    for rest in [part, *pending]:
                        result.rejections.extend(Rejection(item, error) for item in rest.items())
                    return result
            first, second = part.halves()
            pending.extend((second, first))  # the first half is sent first
        else:
            retry.succeeded()
    return result


def json_number(value: float) -> float | str:
    """A float as JSON can carry it: non-finite values as "NaN", "Infinity" or "-Infinity"."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def number_from_json(value: float | int | str) -> float:
    """The inverse of `json_number`."""
    return float(value)
