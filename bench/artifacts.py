"""Artifact transfer benchmark: one large file up and down through polytrack (REST and gRPC) and
through MLflow's artifact proxy, measuring throughput and the memory growth of client and server.

    python bench/artifacts.py [--size-mb 1024] [--repeat 3] [--output bench/artifacts_results.json]
                              [--skip-mlflow] [--skip-curl] [--scratch DIR]

Two comparisons, each with the same kind of client on both sides:

* SDK: every transfer runs in a fresh client process (polytrack's client for polytrack; the
  official mlflow client, `log_artifact` / `mlflow.artifacts.download_artifacts`, in the MLflow
  virtualenv for MLflow), so its peak RSS is its own. This is what a user of each SDK gets.
* curl: the same `curl` binary PUTs and GETs the file on both servers' REST artifact proxies
  (the timed GET writes to /dev/null). Python clients, and writing a gigabyte to the client's
  disk, cost more per byte than a fast server does to serve it, so only a client that is not
  itself the bottleneck measures the servers. The servers' CPU time per transfer is recorded too:
  on a shared machine it is steadier than wall-clock throughput.

Server memory is sampled from /proc every 20 ms over the server's whole process tree; growth =
peak during the transfer - RSS just before it. Each server gets a fresh SQLite database and
artifact destination, and runs with one worker. The MLflow virtualenv is
$POLYTRACK_BENCH_MLFLOW_VENV, else /work/cache/mlflow-venv. The 1-minute load average before and
after each transfer is recorded: the figures are only comparable on an otherwise idle machine.
Each transfer is repeated (--repeat, default 3) and the round of median throughput reported.

Everything (the payload, both servers' artifact destinations, the SDK's downloads) lives under
--scratch (default: the system's temporary folder, on disk). With a RAM-backed folder such as
/dev/shm the disk drops out and the servers' own cost is what is measured; on disk, polytrack's
uploads are bounded by the disk's durable write speed (it fsyncs before answering; MLflow does not).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
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


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _session_pids(session: int) -> list[int]:
    """The processes of one session (a server and every process it started)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[3]) == session:
            pids.append(int(entry))
    return pids


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_SIZE
    return total


def _session_usage(session: int) -> tuple[int, float]:
    """Total resident memory (bytes) and CPU time so far (seconds) of the processes of one session."""
    pids = _session_pids(session)
    cpu = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return _rss(pids), cpu


class RssSampler:
    """Peak RSS of a session while the `with` block runs, sampled every 20 ms, and the CPU time
    its processes used meanwhile. The session's processes are listed again every half second, not
    at every sample: scanning all of /proc 50 times a second took a quarter of a core, on a machine
    of two whose cores the transfer being measured needs."""

    def __init__(self, session: int) -> None:
        self.session = session
        self.before, self._cpu_before = _session_usage(session)
        self.peak = self.before
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids, sample = _session_pids(self.session), 0
        while not self._stop.wait(0.02):
            sample += 1
            if sample % 25 == 0:
                pids = _session_pids(self.session)
            self.peak = max(self.peak, _rss(pids))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        rss, cpu = _session_usage(self.session)
        self.peak = max(self.peak, rss)
        self.cpu_seconds = cpu - self._cpu_before


def block_device_of(path: Path) -> str | None:
    """The name of the block device (as /proc/diskstats spells it) holding `path`; None for a
    filesystem without one (tmpfs) or when /sys does not say."""
    device = os.stat(path).st_dev
    link = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    if os.major(device) == 0 or not link.exists():
        return None
    return link.resolve().name


def disk_counters(device: str, diskstats: str | None = None) -> tuple[int, int]:
    """Bytes written to `device` so far and milliseconds it has spent with I/O in flight, from
    /proc/diskstats (sectors there are always 512 bytes, whatever the device's own)."""
    text = Path("/proc/diskstats").read_text() if diskstats is None else diskstats
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 13 and fields[2] == device:
            return int(fields[9]) * 512, int(fields[12])
    raise LookupError(f"{device} is not in /proc/diskstats")


class DiskMeter:
    """What a block device did while the `with` block ran: bytes written and seconds busy (with
    any I/O in flight). Shows whether an upload waited on the disk, and how fast the disk was
    writing meanwhile: a virtual disk's speed varies with what was written before."""

    def __init__(self, device: str | None) -> None:
        self.device = device
        self.written_bytes = 0
        self.busy_seconds = 0.0

    def __enter__(self) -> DiskMeter:
        if self.device is not None:
            self._before = disk_counters(self.device)
        return self

    def __exit__(self, *_: object) -> None:
        if self.device is not None:
            written, busy_ms = disk_counters(self.device)
            self.written_bytes = written - self._before[0]
            self.busy_seconds = (busy_ms - self._before[1]) / 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def destination_of(kind: str, workdir: Path) -> Path:
    """The artifacts destination of the `kind` ("polytrack" or "mlflow") server."""
    return workdir / f"{kind}-artifacts"


