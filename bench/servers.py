"""Start, measure and stop the servers under test, one at a time.

Each server runs in its own session (`start_new_session=True`), so its whole process tree — worker
processes, job runners, and children re-parented to init — is found by session id when measuring
memory and when stopping.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from client import RestClient

REPO = Path(__file__).resolve().parent.parent
MLFLOW_VERSION = "3.17.2"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_LISTENING = re.compile(r"polytrack server listening: http://[^\s:]+:(\d+) grpc://[^\s]+:(\d+)")


# --------------------------------------------------------------------------------------------
# /proc helpers (psutil is not guaranteed to be installed)


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    sid: int
    rss_kb: int
    cpu_s: float  # user + system CPU time so far
    cmd: str


def _read_proc(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # Fields after the parenthesised command name: state ppid pgrp session ...
    rest = stat[stat.rindex(")") + 2 :].split()
    rss_kb = 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
            break
    cmd = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    cpu_s = (int(rest[11]) + int(rest[12])) / _CLK_TCK
    return ProcInfo(pid, int(rest[1]), int(rest[3]), rss_kb, cpu_s, cmd)


def _all_procs() -> list[ProcInfo]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _read_proc(int(entry))
            if info is not None:
                procs.append(info)
    return procs


def process_tree(root: int) -> list[ProcInfo]:
    """The root, its descendants, and every process of its session (catches re-parented orphans)."""
    procs = _all_procs()
    children: dict[int, list[ProcInfo]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    found = {p.pid: p for p in procs if p.sid == root or p.pid == root}
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                stack.append(child.pid)
    # Zombies have no RSS and cannot be signalled usefully; keep them out of the count.
    return [p for p in found.values() if p.cmd]


# --------------------------------------------------------------------------------------------
# Server specifications


@dataclass
class ServerSpec:
    """How to start one server configuration."""

    name: str  # key in results.json: polytrack, mlflow_default, mlflow_w1
    label: str  # human-readable, for the report
    kind: str  # "polytrack" or "mlflow"
    build_argv: Callable[[Path, int], list[str]]  # (workdir, port) -> argv
    env: dict[str, str] = field(default_factory=dict)
    # polytrack forwards signals to its workers itself; MLflow must be signalled as a group.
    signal_group: bool = False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def polytrack_command() -> list[str]:
    exe = shutil.which("polytrack")
    return [exe] if exe else [sys.executable, "-m", "polytrack.cli"]


def polytrack_spec() -> ServerSpec:
    def argv(workdir: Path, _port: int) -> list[str]:
        return [
            *polytrack_command(),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir}/pt.db",
            "--artifacts-destination",
            str(workdir / "pta"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--grpc-port",
            "0",
        ]

    return ServerSpec("polytrack", "polytrack", "polytrack", argv)


def mlflow_venv() -> Path:
    return Path(os.environ.get("POLYTRACK_BENCH_MLFLOW_VENV", REPO / ".cache" / "mlflow-venv"))


def ensure_mlflow_venv() -> Path:
    """Return the MLflow venv, creating it (python -m venv + pip install mlflow) when missing."""
    venv = mlflow_venv()
    if not (venv / "bin" / "mlflow").exists():
        print(f"creating MLflow venv at {venv} (mlflow=={MLFLOW_VERSION}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"],
            check=True,
        )
    return venv


def mlflow_version(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def mlflow_spec(venv: Path, workers: int | None) -> ServerSpec:
    def argv(workdir: Path, port: int) -> list[str]:
        cmd = [
            str(venv / "bin" / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{workdir}/ml.db",
            "--artifacts-destination",
            str(workdir / "mla"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        return cmd

    if workers is None:
        name, label = "mlflow_default", "MLflow default (4 uvicorn workers)"
    else:
        name, label = f"mlflow_w{workers}", f"MLflow --workers {workers}"
    # Telemetry off: it only adds outbound traffic, never serves requests.
    env = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    return ServerSpec(name, label, "mlflow", argv, env=env, signal_group=True)


# --------------------------------------------------------------------------------------------
# A running server


class ServerStartError(RuntimeError):
    pass


class RunningServer:
    """A started server: ports, start-up time, and a way to stop it cleanly."""

    def __init__(self, spec: ServerSpec, workdir: Path, startup_timeout: float = 240.0) -> None:
        self.spec = spec
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.grpc_port: int | None = None
        self.log_path = workdir / f"{spec.name}.log"
        port = free_port() if spec.kind == "mlflow" else 0
        argv = spec.build_argv(workdir, port)
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        self._log = self.log_path.open("wb")
        self._lines: list[str] = []
        self._announced = threading.Event()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        try:
            self.port = self._wait_for_port(port, started, startup_timeout)
            self._wait_for_health(started, startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - started

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._log.write(raw)
            self._log.flush()
            line = raw.decode(errors="replace")
            self._lines.append(line)
            if _LISTENING.search(line):
                self._announced.set()

    def _fail(self, why: str) -> ServerStartError:
        tail = "".join(self._lines[-30:])
        return ServerStartError(f"{self.spec.label}: {why}\n--- server output (tail) ---\n{tail}")

    def _wait_for_port(self, port: int, started: float, timeout: float) -> int:
        if port:
            return port
        while not self._announced.wait(0.02):
            if self.proc.poll() is not None:
                raise self._fail(f"exited with code {self.proc.returncode} before listening")
            if time.perf_counter() - started > timeout:
                raise self._fail("did not announce its ports in time")
        for line in self._lines:
            match = _LISTENING.search(line)
            if match:
                self.grpc_port = int(match.group(2))
                return int(match.group(1))
        raise AssertionError("unreachable")

    def _wait_for_health(self, started: float, timeout: float) -> None:
        probe = RestClient(self.host, self.port, timeout=5.0)
        try:
            while not probe.health():
                if self.proc.poll() is not None:
                    raise self._fail(f"exited with code {self.proc.returncode} before /health")
                if time.perf_counter() - started > timeout:
                    raise self._fail("/health did not answer in time")
                time.sleep(0.02)
        finally:
            probe.close()

    def rss(self) -> tuple[int, list[dict[str, object]]]:
        """Total VmRSS in bytes over the server's process tree, and the per-process breakdown."""
        procs = process_tree(self.proc.pid)
        breakdown = [{"pid": p.pid, "rss_mb": round(p.rss_kb / 1024, 1), "cmd": p.cmd[:160]} for p in procs]
        return sum(p.rss_kb for p in procs) * 1024, breakdown

    def cpu_seconds(self) -> float:
        """CPU time used so far by the live processes of the server's tree."""
        return sum(p.cpu_s for p in process_tree(self.proc.pid))

    def _signal_tree(self, sig: signal.Signals) -> None:
        for p in process_tree(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, sig)

    def stop(self, timeout: float = 30.0) -> dict[str, object]:
        """SIGTERM (group for MLflow, leader for polytrack); SIGKILL whatever is left after timeout."""
        began = time.perf_counter()
        if self.proc.poll() is None:
            if self.spec.signal_group:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
            else:
                self.proc.send_signal(signal.SIGTERM)
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None and not process_tree(self.proc.pid):
                break
            time.sleep(0.05)
        leftovers = process_tree(self.proc.pid)
        killed = bool(leftovers) or self.proc.poll() is None
        if killed:
            self._signal_tree(signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=5)
        self._log.close()
        return {
            "exit_code": self.proc.returncode,
            "stop_s": round(time.perf_counter() - began, 3),
            "clean": not killed,
            "leftover_processes": len(leftovers),
        }
