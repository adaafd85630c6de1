"""Python SDK logging throughput: `polytrack.log_metric` in a loop vs. the official MLflow client.

    python bench/python_sdk_logging.py                   # 100,000 points; MLflow from the venv below
    python bench/python_sdk_logging.py --skip-mlflow     # polytrack only
    python bench/python_sdk_logging.py --points 20000 --sync-points 100 --mlflow-points 1000

Each case runs in a fresh interpreter against a fresh server with an empty SQLite database, the way a
training script would: `start_run()`, then `log_metric("loss", value, step=i)` in a loop, then the
end of the run. Two times are taken: the loop alone (what training waits for) and until everything
is delivered (the loop plus `flush()` / `end_run()`); points/s is computed on the latter. Every case
reads the metric history back and fails unless all points arrived.

Cases:
* polytrack, no server: `log_metric` and the queue in front of a client that discards batches — the
  most the client side can sustain (so the other figures show what the server adds);
* polytrack, gRPC and REST: the default, queued logging (the target: >= 50,000 points/s over gRPC);
* polytrack, gRPC, `synchronous=True`: one request per point, for comparison with MLflow's default;
* MLflow (official client and `mlflow server` from the venv at $POLYTRACK_BENCH_MLFLOW_VENV, default
  /work/cache/mlflow-venv): `log_metric(..., synchronous=False)` (its asynchronous mode) and the
  default synchronous mode. MLflow's asynchronous case logs `--mlflow-points` points and synchronous
  cases `--sync-points` (one request each): those servers ingest far more slowly, and rates compare.

Results are printed as a table and written to bench/sdk_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MLFLOW_VENV = "/work/cache/mlflow-venv"
TARGET_POINTS_PER_SECOND = 50_000
_LISTENING = re.compile(r"polytrack server listening: (http://\S+) grpc://(\S+)")

# Runs in the client interpreter; prints one JSON line. argv: uri, points, mode ("queued" | "sync").
POLYTRACK_CLIENT = """
import json, sys, time
import polytrack
uri, points, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
polytrack.set_tracking_uri(uri)
polytrack.set_experiment("sdk-bench")
synchronous = mode == "sync"
run = polytrack.start_run()
started = time.perf_counter()
for step in range(points):
    polytrack.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=synchronous)
looped = time.perf_counter()
polytrack.end_run()
finished = time.perf_counter()
with polytrack.Client(uri) as client:
    arrived = len(client.get_metric_history(run.info.run_id, "loss"))
print(json.dumps({"loop_s": looped - started, "total_s": finished - started, "arrived": arrived}))
"""

# The client side alone: `polytrack.log_metric` and the queue in front of a client that discards
# every batch (wired into the fluent state by hand, as no server is involved).
CLIENT_ONLY = """
import json, sys, time
import polytrack
from polytrack._logging_queue import LoggingQueue
from polytrack._run_context import ActiveRun, Connection, state
from polytrack.entities import Run, RunInfo
points = int(sys.argv[2])

class Discard:
    accepts_metric_columns = True  # as over gRPC
    def send_log_batch(self, request):
        request.SerializeToString()
    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        list(metrics)
    def set_terminated(self, run_id, status="FINISHED", end_time=None):
        pass
    def get_run(self, run_id):
        raise AssertionError("not expected")

discard = Discard()
connection = Connection("null://", discard, discard, LoggingQueue(discard, "null://"))
state.push(ActiveRun(Run(RunInfo("r", "0", "bench", "me", "RUNNING", 0, None, "", "active")), connection))
started = time.perf_counter()
for step in range(points):
    polytrack.log_metric("loss", 1.0 / (step + 1), step=step)