@contextlib.contextmanager
def server(
    kind: str, workdir: Path, mlflow_python: Path | None
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    destination = destination_of(kind, workdir)
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


def _transfer_figures(
    size: int, seconds: float, memory: RssSampler, timing: dict[str, Any] | None, disk: DiskMeter
) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "seconds": round(seconds, 3),
        "throughput_mib_s": round(size / MIB / seconds, 1),
        "server_rss_growth_mib": round((memory.peak - memory.before) / MIB, 1),
        "server_cpu_seconds": round(memory.cpu_seconds, 2),
    }
    if disk.device is not None:
        figures["disk_written_mib"] = round(disk.written_bytes / MIB, 1)
        figures["disk_busy_seconds"] = round(disk.busy_seconds, 2)
    if timing is not None:
        figures["client_rss_growth_mib"] = round(timing["client_rss_growth"] / MIB, 1)
        figures["client_peak_rss_mib"] = round(timing["client_peak"] / MIB, 1)
    return figures


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per direction, the round of median throughput (every round's throughput kept beside it), and
    the largest memory growth of any round: one transfer on a shared 2-core machine varies by tens of
    percent, so each is repeated and the middle one reported."""
    row: dict[str, Any] = {"load_average_1m": [load for one in rounds for load in one["load_average_1m"]]}
    for direction in ("upload", "download"):
        ordered = sorted((one[direction] for one in rounds), key=lambda figures: figures["throughput_mib_s"])
        chosen = dict(ordered[len(ordered) // 2])
        chosen["throughput_all_mib_s"] = [figures["throughput_mib_s"] for figures in ordered]
        if "durable_throughput_mib_s" in chosen:
            durable = sorted(figures["durable_throughput_mib_s"] for figures in ordered)
            chosen["durable_throughput_mib_s"] = durable[len(durable) // 2]
            chosen["durable_all_mib_s"] = durable
        for growth in ("server_rss_growth_mib", "client_rss_growth_mib"):
            if growth in chosen:
                chosen[growth] = max(figures[growth] for figures in ordered)
        row[direction] = chosen
    return row


def make_durable(folder: Path) -> float:
    """Seconds to fsync every file and folder under `folder`: what a server that answered before
    its upload was on disk still owed the disk when it answered (nothing, for one that fsyncs)."""
    started = time.perf_counter()
    for path in [*folder.rglob("*"), folder]:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    return time.perf_counter() - started


def _with_durable(figures: dict[str, Any], size: int, owed_seconds: float) -> dict[str, Any]:
    durable = figures["seconds"] + owed_seconds
    figures["fsync_after_answer_seconds"] = round(owed_seconds, 3)
    figures["durable_throughput_mib_s"] = round(size / MIB / durable, 1)
    return figures


def _remove_files(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.unlink()


def measure(
    label: str,
    python: str,
    script: str,
    uri: str,
    session: int,
    payload: Path,
    workdir: Path,
    repeat: int,
) -> dict[str, Any]:
    size = payload.stat().st_size
    destination = destination_of(label.split("-")[0], workdir)  # "polytrack-rest" -> polytrack's
    device = block_device_of(workdir)
    rounds = []
    for _ in range(repeat):
        loads = [_load()]
        with RssSampler(session) as up_memory, DiskMeter(device) as up_disk:
            upload = _client(python, script, uri, "upload", "", payload)
        owed = make_durable(destination)
        loads.append(_load())
        out = workdir / f"download-{label}"
        with RssSampler(session) as down_memory, DiskMeter(device) as down_disk:
            download = _client(python, script, uri, "download", upload["run_id"], out)
        loads.append(_load())
        downloaded = out / "payload.bin"
        if not filecmp.cmp(downloaded, payload, shallow=False):
            raise RuntimeError(f"{label}: downloaded different bytes than were uploaded")
        shutil.rmtree(out)
        # Each round uploads to a new run: without this, gigabytes pile up in the destination (on
        # a RAM-backed one they crowd memory, and later rounds measured 40% slower for it).
        _remove_files(destination)
        rounds.append(
            {
                "load_average_1m": loads,
                "upload": _with_durable(
                    _transfer_figures(size, upload["seconds"], up_memory, upload, up_disk), size, owed
                ),
                "download": _transfer_figures(size, download["seconds"], down_memory, download, down_disk),
            }
        )
    row = _summary(rounds)
    print(f"{label}: {json.dumps(row)}", flush=True)
    return row


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _curl(arguments: list[str]) -> float:
    """Run curl; the seconds it reports for the whole transfer."""
    finished = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail", "--write-out", "%{time_total}", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"curl {' '.join(arguments)} failed: {finished.stderr.strip()}")
    return float(finished.stdout.strip().splitlines()[-1])


def measure_curl(
    label: str, base_url: str, session: int, payload: Path, workdir: Path, repeat: int
) -> dict[str, Any]:
    """Upload and download `payload` through a REST artifact proxy with curl."""
    size = payload.stat().st_size
    url = f"{base_url}/api/2.0/mlflow-artifacts/artifacts/bench-curl/{label}/payload.bin"
    out = workdir / f"curl-{label}.bin"
    destination = destination_of(label.split("-")[0], workdir)
    device = block_device_of(workdir)
    rounds = []
    for _ in range(repeat):
        loads = [_load()]
        with RssSampler(session) as up_memory, DiskMeter(device) as up_disk:
            up_seconds = _curl(["--upload-file", str(payload), "--output", "/dev/null", url])
        owed = make_durable(destination)
        loads.append(_load())
        with RssSampler(session) as down_memory, DiskMeter(device) as down_disk:
            down_seconds = _curl(["--output", "/dev/null", url])
        loads.append(_load())
        rounds.append(
            {
                "load_average_1m": loads,
                "upload": _with_durable(
                    _transfer_figures(size, up_seconds, up_memory, None, up_disk), size, owed
                ),
                "download": _transfer_figures(size, down_seconds, down_memory, None, down_disk),
            }
        )
    # Fetched again into a file only to check the bytes: the timed downloads above go to
    # /dev/null, so that the client's disk (not a server) is not what gets measured.
    _curl(["--output", str(out), url])
    if not filecmp.cmp(out, payload, shallow=False):
        raise RuntimeError(f"{label}: curl downloaded different bytes than were uploaded")
    out.unlink()
    row = _summary(rounds)
    print(f"{label} (curl): {json.dumps(row)}", flush=True)
    return row


def measure_disk(workdir: Path, size_mib: int) -> float:
    """The disk's durable write speed (MiB/s): `size_mib` written in 1 MiB blocks, then fsynced, the
    best of two tries. Both servers write uploads to this disk; polytrack fsyncs each upload before
    answering (MLflow does not), so this bounds polytrack's upload throughput."""
    block = os.urandom(MIB)
    best = 0.0
    for attempt in range(2):
        target = workdir / f"disk-{attempt}.bin"
        started = time.perf_counter()
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(size_mib):
                os.write(descriptor, block)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        best = max(best, size_mib / (time.perf_counter() - started))
        target.unlink()
    print(f"disk: durable write {best:.1f} MiB/s", flush=True)
    return round(best, 1)


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem holding `path` (from /proc/mounts: the longest matching mount)."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            mount = fields[1]
            inside = str(path.resolve()).startswith(mount.rstrip("/") + "/") or mount == "/"
            if inside and len(mount) > len(best):
                best, kind = mount, fields[2]
    return kind


def _speedups(rows: dict[str, Any], reference: str) -> dict[str, float]:
    baseline = rows[reference]
    return {
        f"{name}.{direction}": round(
            row[direction]["throughput_mib_s"] / baseline[direction]["throughput_mib_s"], 2
        )
        for name, row in rows.items()
        if name != reference
        for direction in ("upload", "download")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--output", default=str(REPO / "bench" / "artifacts_results.json"))
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-curl", action="store_true", help="only the SDK comparison")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per transfer; the median is reported")
    parser.add_argument("--scratch", default=None, help="folder for the payload, destinations and downloads")
    args = parser.parse_args()
    venv = Path(os.environ.get("POLYTRACK_BENCH_MLFLOW_VENV", "/work/cache/mlflow-venv"))
    mlflow_python = venv / "bin" / "python"
    run_mlflow = not args.skip_mlflow and mlflow_python.exists()
    run_curl = not args.skip_curl and shutil.which("curl") is not None
    results: dict[str, Any] = {
        "file_size_mib": args.size_mb,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "results": {},
        "curl": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-", dir=args.scratch) as scratch:
        workdir = Path(scratch)
        payload = workdir / "payload.bin"
        block = os.urandom(16 * MIB)
        with payload.open("wb") as handle:
            for index in range(args.size_mb // 16):
                handle.write(block[index % 7 :] + block[: index % 7])
            handle.write(block[: (args.size_mb % 16) * MIB])
        results["scratch_filesystem"] = _filesystem_of(workdir)
        results["disk_durable_write_mib_s"] = measure_disk(workdir, args.size_mb)
        with server("polytrack", workdir, None) as (process, endpoints):
            for transport in ("rest", "grpc"):
                results["results"][f"polytrack-{transport}"] = measure(
                    f"polytrack-{transport}", sys.executable, POLYTRACK_CLIENT, endpoints[transport],
                    process.pid, payload, workdir, args.repeat,
                )  # fmt: skip
            if run_curl:
                results["curl"]["polytrack-rest"] = measure_curl(
                    "polytrack-rest", endpoints["rest"], process.pid, payload, workdir, args.repeat
                )
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
                    args.repeat,
                )
                if run_curl:
                    results["curl"]["mlflow-rest"] = measure_curl(
                        "mlflow-rest", endpoints["rest"], process.pid, payload, workdir, args.repeat
                    )
    results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    if "mlflow-rest" in results["results"]:
        results["speedup_vs_mlflow"] = _speedups(results["results"], "mlflow-rest")
    if "mlflow-rest" in results["curl"]:
        results["curl_speedup_vs_mlflow"] = _speedups(results["curl"], "mlflow-rest")
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
