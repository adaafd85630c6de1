"""The background logging queue, against a scripted fake client: batching, limits, ordering,
retries, rejections narrowed to their items, bounded memory, and spooling when the server is gone."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from polytrack._batches import END, METRIC, PARAM, TAG, EndRequest, Item, LogRequest, plan_requests
from polytrack._logging_queue import LoggingQueue, OutageRetry, PolytrackSpoolWarning
from polytrack._spool import list_spool_files, read_spool_file
from polytrack.errors import PolytrackException

RUN = "run-a"


def unreachable() -> PolytrackException:
    return PolytrackException(
        "Cannot reach the tracking server: connection refused", "TEMPORARILY_UNAVAILABLE"
    )


@dataclass
class FakeServer:
    """Stores what a polytrack server would, with its dedup and param rules, and records requests.

    `down` makes every request fail as unreachable; `gate` (when set) holds each request until it is
    set; keys containing "!" are refused with INVALID_PARAMETER_VALUE, refusing the whole request
    atomically like the real server.
    """

    metrics: dict[str, set[tuple[str, float, int, int]]] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    ended: dict[str, tuple[str, int]] = field(default_factory=dict)
    deleted_runs: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, int, int, int]] = field(default_factory=list)  # kind, run, m, p, t
    calls: list[str] = field(default_factory=list)
    down: bool = False
    fail_next: int = 0
    gate: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, what: str) -> None:
        if self.gate is not None:
            assert self.gate.wait(10), "test gate never opened"
        with self.lock:
            self.calls.append(what)
            if self.down:
                raise unreachable()
            if self.fail_next:
                self.fail_next -= 1
                raise PolytrackException("service unavailable", "TEMPORARILY_UNAVAILABLE", 503)

    # Metric messages, as sent to a server that may be MLflow (columns: see test_batches.py).
    accepts_metric_columns = False

    def log_batch(self, run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> None:
        self._enter("log_batch")
        metrics, params, tags = list(metrics), list(params), list(tags)
        with self.lock:
            self.requests.append(("log_batch", run_id, len(metrics), len(params), len(tags)))
            if run_id in self.deleted_runs:
                raise PolytrackException(
                    f"The run {run_id} must be in the 'active' state", "INVALID_PARAMETER_VALUE", 400
                )
            assert len(metrics) <= 1000 and len(params) <= 100 and len(tags) <= 100
            assert len(metrics) + len(params) + len(tags) <= 1000
            assert len({p.key for p in params}) == len(params), "duplicate param keys in one request"
            for entry in [*metrics, *params, *tags]:
                if "!" in entry.key:
                    raise PolytrackException(f"Invalid key {entry.key!r}", "INVALID_PARAMETER_VALUE", 400)
            stored = self.params.setdefault(run_id, {})
            for param in params:
                if param.key in stored and stored[param.key] != param.value:
                    raise PolytrackException(
                        f"Changing param values is not allowed. Param with key='{param.key}'",
                        "INVALID_PARAMETER_VALUE",
                        400,
                    )
            for param in params:
                stored[param.key] = param.value
            points = self.metrics.setdefault(run_id, set())
            for metric in metrics:
                points.add((metric.key, metric.value, metric.timestamp, metric.step))
            self.tags.setdefault(run_id, {}).update({tag.key: tag.value for tag in tags})

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        self._enter("set_terminated")
        with self.lock:
            self.requests.append(("set_terminated", run_id, 0, 0, 0))
            self.ended[run_id] = (status, end_time or 0)

    def get_run(self, run_id: str) -> Any:
        self._enter("get_run")

        class Info:
            lifecycle_stage = "deleted" if run_id in self.deleted_runs else "active"

        class Run:
            info = Info()

        return Run()

    def batches(self) -> list[tuple[str, str, int, int, int]]:
        return [request for request in self.requests if request[0] == "log_batch"]


def hold_worker_with_first_item(queue: LoggingQueue, item: Item) -> None:
    """Put `item` and wait until the worker has taken it (and is held by the server's gate)."""
    queue.put(item)
    deadline = time.monotonic() + 5
    while queue._items and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not queue._items


def metric(step: int, key: str = "loss", run: str = RUN) -> Item:
    return Item(run, METRIC, key, step * 0.5, 1_700_000_000_000 + step, step)


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def make_queue(spool_dir: Path) -> Any:
    made: list[LoggingQueue] = []

    def make(server: FakeServer, **options: Any) -> LoggingQueue:
        options.setdefault("spool_after", 5.0)
        options.setdefault("spool_dir", spool_dir)
        queue = LoggingQueue(server, "http://tracking.invalid:5000", **options)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close(timeout=10)


# --- request planning ------------------------------------------------------------------------------
def test_plan_respects_the_server_limits_and_keeps_each_runs_order() -> None:
    items = [metric(step) for step in range(2500)]
    items += [Item(RUN, PARAM, f"p{index}", str(index)) for index in range(150)]
    items += [Item(RUN, TAG, f"t{index}", "v") for index in range(250)]
    items.append(Item("run-b", METRIC, "acc", 1.0, 5, 0))
    requests = plan_requests(items)
    sizes = [(len(r.metrics), len(r.params), len(r.tags)) for r in requests if isinstance(r, LogRequest)]
    assert all(m <= 1000 and p <= 100 and t <= 100 and m + p + t <= 1000 for m, p, t in sizes)
    ours = [r for r in requests if r.run_id == RUN]
    flattened = [item for request in ours for item in request.items()]
    assert [i for i in flattened if i.kind == METRIC] == items[:2500]
    assert sum(len(r) for r in requests) == len(items)
    assert [r.run_id for r in requests].count("run-b") == 1


def test_plan_coalesces_repeated_tags_and_params_but_splits_a_changed_param() -> None:
    items = [
        Item(RUN, TAG, "epoch", "1"),
        Item(RUN, TAG, "epoch", "2"),
        Item(RUN, PARAM, "lr", "0.1"),
        Item(RUN, PARAM, "lr", "0.1"),
        Item(RUN, TAG, "epoch", "3"),
        Item(RUN, PARAM, "lr", "0.2"),
    ]
    first, second = plan_requests(items)
    assert isinstance(first, LogRequest) and isinstance(second, LogRequest)
    assert [(t.key, t.value) for t in first.tags] == [("epoch", "3")]
    assert [(p.key, p.value) for p in first.params] == [("lr", "0.1")]
    assert [(p.key, p.value) for p in second.params] == [("lr", "0.2")]


def test_an_end_marker_follows_the_data_logged_before_it() -> None:
    items = [metric(1), Item(RUN, END, "FINISHED", "", 99), metric(2)]
    requests = plan_requests(items)
    assert [type(r).__name__ for r in requests] == ["LogRequest", "EndRequest", "LogRequest"]
    end = requests[1]
    assert isinstance(end, EndRequest) and (end.status, end.end_time) == ("FINISHED", 99)


# --- batching -------------------------------------------------------------------------------------
def test_ten_thousand_points_arrive_complete_in_few_requests(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server)
    for step in range(10_000):
        queue.put(metric(step))
    queue.put(Item(RUN, END, "FINISHED", "", 1))
    queue.flush()
    assert len(server.metrics[RUN]) == 10_000
    assert server.ended[RUN][0] == "FINISHED"
    batches = server.batches()
    assert len(batches) <= 60, f"{len(batches)} requests for 10,000 points"
    assert server.requests[-1][0] == "set_terminated"


def test_whatever_waits_is_coalesced_into_full_batches(make_queue: Any) -> None:
    server = FakeServer(gate=threading.Event())
    queue = make_queue(server, concurrency=1)
    hold_worker_with_first_item(queue, metric(0))
    for step in range(1, 2501):
        queue.put(metric(step))
    server.gate.set()
    queue.flush()
    assert [request[2] for request in server.batches()] == [1, 1000, 1000, 500]


def test_metrics_only_requests_are_sent_concurrently(make_queue: Any) -> None:
    server = FakeServer()
    in_flight = 0
    peak = 0
    guard = threading.Lock()
    original = server.log_batch

    def slow_log_batch(*args: Any, **kwargs: Any) -> None:
        nonlocal in_flight, peak
        with guard:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        try:
            original(*args, **kwargs)
        finally:
            with guard:
                in_flight -= 1

    server.log_batch = slow_log_batch  # type: ignore[method-assign]
    queue = make_queue(server, concurrency=3)
    queue.put_many(metric(step) for step in range(6000))
    queue.flush()
    assert len(server.metrics[RUN]) == 6000
    assert 2 <= peak <= 3


def test_tags_keep_their_last_value_across_batches(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server, concurrency=4)
    for step in range(3000):
        queue.put(metric(step))
        if step % 500 == 0:
            queue.put(Item(RUN, TAG, "progress", str(step)))
    queue.flush()
    assert server.tags[RUN]["progress"] == "2500"


# --- rejections -----------------------------------------------------------------------------------
def test_a_bad_item_is_reported_at_flush_and_the_rest_of_its_batch_still_arrives(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server)
    server.gate = threading.Event()
    queue.put_many(metric(step) for step in range(500))
    queue.put(metric(7, key="bad!key"))
    queue.put_many(metric(step) for step in range(500, 1000))
    server.gate.set()
    with pytest.raises(PolytrackException) as raised:
        queue.flush()
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "bad!key" in raised.value.message and "1 logged item was refused" in raised.value.message
    assert len(server.metrics[RUN]) == 1000
    assert len(server.batches()) < 40  # narrowed down by halves, not item by item
    queue.put(metric(1000))
    queue.flush()  # the error was reported once
    assert len(server.metrics[RUN]) == 1001


def test_a_changed_param_is_refused_and_other_params_are_kept(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server)
    queue.put(Item(RUN, PARAM, "lr", "0.1"))
    queue.put(Item(RUN, PARAM, "lr", "0.2"))
    queue.put(Item(RUN, PARAM, "batch", "64"))
    with pytest.raises(PolytrackException, match="Changing param values"):
        queue.flush()
    assert server.params[RUN] == {"lr": "0.1", "batch": "64"}


def test_items_of_a_deleted_run_are_refused_without_narrowing_item_by_item(make_queue: Any) -> None:
    server = FakeServer(deleted_runs={RUN}, gate=threading.Event())
    queue = make_queue(server, concurrency=1)
    hold_worker_with_first_item(queue, metric(0))
    queue.put_many(metric(step) for step in range(1, 1000))
    server.gate.set()
    with pytest.raises(PolytrackException, match="1000 logged items were refused"):
        queue.flush()
    assert [request[2] for request in server.batches()] == [1, 999]
    assert server.calls.count("get_run") == 1  # for the request of 999; none needed for a single item
    assert RUN not in server.metrics


# --- transient failures and the spool --------------------------------------------------------------
def test_transient_failures_are_retried_until_delivered(make_queue: Any, spool_dir: Path) -> None:
    server = FakeServer(fail_next=3)
    sleeps: list[float] = []
    queue = make_queue(server, retry=OutageRetry(30.0, sleep=sleeps.append))
    queue.put_many(metric(step) for step in range(10))
    queue.put(Item(RUN, END, "FINISHED", "", 5))
    queue.flush()
    assert len(server.metrics[RUN]) == 10 and server.ended[RUN] == ("FINISHED", 5)
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # exponential backoff
    assert list_spool_files(spool_dir) == []


def test_an_outage_past_the_deadline_spools_everything_and_warns(make_queue: Any, spool_dir: Path) -> None:
    server = FakeServer(down=True)
    queue = make_queue(server, spool_after=0.3)
    queue.put_many(metric(step) for step in range(2500))
    queue.put(Item(RUN, PARAM, "lr", "0.1"))
    queue.put(Item(RUN, TAG, "team", "vision"))
    queue.put(Item(RUN, END, "FAILED", "", 77))
    with pytest.warns(PolytrackSpoolWarning, match="polytrack sync") as caught:
        queue.flush()
    files = list_spool_files(spool_dir)
    assert len(files) == 1 and str(files[0]) in str(caught[0].message)
    contents = read_spool_file(files[0])
    assert contents.tracking_uri == "http://tracking.invalid:5000" and contents.run_id == RUN
    items = contents.items()
    assert sorted(i.step for i in items if i.kind == METRIC) == list(range(2500))
    assert [(i.key, i.value) for i in items if i.kind == PARAM] == [("lr", "0.1")]
    assert items[-1] == Item(RUN, END, "FAILED", "", 77)
    assert RUN not in server.metrics


def test_a_spooled_run_stays_spooled_and_later_items_need_no_new_timeout(
    make_queue: Any, spool_dir: Path
) -> None:
    server = FakeServer(down=True)
    queue = make_queue(server, spool_after=0.2)
    queue.put(metric(0))
    with pytest.warns(PolytrackSpoolWarning):
        queue.flush()
    attempts = len(server.calls)
    server.down = False  # the server is back, but this run's order must be kept: keep spooling
    started = time.monotonic()
    queue.put(metric(1))
    queue.put(Item(RUN, END, "FINISHED", "", 3))
    queue.flush()  # same file: no second warning
    assert time.monotonic() - started < 0.2
    assert len(server.calls) == attempts
    (path,) = list_spool_files(spool_dir)
    assert [i.step for i in read_spool_file(path).items() if i.kind == METRIC] == [0, 1]


def test_unexpected_client_errors_never_lose_data(make_queue: Any, spool_dir: Path) -> None:
    server = FakeServer()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the transport")

    server.log_batch = broken  # type: ignore[method-assign]
    queue = make_queue(server, spool_after=0.1)
    queue.put_many(metric(step) for step in range(5))
    with pytest.warns(PolytrackSpoolWarning):
        queue.flush()
    (path,) = list_spool_files(spool_dir)
    assert len(read_spool_file(path).items()) == 5


# --- bounded memory -------------------------------------------------------------------------------
def test_a_full_queue_blocks_the_caller_instead_of_dropping(make_queue: Any) -> None:
    server = FakeServer(gate=threading.Event())
    queue = make_queue(server, max_items=100, concurrency=1)
    produced = threading.Event()
    peak = 0

    def produce() -> None:
        for step in range(1000):
            queue.put(metric(step))
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        peak = max(peak, len(queue._items))
        time.sleep(0.01)
    assert not produced.is_set(), "put() should block while the queue is full"
    assert peak <= 100
    server.gate.set()
    producer.join(10)
    assert produced.is_set()
    queue.flush()
    assert len(server.metrics[RUN]) == 1000


def test_flush_can_time_out_and_the_items_stay_queued(make_queue: Any) -> None:
    server = FakeServer(gate=threading.Event())
    queue = make_queue(server)
    queue.put(metric(0))
    with pytest.raises(TimeoutError):
        queue.flush(timeout=0.2)
    server.gate.set()
    queue.flush()
    assert len(server.metrics[RUN]) == 1


def test_a_forked_child_starts_with_an_empty_queue(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server)
    queue._inline = True  # keep the parent's items queued (no worker), as at the moment of a fork
    queue.put_many(metric(step) for step in range(10))
    queue._after_fork_in_child()  # what os.register_at_fork runs in a child
    assert queue.pending == 0
    queue.put(metric(99))
    queue.flush()
    assert server.metrics[RUN] == {("loss", 49.5, 1_700_000_000_099, 99)}


def test_without_a_worker_thread_items_are_delivered_by_the_caller(make_queue: Any) -> None:
    server = FakeServer()
    queue = make_queue(server)
    queue._inline = True  # as when the interpreter refuses new threads at exit
    queue.put_many(metric(step) for step in range(1500))
    queue.flush()
    assert len(server.metrics[RUN]) == 1500 and queue._worker is None


def test_spool_files_are_json_lines(make_queue: Any, spool_dir: Path) -> None:
    server = FakeServer(down=True)
    queue = make_queue(server, spool_after=0.0)
    queue.put(Item(RUN, METRIC, "x", float("nan"), 1, 2))
    queue.put(Item(RUN, METRIC, "y", float("inf"), 1, 2))
    with pytest.warns(PolytrackSpoolWarning):
        queue.flush()
    (path,) = list_spool_files(spool_dir)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["polytrack_spool"] == 1
    points = [point for line in lines[1:] for point in line["log"]["metrics"]]
    assert points == [["x", "NaN", 1, 2], ["y", "Infinity", 1, 2]]


def test_outage_retry_gives_up_after_its_deadline() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    retry = OutageRetry(1.0, sleep=sleep, clock=lambda: now[0])
    attempts = 0
    while retry.should_retry(unreachable()):
        attempts += 1
    assert attempts >= 3 and now[0] == pytest.approx(1.0, abs=0.01)
    assert not retry.should_retry(unreachable())  # still down: no more waiting
    retry.succeeded()
    assert retry.should_retry(unreachable())  # a new outage gets a new deadline