looped = time.perf_counter()
connection.queue.flush()
finished = time.perf_counter()
print(json.dumps({"loop_s": looped - started, "total_s": finished - started, "arrived": points}))
"""

# Runs in the MLflow venv's interpreter; same contract. mode: "async" | "sync".
MLFLOW_CLIENT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import mlflow
from mlflow import MlflowClient
uri, points, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("sdk-bench")
run = mlflow.start_run()
started = time.perf_counter()
if mode == "async":
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step, synchronous=False)
else:
    for step in range(points):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
looped = time.perf_counter()
if mode == "async":
    mlflow.flush_async_logging()
mlflow.end_run()
finished = time.perf_counter()
arrived = len(MlflowClient(uri).get_metric_history(run.info.run_id, "loss"))
print(json.dumps({"loop_s": looped - started, "total_s": finished - started, "arrived": arrived}))
"""


@dataclass
class Result:
    """One measured case."""

    client: str
    server: str
    transport: str
    mode: str
    points: int
    loop_s: float
    total_s: float
    points_per_s: float
    loop_points_per_s: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextmanager
def polytrack_server(folder: Path) -> Iterator[tuple[str, str]]:
    """A fresh `polytrack server`; yields (REST URL, gRPC URI)."""
    command = [
        sys.executable, "-m", "polytrack.cli", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'db.sqlite'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
    )
    found: list[re.Match[str]] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            match = _LISTENING.search(raw.decode(errors="replace"))
            if match and not found:
                found.append(match)
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(60) or not found:
            raise RuntimeError("polytrack server did not start")
        yield found[0].group(1), f"grpc://{found[0].group(2)}"
    finally:
        _stop(process)


@contextmanager
def mlflow_server(python: str, folder: Path) -> Iterator[str]:
    """A fresh `mlflow server` from the MLflow venv; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (folder / "mlflow-server.log").open("wb")
    command = [
        python, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited; see {folder / 'mlflow-server.log'}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not become healthy")
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)
        log.close()


def run_client(python: str, script: str, uri: str, points: int, mode: str) -> dict[str, float]:
    """Run a client script in a fresh interpreter and return its JSON figures."""
    environment = dict(os.environ)
    if python != sys.executable:
        environment.pop("PYTHONPATH", None)  # keep this checkout's modules out of MLflow's interpreter
    completed = subprocess.run(
        [python, "-c", script, uri, str(points), mode],
        capture_output=True,
        text=True,
        timeout=1800,
        env=environment,
        cwd=tempfile.gettempdir(),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"client failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    if figures["arrived"] != points:
        raise RuntimeError(f"only {figures['arrived']} of {points} points arrived")
    return figures


def result(
    client: str, server: str, transport: str, mode: str, points: int, figures: dict[str, float]
) -> Result:
    """A Result from a client's figures."""
    return Result(
        client=client,
        server=server,
        transport=transport,
        mode=mode,
        points=points,
        loop_s=round(figures["loop_s"], 3),
        total_s=round(figures["total_s"], 3),
        points_per_s=round(points / figures["total_s"]),
        loop_points_per_s=round(points / figures["loop_s"]),
    )


def measure_client_only(points: int) -> Result:
    """The fluent call and the queue alone, delivering to a client that discards batches: the most the
    client side can sustain, whatever the server."""
    figures = run_client(sys.executable, CLIENT_ONLY, "null://", points, "queued")
    measured = result("polytrack", "none (discarding client)", "none", "queued", points, figures)
    print(
        f"  polytrack none {'queued':6} {measured.points_per_s:>9,} points/s (client side only)", flush=True
    )
    return measured


def measure_polytrack(workdir: Path, points: int, sync_points: int, rest: bool) -> list[Result]:
    """The polytrack cases, each against a fresh server."""
    cases = [("grpc", "queued", points), ("rest", "queued", points), ("grpc", "sync", sync_points)]
    if not rest:
        cases = [case for case in cases if case[0] != "rest"]
    results = []
    for index, (transport, mode, count) in enumerate(cases):
        folder = workdir / f"polytrack-{index}"
        folder.mkdir()
        with polytrack_server(folder) as (rest_url, grpc_uri):
            uri = grpc_uri if transport == "grpc" else rest_url
            figures = run_client(sys.executable, POLYTRACK_CLIENT, uri, count, mode)
        results.append(result("polytrack", "polytrack", transport, mode, count, figures))
        print(f"  polytrack {transport:4} {mode:6} {results[-1].points_per_s:>9,} points/s", flush=True)
    return results


