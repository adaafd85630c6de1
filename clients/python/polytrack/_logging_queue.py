"""Non-blocking logging that loses nothing: a bounded queue drained in batches by a worker thread.

`LoggingQueue.put()` appends an item and returns at once; a daemon worker thread takes everything
waiting (coalescing), groups it into LogBatch requests (`_batches.plan_requests`: up to 1000 items per
request) and sends them through `polytrack.Client.log_batch`, then an end-of-run marker through
`set_terminated`. `flush()` waits until everything put before it has been dealt with.

Choices:

* **Bounded memory, never dropping.** At most `max_items` (default 100,000, env
  `POLYTRACK_LOGGING_QUEUE_SIZE`) items wait in memory. When the queue is full, `put()` *blocks*
  until the worker has taken items out. The worker always makes progress — it sends, or, when the
  server is unreachable, spools to disk after the deadline — so the wait is bounded by that deadline.
  Dropping data or growing without bound were the alternatives; both were rejected.
* **Transient failures** (unreachable server, 408/429/5xx) are retried with exponential backoff
  (0.1 s doubling to 2 s) while the outage is younger than `spool_after` seconds (default 30, env
  `POLYTRACK_SPOOL_AFTER_SECONDS`). Past it the request, and from then on every request of that run
  made by this process, is written to a spool file (`_spool`), logged at WARNING at once and raised
  as a `PolytrackSpoolWarning` naming the file at the next `flush()`. `polytrack sync` replays it.
  A run stays spooled once it started spooling, so that the order of its tags and end status is kept.
* **Permanent failures** (a bad key, a changed param, a deleted run) are narrowed down to the
  offending items (`_batches.deliver`), logged at ERROR at once, and raised as one
  `PolytrackException` at the next `flush()`; the other items of the batch are still logged.
* **Warnings** are emitted in the caller's thread at `flush()`, never in the worker (a warnings
  filter set to "error" would otherwise kill the worker).
* **Concurrency**: requests holding only metrics are sent up to `concurrency` at a time (default 2,
  env `POLYTRACK_LOGGING_CONCURRENCY`) by sender threads, so the server ingests one batch while the
  next is on its way; a request with params, tags or an end of run waits for everything before it.
* **Fork**: a child process gets empty queues and no worker; the parent sends what it queued.
* **Interpreter exit**: where no thread can be started any more (Python 3.12+ at exit), items are
  delivered in the calling thread instead.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from polytrack._batches import (
    BatchClient,
    EndRequest,
    Item,
    LogRequest,
    Rejection,
    Request,
    deliver,
    plan_requests,
)
from polytrack._spool import SpoolWriter, spool_directory
from polytrack.errors import PolytrackException

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_SPOOL_AFTER_SECONDS",
    "LoggingQueue",
    "OutageRetry",
    "PolytrackSpoolWarning",
    "live_queues",
]

log = logging.getLogger("polytrack")

QUEUE_SIZE_ENV = "POLYTRACK_LOGGING_QUEUE_SIZE"
SPOOL_AFTER_ENV = "POLYTRACK_SPOOL_AFTER_SECONDS"
DEFAULT_MAX_ITEMS = 100_000
DEFAULT_SPOOL_AFTER_SECONDS = 30.0
CONCURRENCY_ENV = "POLYTRACK_LOGGING_CONCURRENCY"
# Requests of metrics in flight at once: two lets the server work on one while the next one travels.
DEFAULT_CONCURRENCY = 2
# Items the worker takes out of the queue at once (then sends as requests of up to 1000).
_TAKE_AT_ONCE = 10_000
# How often a blocked caller checks that the worker is still alive.
_LIVENESS_CHECK_SECONDS = 1.0
_MAX_REPORTED_REJECTIONS = 20


class PolytrackSpoolWarning(UserWarning):
    """Logged data could not reach the tracking server and was written to a local spool file."""


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise PolytrackException(
            f"{name} must be a number, got {text!r}", "INVALID_PARAMETER_VALUE"
        ) from None
    if value < 0:
        raise PolytrackException(f"{name} must not be negative, got {text!r}", "INVALID_PARAMETER_VALUE")
    return value


class OutageRetry:
    """Retries transient failures with backoff until an outage has lasted `give_up_after` seconds.

    One instance is shared by all of a queue's requests: once the server has been unreachable for
    longer than the deadline, further requests get one attempt each and are then given up on (until
    one succeeds and the outage is over).
    """

    def __init__(
        self,
        give_up_after: float,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.give_up_after = give_up_after
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._outage_started: float | None = None
        self._failures = 0

    @property
    def in_outage(self) -> bool:
        """Whether the last request failed transiently."""
        return self._outage_started is not None

    def succeeded(self) -> None:
        """The server answered: the outage, if any, is over."""
        with self._lock:
            self._outage_started = None
            self._failures = 0

    def should_retry(self, error: BaseException) -> bool:
        """Wait a backoff and return True while the outage is younger than the deadline."""
        now = self._clock()
        with self._lock:
            if self._outage_started is None:
                self._outage_started = now
                log.warning("the tracking server cannot be reached (%s); retrying", error)
            remaining = self.give_up_after - (now - self._outage_started)
            if remaining <= 0:
                return False
            ceiling = min(self.max_backoff, self.initial_backoff * 2 ** min(self._failures, 30))
            self._failures += 1
        self._sleep(min(remaining, random.uniform(ceiling / 2, ceiling)))
        return True


_live_queues: weakref.WeakSet[LoggingQueue] = weakref.WeakSet()


class LoggingQueue:
    """A bounded queue of logged items for one tracking server, sent in batches by a worker thread."""

    def __init__(
        self,
        client: BatchClient,
        tracking_uri: str,
        *,
        max_items: int | None = None,
        spool_after: float | None = None,
        spool_dir: Path | None = None,
        retry: OutageRetry | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.client = client
        self.tracking_uri = tracking_uri
        self.max_items = int(
            max_items if max_items is not None else _env_number(QUEUE_SIZE_ENV, DEFAULT_MAX_ITEMS)
        )
        if self.max_items < 1:
            raise ValueError("max_items must be at least 1")
        deadline = (
            spool_after
            if spool_after is not None
            else _env_number(SPOOL_AFTER_ENV, DEFAULT_SPOOL_AFTER_SECONDS)
        )
        self.retry = retry if retry is not None else OutageRetry(deadline)
        self.concurrency = int(
            concurrency if concurrency is not None else _env_number(CONCURRENCY_ENV, DEFAULT_CONCURRENCY)
        )
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._spool_dir = spool_dir
        self._reset()
        _live_queues.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._items: deque[Item] = deque()
        self._enqueued = 0
        self._done = 0
        self._worker: threading.Thread | None = None
        self._worker_waiting = False
        self._inline = False  # no worker thread could be started (interpreter shutting down)
        self._closing = False
        self._crash: BaseException | None = None
        self._tasks: queue.SimpleQueue[tuple[Request, threading.Event] | None] = queue.SimpleQueue()
        self._senders: list[threading.Thread] = []
        # Written by the sending threads, read and cleared by callers (under the lock).
        self._rejections: list[Rejection] = []
        self._new_spool_files: list[Path] = []
        self.requests_sent = 0
        # Used by the sending threads only (under _spool_lock).
        self._spool_lock = threading.Lock()
        self._spoolers: dict[str, SpoolWriter] = {}
        self._spooled_runs: set[str] = set()

    # ------------------------------------------------------------------ callers' side

    def put(self, item: Item) -> None:
        """Queue one item; blocks only while the queue is full."""
        with self._lock:
            if len(self._items) >= self.max_items:
                self._wait_for_room()
            self._items.append(item)
            self._enqueued += 1
            if self._worker_waiting:
                self._not_empty.notify()
            elif self._worker is None and not self._inline:
                self._start_worker()
        if self._inline and len(self._items) >= self.max_items:
            self._drain_inline()

    def put_many(self, items: Iterable[Item]) -> None:
        """Queue several items, in order."""
        for item in items:
            self.put(item)

    def _wait_for_room(self) -> None:
        while len(self._items) >= self.max_items and not self._inline:
            self._check_worker()
            if self._worker_waiting:
                self._not_empty.notify()
            self._not_full.wait(_LIVENESS_CHECK_SECONDS)

    def _check_worker(self) -> None:
        if self._closing:
            raise PolytrackException("the logging queue is closed", "INVALID_STATE")
        if self._worker is None:
            self._start_worker()
        elif not self._worker.is_alive():
            raise PolytrackException(
                f"the logging worker thread stopped unexpectedly: {self._crash!r}", "INTERNAL_ERROR"
            )

    def _start_worker(self) -> None:
        """Start the worker and sender threads (called with the lock held)."""
        try:
            worker = threading.Thread(target=self._work, name="polytrack-logging", daemon=True)
            worker.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown"
            self._inline = True
            return
        self._worker = worker
        if self.concurrency > 1:
            for number in range(self.concurrency):
                sender = threading.Thread(
                    target=self._send_tasks, name=f"polytrack-logging-sender-{number}", daemon=True
                )
                try:
                    sender.start()
                except RuntimeError:
                    break
                self._senders.append(sender)

    def _drain_inline(self) -> None:
        """Deliver the queued items in the calling thread (when no worker thread can run)."""
        while True:
            with self._lock:
                if not self._items:
                    return
                taken = list(self._items)
                self._items.clear()
            try:
                self._process(taken)
            finally:
                with self._lock:
                    self._done += len(taken)
                    self._progress.notify_all()

    @property
    def pending(self) -> int:
        """Items put but not yet dealt with (sent, spooled or rejected)."""
        with self._lock:
            return self._enqueued - self._done

    def flush(self, timeout: float | None = None, *, report: bool = True) -> None:
        """Wait until every item put so far is sent, spooled or rejected; then report.

        With `report` (the default), emits a PolytrackSpoolWarning per new spool file and raises a
        PolytrackException describing the items the server refused since the last report; without
        it, both are kept for the next flush that reports. Raises TimeoutError if `timeout` seconds
        pass first (the items stay queued).
        """
        if self._inline:
            self._drain_inline()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._enqueued
            while self._done < target:
                self._check_worker()
                if self._worker_waiting:
                    self._not_empty.notify()
                wait = _LIVENESS_CHECK_SECONDS
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        raise TimeoutError(f"{target - self._done} logged items are still being sent")
                self._progress.wait(wait)
            if not report:
                return
            spooled, self._new_spool_files = self._new_spool_files, []
            rejections, self._rejections = self._rejections, []
        for path in spooled:
            warnings.warn(
                f"the tracking server {self.tracking_uri} could not be reached; logged data was saved to "
                f"{path}. Run `polytrack sync` to send it once the server is back.",
                PolytrackSpoolWarning,
                stacklevel=3,
            )
        if rejections:
            raise _rejection_error(rejections)

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the threads and close spool files (used at interpreter exit)."""
        try:
            self.flush(timeout)
        finally:
            with self._lock:
                self._closing = True
                self._not_empty.notify_all()
                worker = self._worker
            for _ in self._senders:
                self._tasks.put(None)
            if worker is not None and worker is not threading.current_thread():
                worker.join(timeout=5)
            with self._spool_lock:
                for writer in self._spoolers.values():
                    writer.close()
                self._spoolers.clear()

    # ------------------------------------------------------------------ worker's side

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._items:
                        if self._closing:
                            return
                        self._worker_waiting = True
                        self._not_empty.wait()
                        self._worker_waiting = False
                    count = min(len(self._items), _TAKE_AT_ONCE)
                    popleft = self._items.popleft
                    taken = [popleft() for _ in range(count)]
                    self._not_full.notify_all()
                try:
                    self._process(taken)
                finally:
                    with self._lock:
                        self._done += count
                        self._progress.notify_all()
        except BaseException as error:  # a bug: report it to callers instead of hanging them
            self._crash = error
            log.exception("the polytrack logging worker stopped")
            with self._lock:
                self._progress.notify_all()
                self._not_full.notify_all()

    def _process(self, items: list[Item]) -> None:
        """Send `items` as requests. Requests holding only metrics go out up to `concurrency` at a
        time (their order does not matter); one with params, tags or an end of run waits for all
        requests before it and is sent alone, so that later values always win."""
        in_flight: deque[threading.Event] = deque()
        for request in plan_requests(items):
            metrics_only = isinstance(request, LogRequest) and not request.params and not request.tags
            if metrics_only and self._senders:
                while len(in_flight) >= self.concurrency:
                    in_flight.popleft().wait()
                done = threading.Event()
                self._tasks.put((request, done))
                in_flight.append(done)
                continue
            while in_flight:
                in_flight.popleft().wait()
            self._send(request)
        while in_flight:
            in_flight.popleft().wait()

    def _send_tasks(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                return
            request, done = task
            try:
                self._send(request)
            except BaseException as error:
                self._crash = error
                log.exception("a polytrack logging sender stopped")
            finally:
                done.set()

    def _send(self, request: Request) -> None:
        """Deliver one request: sent, narrowed down to its refused items, or spooled."""
        with self._spool_lock:
            spooled = request.run_id in self._spooled_runs
        if spooled:
            self._spool(request.run_id, [request])
            return
        try:
            result = deliver(self.client, request, self.retry)
        except Exception:  # never lose the request to an unexpected error
            log.exception("sending logged data failed unexpectedly; spooling it")
            self._spool(request.run_id, [request])
            return
        with self._lock:
            self.requests_sent += 1
        if result.rejections:
            self._reject(result.rejections)
        if result.unsent:
            self._spool(request.run_id, result.unsent)

    def _reject(self, rejections: list[Rejection]) -> None:
        for rejection in rejections[:_MAX_REPORTED_REJECTIONS]:
            log.error(
                "the tracking server refused %s of run %s: %s",
                rejection.item.describe(),
                rejection.item.run_id,
                rejection.error,
            )
        with self._lock:
            self._rejections.extend(rejections)

    def _spool(self, run_id: str, requests: list[Request]) -> None:
        with self._spool_lock:
            self._spooled_runs.add(run_id)
            writer = self._spoolers.get(run_id)
            if writer is None or writer.closed:
                directory = self._spool_dir if self._spool_dir is not None else spool_directory()
                writer = self._spoolers[run_id] = SpoolWriter(directory, self.tracking_uri, run_id)
                log.warning(
                    "the tracking server %s could not be reached; logged data of run %s is saved to %s "
                    "(send it later with `polytrack sync`)",
                    self.tracking_uri,
                    run_id,
                    writer.path,
                )
                with self._lock:
                    self._new_spool_files.append(writer.path)
            writer.append(requests)
            if any(isinstance(request, EndRequest) for request in requests):
                writer.close()  # the run is over: let `polytrack sync` take the file

    def _after_fork_in_child(self) -> None:
        self._reset()


def _rejection_error(rejections: list[Rejection]) -> PolytrackException:
    first = rejections[0].error
    shown = "; ".join(
        f"{rejection.item.describe()} of run {rejection.item.run_id}: {rejection.error}"
        for rejection in rejections[:_MAX_REPORTED_REJECTIONS]
    )
    more = len(rejections) - _MAX_REPORTED_REJECTIONS
    suffix = f"; and {more} more" if more > 0 else ""
    noun = "item was" if len(rejections) == 1 else "items were"
    return PolytrackException(
        f"{len(rejections)} logged {noun} refused by the tracking server: {shown}{suffix}",
        first.error_code,
        first.http_status,
    )


def live_queues() -> list[LoggingQueue]:
    """Every queue of this process that is still referenced."""
    return list(_live_queues)


def _reset_queues_in_child() -> None:
    for logging_queue in list(_live_queues):
        logging_queue._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_queues_in_child)
