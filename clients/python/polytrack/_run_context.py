"""The fluent API's state: tracking URI, active experiment, per-thread run stacks, clients and queues.

Thread-safety (as in MLflow): the stack of active runs — and the last ended run — belong to the
thread that started them, so two threads can each run their own `with start_run():`. A thread
without an active run that logs starts a run of its own, as MLflow does; pass `run_id=` to log to
another thread's run. The tracking URI and the active experiment are process-wide, guarded by one
lock. Every active run is also recorded process-wide so that interpreter exit can end them all.

Each tracking URI gets two clients: `client` for the calls made in the caller's thread (with the
transport's own retries) and `queue_client` without transport retries for the logging queue, which
retries and spools by itself (`_batches.delivery_client`).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Literal

from polytrack._batches import delivery_client
from polytrack._logging_queue import LoggingQueue
from polytrack._transport import resolve_tracking_uri
from polytrack.client import Client
from polytrack.entities import Run, RunData, RunInfo, RunInputs, RunOutputs, RunStatus

__all__ = ["ActiveRun", "FluentState", "state"]

log = logging.getLogger("polytrack")


@dataclass
class Connection:
    """The clients and logging queue of one tracking URI."""

    tracking_uri: str
    client: Client
    queue_client: Client
    queue: LoggingQueue


class ActiveRun:
    """A run started by `polytrack.start_run()`: its `info`, `data` and `inputs` as they were at the
    start (like MLflow's ActiveRun), and a context manager that ends the run on exit — FINISHED
    normally, FAILED when an exception escapes the block, KILLED on KeyboardInterrupt."""

    def __init__(self, run: Run, connection: Connection) -> None:
        self._run = run
        self._connection = connection
        self._pid = os.getpid()

    @property
    def info(self) -> RunInfo:
        """The run's metadata when it was started (or resumed)."""
        return self._run.info

    @property
    def data(self) -> RunData:
        """The run's metrics, params and tags when it was started (or resumed)."""
        return self._run.data

    @property
    def inputs(self) -> RunInputs:
        """The run's dataset inputs when it was started (or resumed)."""
        return self._run.inputs

    @property
    def outputs(self) -> RunOutputs:
        """The run's logged-model outputs when it was started (or resumed)."""
        return self._run.outputs

    @property
    def started_by_this_process(self) -> bool:
        """False in a process forked from the one that started the run (which must not end it)."""
        return self._pid == os.getpid()

    @property
    def connection(self) -> Connection:
        """Where the run lives: its tracking URI, client and logging queue."""
        return self._connection

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> Literal[False]:
        from polytrack.fluent import _end_run_object

        if exc_type is None:
            _end_run_object(self, RunStatus.FINISHED.value)
            return False
        status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
        try:
            _end_run_object(self, status.value)
        except Exception:  # never hide the exception that is leaving the block
            log.exception("ending run %s after an exception failed", self.info.run_id)
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id!r}, experiment_id={self.info.experiment_id!r}>"


class _ThreadRuns(threading.local):
    def __init__(self) -> None:
        self.stack: list[ActiveRun] = []
        self.last_run_id: str | None = None
        self.last_connection: Connection | None = None


class FluentState:
    """Process-wide fluent state; one instance, `state`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self._connections: dict[str, Connection] = {}
        self._threads = _ThreadRuns()
        self._active: dict[int, ActiveRun] = {}

    # --- tracking URI and connections ---------------------------------------------------------
    def effective_tracking_uri(self) -> str:
        """The URI set with set_tracking_uri, else the environment's, else the default."""
        with self.lock:
            return resolve_tracking_uri(self.tracking_uri)

    def set_tracking_uri(self, uri: str | None) -> None:
        """Change the tracking URI; the active experiment is forgotten when the server changes."""
        with self.lock:
            before = resolve_tracking_uri(self.tracking_uri)
            self.tracking_uri = uri
            if resolve_tracking_uri(uri) != before:
                self.experiment_id = None

    def connection(self, uri: str | None = None) -> Connection:
        """The connection to `uri` (default: the current tracking URI), created on first use."""
        with self.lock:
            resolved = resolve_tracking_uri(uri if uri is not None else self.tracking_uri)
            found = self._connections.get(resolved)
            if found is None:
                client = Client(resolved)
                queue_client = delivery_client(resolved)  # the queue retries by itself, then spools
                found = Connection(resolved, client, queue_client, LoggingQueue(queue_client, resolved))
                self._connections[resolved] = found
            return found

    def connections(self) -> list[Connection]:
        """Every connection opened so far."""
        with self.lock:
            return list(self._connections.values())

    # --- runs -----------------------------------------------------------------------------------
    def stack(self) -> list[ActiveRun]:
        """This thread's stack of active runs (innermost last)."""
        return self._threads.stack

    def push(self, run: ActiveRun) -> None:
        """Make `run` this thread's active run."""
        self._threads.stack.append(run)
        with self.lock:
            self._active[id(run)] = run

    def is_active(self, run: ActiveRun) -> bool:
        """Whether `run` was started and has not ended yet."""
        with self.lock:
            return id(run) in self._active

    def remove(self, run: ActiveRun) -> None:
        """Forget `run` as active (it has ended) and remember it as this thread's last run."""
        stack = self._threads.stack
        if run in stack:
            stack.remove(run)
        with self.lock:
            self._active.pop(id(run), None)
        self._threads.last_run_id = run.info.run_id
        self._threads.last_connection = run.connection

    def last_run(self) -> tuple[str, Connection] | None:
        """This thread's last ended run and where it lives."""
        threads = self._threads
        if threads.last_run_id is None or threads.last_connection is None:
            return None
        return threads.last_run_id, threads.last_connection

    def all_active(self) -> list[ActiveRun]:
        """Active runs of every thread, most recently started last."""
        with self.lock:
            return list(self._active.values())

    def reset(self) -> None:
        """Forget everything (tests): runs, experiment, URI; flush and close connections."""
        with self.lock:
            connections = list(self._connections.values())
            self._connections.clear()
            self._active.clear()
            self.tracking_uri = None
            self.experiment_id = None
        self._threads.stack.clear()
        self._threads.last_run_id = None
        self._threads.last_connection = None
        for connection in connections:
            try:
                connection.queue.close()
            finally:
                connection.client.close()
                if connection.queue_client is not connection.client:
                    connection.queue_client.close()


state = FluentState()


def _reset_lock_in_child() -> None:
    # Another thread of the parent may have held the lock when it forked; it never releases it here.
    state.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _exit_status() -> str:
    """The status of runs still active at exit: KILLED after Ctrl-C, FAILED after an uncaught error
    (the interpreter records it in `sys.last_value` before running exit handlers), else FINISHED."""
    error = getattr(sys, "last_value", None)
    if error is None:
        return RunStatus.FINISHED.value
    if isinstance(error, KeyboardInterrupt):
        return RunStatus.KILLED.value
    return RunStatus.FAILED.value


def _at_exit() -> None:
    """End runs left active, then deliver (or spool) everything queued."""
    from polytrack.fluent import _end_run_object

    status = _exit_status()
    for run in reversed(state.all_active()):
        if not run.started_by_this_process:
            continue  # a forked child exiting: the parent still owns its runs
        try:
            _end_run_object(run, status)
        except Exception:
            log.exception("ending run %s at exit failed", run.info.run_id)
    for connection in state.connections():
        try:
            connection.queue.close()
        except Exception:
            log.exception("delivering logged data to %s at exit failed", connection.tracking_uri)


atexit.register(_at_exit)