def measure_mlflow(workdir: Path, venv: Path, points: int, sync_points: int) -> list[Result]:
    """The MLflow cases (official client and server), each against a fresh server."""
    python = str(venv / "bin" / "python")
    results = []
    for index, (mode, count) in enumerate([("async", points), ("sync", sync_points)]):
        folder = workdir / f"mlflow-{index}"
        folder.mkdir()
        with mlflow_server(python, folder) as url:
            figures = run_client(python, MLFLOW_CLIENT, url, count, mode)
        results.append(result("mlflow", "mlflow", "rest", mode, count, figures))
        print(f"  mlflow    rest {mode:6} {results[-1].points_per_s:>9,} points/s", flush=True)
    return results


def table(results: list[Result]) -> str:
    """The results as a fixed-width table."""
    header = (
        f"{'client':<10} {'transport':<9} {'mode':<7} {'points':>8} {'loop s':>8} {'total s':>8} "
        f"{'points/s':>10}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.client:<10} {r.transport:<9} {r.mode:<7} {r.points:>8,} {r.loop_s:>8.2f} {r.total_s:>8.2f} "
            f"{r.points_per_s:>10,}"
        )
    return "\n".join(lines)


def main() -> int:
    """Run the benchmark; exit status 1 when the gRPC target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000, help="points per queued/async case")
    parser.add_argument("--sync-points", type=int, default=300, help="points per synchronous case")
    parser.add_argument(
        "--mlflow-points",
        type=int,
        default=3_000,
        help="points for MLflow's asynchronous case (its server ingests far more slowly; rates compare)",
    )
    parser.add_argument("--skip-polytrack-rest", action="store_true", help="measure polytrack over gRPC only")
    parser.add_argument("--skip-mlflow", action="store_true", help="measure polytrack only")
    parser.add_argument(
        "--mlflow-venv",
        type=Path,
        default=Path(os.environ.get("POLYTRACK_BENCH_MLFLOW_VENV", DEFAULT_MLFLOW_VENV)),
        help="virtualenv with the official mlflow (default: $POLYTRACK_BENCH_MLFLOW_VENV or %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "sdk_results.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="polytrack-sdk-bench-") as scratch:
        workdir = Path(scratch)
        print("measuring (each case: fresh server, fresh database) ...", flush=True)
        results = [measure_client_only(args.points)]
        results += measure_polytrack(workdir, args.points, args.sync_points, not args.skip_polytrack_rest)
        mlflow_note = None
        if args.skip_mlflow:
            mlflow_note = "skipped (--skip-mlflow)"
        elif not (args.mlflow_venv / "bin" / "python").exists():
            mlflow_note = f"skipped: no MLflow venv at {args.mlflow_venv}"
        else:
            results += measure_mlflow(workdir, args.mlflow_venv, args.mlflow_points, args.sync_points)

    print()
    print(table(results))
    grpc = next(
        r for r in results if r.client == "polytrack" and r.transport == "grpc" and r.mode == "queued"
    )
    met = grpc.points_per_s >= TARGET_POINTS_PER_SECOND
    print(
        f"\npolytrack over gRPC: {grpc.points_per_s:,} points/s until flushed "
        f"(target {TARGET_POINTS_PER_SECOND:,}: {'met' if met else 'NOT met'})"
    )
    if mlflow_note:
        print(f"MLflow: {mlflow_note}")
    cpus = os.cpu_count()
    print(f"1-minute load average: {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after ({cpus} CPUs)")
    report = {
        "benchmark": "python_sdk_logging",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other work on the machine skews every figure; the 1-minute load average says how much.
            "load_average_1m_before": round(load_before[0], 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        },
        "target_points_per_s": TARGET_POINTS_PER_SECOND,
        "target_met": met,
        "mlflow": mlflow_note or "measured",
        "results": [asdict(r) for r in results],
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
