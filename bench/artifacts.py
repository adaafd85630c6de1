"""Artifact transfer benchmark: one large file up and down through polytrack (REST and gRPC) and
through MLflow's artifact proxy, measuring throughput and the memory growth of client and server.

    python bench/artifacts.py [--size-mb 1024] [--output bench/artifacts_results.json] [--skip-mlflow]

Every transfer runs in a fresh client process (polytrack's client for polytrack; the official
mlflow client, `log_artifact` / `mlflow.artifacts.download_artifacts`, in the MLflow virtualenv
for MLflow), so its peak RSS is its own. Server memory is sampled from /proc every 20 ms over the
server's whole process tree; growth = peak during the transfer - RSS just before it. Each server
gets a fresh SQLite database and artifact destination, and runs with one worker. The MLflow
virtualenv is $POLYTRACK_BENCH_MLFLOW_VENV, else /work/cache/mlflow-venv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
_LISTENING = re.compile(r"polytrack server listening: (http://\S+) grpc://(\S+)")

POLYTRACK_CLIENT = """
import json, resource, sys, time, uuid
from polytrack import Client
uri, action, arg, local = sys.argv[1:]
client = Client(uri)
if action == "upload":
    run_id = client.create_run(client.create_experiment("bench-" + uuid.uuid4().hex)).info.run_id
    client.list_artifacts(run_id)  # connect and warm up before measuring
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    client.log_artifact(run_id, local)
else:
    run_id = arg
    client.list_artifacts(run_id)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    client.download_artifacts(run_id, "payload.bin", local)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
result = {"run_id": run_id, "seconds": seconds, "client_rss_growth": peak - base, "client_peak": peak}
print(json.dumps(result))
"""

MLFLOW_CLIENT = """
import json, os, resource, sys, time, uuid
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
import mlflow
from mlflow import MlflowClient
uri, action, arg, local = sys.argv[1:]
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
if action == "upload":
    experiment = client.create_experiment("bench-" + uuid.uuid4().hex)
    run_id = client.create_run(experiment).info.run_id
    client.list_artifacts(run_id)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    client.log_artifact(run_id, local)
else:
    run_id = arg
    client.list_artifacts(run_id)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="payload.bin", dst_path=local)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
result = {"run_id": run_id, "seconds": seconds, "client_rss_growth": peak - base, "client_peak": peak}
print(json.dumps(result))
"""


def _session_rss(session: int) -> int:
    """Total resident memory of the processes of one session."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[3]) != session:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


class RssSampler:
    """Peak RSS of a session while the `with` block runs, sampled every 20 ms."""

    def __init__(self, session: int) -> None:
        self.session = session
        self.before = _session_rss(session)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _session_rss(self.session))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _session_rss(self.session))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(
    kind: str, workdir: Path, mlflow_python: Path | None
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    destination = workdir / f"{kind}-artifacts"
    log = (workdir / f"{kind}-server.log").open("wb")
    if kind == "polytrack":
        command = [
            sys.executable, "-m", "polytrack.cli", "server",
            "--backend-store-uri", f"sqlite:///{workdir / 'polytrack.db'}",
            "--artifacts-destination", str(destination), "--port", "0", "--grpc-port", "0",
        ]  # fmt: skip
    else:
        assert mlflow_python is not None
        port = _free_port()
        command = [
            str(mlflow_python), "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination", str(destination),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, start_new_session=True, env=env)
    try:
        endpoints: dict[str, str] = {}
        if kind == "polytrack":
            assert process.stdout is not None
            line = process.stdout.readline().decode()
            found = _LISTENING.search(line)
            if found is None:
                raise RuntimeError(f"polytrack did not start: {line!r}")
            endpoints = {"rest": found.group(1), "grpc": f"grpc://{found.group(2)}"}
        else:
            endpoints = {"rest": f"http://127.0.0.1:{port}"}
            import urllib.request

            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{endpoints['rest']}/health", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("mlflow server did not start; see mlflow-server.log") from None
                    time.sleep(0.5)
        yield process, endpoints
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        shutil.rmtree(destination, ignore_errors=True)


def _client(python: str, script: str, uri: str, action: str, arg: str, local: Path) -> dict[str, Any]:
    env = dict(os.environ)
    if python != sys.executable:
        env.pop("PYTHONPATH", None)
    finished = subprocess.run(
        [python, "-c", script, uri, action, arg, str(local)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"{action} via {uri} failed:\n{finished.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def measure(
    label: str, python: str, script: str, uri: str, session: int, payload: Path, workdir: Path
) -> dict[str, Any]:
    size = payload.stat().st_size
    with RssSampler(session) as up_memory:
        upload = _client(python, script, uri, "upload", "", payload)
    out = workdir / f"download-{label}"
    with RssSampler(session) as down_memory:
        download = _client(python, script, uri, "download", upload["run_id"], out)
    downloaded = out / "payload.bin"
    if downloaded.stat().st_size != size:
        raise RuntimeError(f"{label}: downloaded {downloaded.stat().st_size} bytes, expected {size}")
    shutil.rmtree(out)
    row = {}
    for name, timing, memory in (("upload", upload, up_memory), ("download", download, down_memory)):
        row[name] = {
            "seconds": round(timing["seconds"], 3),
            "throughput_mib_s": round(size / MIB / timing["seconds"], 1),
            "client_rss_growth_mib": round(timing["client_rss_growth"] / MIB, 1),
            "client_peak_rss_mib": round(timing["client_peak"] / MIB, 1),
            "server_rss_growth_mib": round((memory.peak - memory.before) / MIB, 1),
        }
    print(f"{label}: {json.dumps(row)}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--output", default=str(REPO / "bench" / "artifacts_results.json"))
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    venv = Path(os.environ.get("POLYTRACK_BENCH_MLFLOW_VENV", "/work/cache/mlflow-venv"))
    mlflow_python = venv / "bin" / "python"
    run_mlflow = not args.skip_mlflow and mlflow_python.exists()
    results: dict[str, Any] = {"file_size_mib": args.size_mb, "results": {}}
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as scratch:
        workdir = Path(scratch)
        payload = workdir / "payload.bin"
        block = os.urandom(16 * MIB)
        with payload.open("wb") as handle:
            for index in range(args.size_mb // 16):
                handle.write(block[index % 7 :] + block[: index % 7])
            handle.write(block[: (args.size_mb % 16) * MIB])
        with server("polytrack", workdir, None) as (process, endpoints):
            for transport in ("rest", "grpc"):
                results["results"][f"polytrack-{transport}"] = measure(
                    f"polytrack-{transport}", sys.executable, POLYTRACK_CLIENT, endpoints[transport],
                    process.pid, payload, workdir,
                )  # fmt: skip
        if run_mlflow:
            with server("mlflow", workdir, mlflow_python) as (process, endpoints):
                results["results"]["mlflow-rest"] = measure(
                    "mlflow-rest",
                    str(mlflow_python),
                    MLFLOW_CLIENT,
                    endpoints["rest"],
                    process.pid,
                    payload,
                    workdir,
                )
    if "mlflow-rest" in results["results"]:
        reference = results["results"]["mlflow-rest"]
        results["speedup_vs_mlflow"] = {
            f"{name}.{direction}": round(
                row[direction]["throughput_mib_s"] / reference[direction]["throughput_mib_s"], 2
            )
            for name, row in results["results"].items()
            if name != "mlflow-rest"
            for direction in ("upload", "download")
        }
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
