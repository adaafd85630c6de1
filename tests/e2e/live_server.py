"""Start a real tracking server (polytrack, or MLflow for comparison) as a subprocess.

`start_server("polytrack", tmp_path)` runs `polytrack server` on OS-chosen ports and waits for its
"listening" line; `start_server("mlflow", tmp_path)` runs `mlflow server` from the interpreter named
by $POLYTRACK_TEST_MLFLOW_PYTHON on a free port and waits for `/health`. Both write everything the
server prints to a log file whose tail is included in every failure message, and both run the
server in its own process group so that `stop()` also ends any worker processes it spawned.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

MLFLOW_PYTHON_ENV = "POLYTRACK_TEST_MLFLOW_PYTHON"
ServerKind = Literal["polytrack", "mlflow"]

READY_LINE = re.compile(
    r"polytrack server listening: (?P<url>http://\S+?:(?P<port>\d+)) grpc://(?P<grpc>\S+)"
)

# The MLflow server imports a lot (FastAPI, Flask, SQLAlchemy, its job runner) before it listens.
# Generous: they catch a hung server, not one slowed by suites running side by side on 2 cores.
DEFAULT_TIMEOUT = {"polytrack": 180.0, "mlflow": 600.0}


class ServerStartError(RuntimeError):
    """The server did not become ready; the message carries the tail of its log."""


def mlflow_python() -> str | None:
    """The interpreter of the virtualenv holding the official `mlflow` package, if configured."""
    value = os.environ.get(MLFLOW_PYTHON_ENV, "").strip()
    return value or None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "<no log written>"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServerHandle:
    kind: ServerKind
    url: str
    grpc_target: str | None
    process: subprocess.Popen[bytes]
    log_path: Path
    _reader: threading.Thread | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def describe(self, lines: int = 60) -> str:
        """A block for failure messages: which server, where its log is, and its last lines."""
        return f"{self.kind} server {self.url} (log {self.log_path}), last lines:\n{self.log_tail(lines)}"

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        """Ask the server to stop (SIGTERM to its process group), killing it if it does not."""
        _stop_group(self.process, timeout)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.process.returncode

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # Workers of the group (MLflow's uvicorn and job runner) may outlive the leader briefly.
    deadline = time.monotonic() + min(timeout, 5.0)
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


class _LogPump:
    """Copies the server's merged stdout/stderr into the log file and spots the ready line."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.ready = threading.Event()
        self.match: re.Match[str] | None = None
        self.thread = threading.Thread(target=self._run, name=f"server-log-{process.pid}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in iter(self.process.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                log.write(line)
                log.flush()
                if self.match is None:
                    found = READY_LINE.search(line)
                    if found:
                        self.match = found
                        self.ready.set()
        self.process.stdout.close()
        self.ready.set()


def _spawn(command: list[str], log_path: Path, cwd: Path) -> tuple[subprocess.Popen[bytes], _LogPump]:
    log_path.write_text(f"$ {' '.join(command)}\n", encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    return process, _LogPump(process, log_path)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline: float) -> str | None:
    """Poll GET /health until it answers OK; returns a reason if it never does."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with status {process.returncode}"
        try:
            response = httpx.get(f"{url}/health", timeout=2.0)
            if response.status_code == 200 and response.text.strip() == "OK":
                return None
            last = f"/health answered {response.status_code} {response.text[:200]!r}"
        except httpx.HTTPError as error:
            last = f"/health: {type(error).__name__}: {error}"
        time.sleep(0.25)
    return f"not healthy after timeout ({last})"


def start_server(
    kind: ServerKind,
    tmp_path: Path,
    *,
    timeout: float | None = None,
    host: str = "127.0.0.1",
) -> ServerHandle:
    """Start a fresh server over a new SQLite database and artifact directory under `tmp_path`."""
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    timeout = DEFAULT_TIMEOUT[kind] if timeout is None else timeout
    deadline = time.monotonic() + timeout
    log_path = tmp_path / f"{kind}-server.log"
    artifacts = tmp_path / "artifacts"

    if kind == "polytrack":
        command = [
            sys.executable, "-m", "polytrack.cli", "server",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'db.sqlite'}",
            "--artifacts-destination", str(artifacts),
            "--host", host, "--port", "0", "--grpc-port", "0",
        ]  # fmt: skip
    elif kind == "mlflow":
        python = mlflow_python()
        if python is None:
            raise ServerStartError(f"${MLFLOW_PYTHON_ENV} is not set; cannot start an MLflow server")
        port = free_port(host)
        command = [
            python, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination", str(artifacts),
            "--host", host, "--port", str(port), "--workers", "1",
        ]  # fmt: skip
    else:
        raise ValueError(f"unknown server kind {kind!r}")

    process, pump = _spawn(command, log_path, tmp_path)

    def fail(reason: str) -> ServerStartError:
        _stop_group(process, 10.0)
        pump.thread.join(timeout=5)
        return ServerStartError(f"{kind} server did not start: {reason}\nlog {log_path}:\n{tail(log_path)}")

    if kind == "polytrack":
        pump.ready.wait(max(0.0, deadline - time.monotonic()))
        if pump.match is None:
            # Output ended (or the deadline passed): give an exiting process a moment to be reaped.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            if process.poll() is not None:
                raise fail(f"exited with status {process.returncode} before printing its listening line")
            raise fail(f"no listening line within {timeout:.0f} s")
        url = pump.match.group("url")
        grpc_target: str | None = pump.match.group("grpc")
    else:
        url = f"http://{host}:{port}"
        grpc_target = None

    problem = _wait_healthy(url, process, deadline)
    if problem is not None:
        raise fail(problem)
    return ServerHandle(kind, url, grpc_target, process, log_path, pump.thread)
