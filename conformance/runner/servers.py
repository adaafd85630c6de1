"""Servers the runner starts itself: a fresh polytrack, or the official MLflow in its own venv.

Each runs in its own process group over a new SQLite database and artifact folder in a work
directory, with its output in `<workdir>/<kind>-server.log`; `stop()` ends the whole group (MLflow
starts worker processes). polytrack picks free ports itself (`--port 0 --grpc-port 0`) and prints
its addresses; MLflow gets a free port and is ready when `/health` answers OK.

Start-up time-outs are generous: they catch a hung server, not a slow one. CI runs suites side by
side on 2 cores, where MLflow's start (~20 s idle) once took over three minutes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from conformance.runner.schema import REPO_ROOT

MLFLOW_VERSION = "3.17.2"
MLFLOW_VENV_ENV = "POLYTRACK_CONFORMANCE_MLFLOW_VENV"
DEFAULT_MLFLOW_VENV = REPO_ROOT / ".cache" / "mlflow-venv"
_READY = re.compile(r"polytrack server listening: (?P<url>http://\S+) grpc://(?P<grpc>\S+)")


class ServerError(Exception):
    """The server could not be installed or started; the message carries its log's tail."""


@dataclass
class Server:
    """A running server this runner started."""

    kind: str
    url: str
    grpc_target: str | None
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the server's process group, SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "<no log>"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _start(kind: str, command: list[str], workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / f"{kind}-server.log"
    log_path.write_text(f"$ {' '.join(command)}\n", encoding="utf-8")
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,
        )
    finally:
        log.close()
    return process, log_path


def _wait_healthy(url: str, server: Server, deadline: float) -> None:
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(
                f"{server.kind} server exited with status {server.process.returncode}:\n{server.tail()}"
            )
        try:
            response = httpx.get(f"{url}/health", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"/health answered {response.status_code}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.25)
    server.stop()
    raise ServerError(f"{server.kind} server not healthy in time ({last}):\n{server.tail()}")


def spawn_polytrack(workdir: Path, timeout: float = 180.0) -> Server:
    """`polytrack server` on free ports over a new SQLite database in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "polytrack.cli", "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'polytrack.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
        "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0",
    ]  # fmt: skip
    process, log_path = _start("polytrack", command, workdir)
    deadline = time.monotonic() + timeout
    server = Server("polytrack", "", None, process, log_path)
    while time.monotonic() < deadline:
        found = _READY.search(_tail(log_path, 200))
        if found:
            server.url, server.grpc_target = found.group("url"), found.group("grpc")
            _wait_healthy(server.url, server, deadline)
            return server
        if process.poll() is not None:
            raise ServerError(f"polytrack server exited with status {process.returncode}:\n{server.tail()}")
        time.sleep(0.1)
    server.stop()
    raise ServerError(f"polytrack server printed no listening line within {timeout:.0f} s:\n{server.tail()}")


def mlflow_venv(explicit: str | None = None) -> Path:
    """The venv with MLflow: `explicit`, else $POLYTRACK_CONFORMANCE_MLFLOW_VENV, else .cache/mlflow-venv."""
    chosen = explicit or os.environ.get(MLFLOW_VENV_ENV, "").strip()
    return Path(chosen) if chosen else DEFAULT_MLFLOW_VENV


def _installed_mlflow(python: Path) -> str | None:
    if not python.is_file():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_mlflow(venv: Path, log: TextIO = sys.stderr) -> Path:
    """The Python of `venv`, creating it with mlflow==MLFLOW_VERSION when it lacks that version."""
    python = venv / "bin" / "python"
    installed = _installed_mlflow(python)
    if installed == MLFLOW_VERSION:
        return python
    print(f"installing mlflow=={MLFLOW_VERSION} into {venv} (found: {installed or 'none'})", file=log)
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"mlflow=={MLFLOW_VERSION}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ServerError(
            f"pip could not install mlflow=={MLFLOW_VERSION} into {venv}:\n{result.stderr[-3000:]}"
        )
    return python


def spawn_mlflow(workdir: Path, python: Path, timeout: float = 600.0) -> Server:
    """`mlflow server` (from `python`'s venv) on a free port over a new SQLite database in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(python), "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    process, log_path = _start("mlflow", command, workdir)
    url = f"http://127.0.0.1:{port}"
    server = Server("mlflow", url, None, process, log_path)
    _wait_healthy(url, server, time.monotonic() + timeout)
    return server


def wait_reachable(url: str, timeout: float = 30.0) -> None:
    """Raises ServerError unless `url`/health answers within `timeout` (a server named by URL)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url.rstrip('/')}/health", timeout=5.0)
            if response.status_code < 500:
                return
            last = f"/health answered {response.status_code}"
        except httpx.HTTPError as error:
            last = f"{type(error).__name__}: {error}"
        time.sleep(0.5)
    raise ServerError(f"{url} is not reachable: {last}")


__all__ = [
    "MLFLOW_VERSION",
    "Server",
    "ServerError",
    "ensure_mlflow",
    "mlflow_venv",
    "spawn_mlflow",
    "spawn_polytrack",
    "wait_reachable",
]
