"""polytrack vs MLflow, side by side: start each server in turn, run the workloads, write the report.

    python bench/run.py [--quick] [--only NAME...] [--servers NAME...] [--output bench/RESULTS.md]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from client import RestClient
from report import POLYTRACK, absolute_checks, compare, kept_sections, render_markdown
from servers import (
    REPO,
    RunningServer,
    ServerSpec,
    ensure_mlflow_venv,
    mlflow_spec,
    mlflow_version,
    polytrack_spec,
)
from workloads import FULL, QUICK, REST_WORKLOADS, Sizes

WORKLOAD_NAMES = [*REST_WORKLOADS, "grpc_ingest"]
SERVER_NAMES = ["polytrack", "mlflow_default", "mlflow_w1"]
IDLE_SETTLE_S = 3.0  # let background processes (MLflow's job runner) come up before reading RSS
IDLE_CPU_WINDOW_S = 3.0  # then measure the CPU the idle server tree burns on its own


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _git_commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return out.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + (
        " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def machine_info(venv: Path | None) -> dict[str, Any]:
    mlflow_python = "—"
    if venv is not None:
        out = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
        )
        mlflow_python = out.stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total": _mem_total(),
        "python": platform.python_version(),
        "mlflow_version": mlflow_version(venv) if venv is not None else "—",
        "mlflow_python": mlflow_python,
        "polytrack_commit": _git_commit(),
        "loadavg_start": _loadavg(),
    }


def run_server(spec: ServerSpec, workdir: Path, sizes: Sizes, only: list[str]) -> dict[str, Any]:
    """Start one server, measure start-up and idle memory, run the workloads, stop it."""
    print(f"\n== {spec.label}", flush=True)
    out: dict[str, Any] = {"label": spec.label, "workloads": {}, "errors": {}}
    workdir.mkdir(parents=True)
    try:
        server = RunningServer(spec, workdir)
    except Exception as exc:
        print(f"  could not start: {exc}", flush=True)
        out["error"] = str(exc)
        return out
    try:
        out["startup_s"] = server.startup_s
        print(f"  started in {server.startup_s:.2f} s on port {server.port}", flush=True)
        time.sleep(IDLE_SETTLE_S)
        cpu_before = server.cpu_seconds()
        time.sleep(IDLE_CPU_WINDOW_S)
        out["idle_cpu_cores"] = (server.cpu_seconds() - cpu_before) / IDLE_CPU_WINDOW_S
        rss, breakdown = server.rss()
        out["idle_rss_bytes"] = rss
        out["idle_rss_breakdown"] = breakdown
        out["loadavg_before"] = _loadavg()
        print(
            f"  idle: RSS {rss / 2**20:.1f} MB over {len(breakdown)} processes, "
            f"CPU {out['idle_cpu_cores']:.2f} cores",
            flush=True,
        )
        client = RestClient(server.host, server.port)

        def make_client() -> RestClient:
            return RestClient(server.host, server.port)

        for name in only:
            if name == "grpc_ingest":
                if spec.kind != "polytrack":
                    continue
                print("  -- grpc_ingest", flush=True)
                try:
                    from grpc_ingest import grpc_log_batch

                    target = f"{server.host}:{server.grpc_port}"
                    out["workloads"]["grpc_log_batch"] = grpc_log_batch(client, target, sizes.grpc_batches)
                except Exception as exc:
                    traceback.print_exc()
                    out["errors"]["grpc_ingest"] = f"{type(exc).__name__}: {exc}"
                continue
            fn, several = REST_WORKLOADS[name]
            print(f"  -- {name}", flush=True)
            started = time.perf_counter()
            try:
                result = fn(client, sizes, make_client)
            except Exception as exc:
                traceback.print_exc()
                out["errors"][name] = f"{type(exc).__name__}: {exc}"
                client.close()
                continue
            for key, value in result.items() if several else [(name, result)]:
                out["workloads"][key] = value
                print(f"    {key}: {_show(value)}", flush=True)
            print(f"    ({time.perf_counter() - started:.1f} s including data loading)", flush=True)
        client.close()
        out["rss_after_bytes"], _ = server.rss()
        out["loadavg_after"] = _loadavg()
    finally:
        out["stop"] = server.stop()
        print(f"  stopped: {out['stop']}", flush=True)
    return out


def _show(result: dict[str, Any]) -> str:
    client = f"client CPU {result['client_cpu_share']:.0%}" if "client_cpu_share" in result else ""
    if result["unit"] == "s":
        return f"{result['value'] * 1000:,.1f} ms (median of {result['reps']}; {client})"
    return f"{result['value']:,.0f} {result['unit']} ({client})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (development); not a final result")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=WORKLOAD_NAMES,
        metavar="NAME",
        help=f"workloads to run (default: all): {', '.join(WORKLOAD_NAMES)}",
    )
    parser.add_argument(
        "--servers",
        nargs="+",
        choices=SERVER_NAMES,
        default=SERVER_NAMES,
        metavar="NAME",
        help=f"servers to run (default: all): {', '.join(SERVER_NAMES)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="report path (default: bench/RESULTS.md; with --quick, a temp dir); "
        "results.json is written beside it",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases, server logs)")
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    only = args.only or WORKLOAD_NAMES
    if args.output is None:
        base = Path(tempfile.gettempdir()) / "polytrack-bench-quick" if args.quick else REPO / "bench"
        args.output = base / "RESULTS.md"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    json_path = args.output.with_name("results.json")

    wants_mlflow = any(name.startswith("mlflow") for name in args.servers)
    venv = ensure_mlflow_venv() if wants_mlflow else None
    specs = []
    for name in args.servers:
        if name == "polytrack":
            specs.append(polytrack_spec())
        else:
            assert venv is not None
            specs.append(mlflow_spec(venv, None if name == "mlflow_default" else 1))

    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "sizes": dataclasses.asdict(sizes),
        "workloads_run": only,
        "machine": machine_info(venv),
        "servers": {},
    }
    tmp = Path(tempfile.mkdtemp(prefix="polytrack-bench-"))
    print(f"work dir: {tmp}", flush=True)
    try:
        for spec in specs:
            results["servers"][spec.name] = run_server(spec, tmp / spec.name, sizes, only)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    results["comparison"] = compare(results)
    results["absolute"] = absolute_checks(results)
    if json_path.exists():
        # Figures other benchmarks put beside ours (e.g. "artifacts") stay.
        previous_results = json.loads(json_path.read_text())
        results.update({key: value for key, value in previous_results.items() if key not in results})
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    previous = args.output.read_text() if args.output.exists() else ""
    args.output.write_text(render_markdown(results, kept_sections(previous)))
    print(f"\nwrote {args.output} and {json_path}")
    for name, row in results["comparison"].items():
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        print(f"  {name:16s} ratio {ratio:>8s} (target {row['target']:g}x) pass={row['pass']}")
    for name, row in results["absolute"].items():
        print(f"  {name:26s} {row['value']} ({row['target']}) pass={row['pass']}")
    failed = [name for name, s in results["servers"].items() if s.get("errors") or "error" in s]
    if POLYTRACK in args.servers and "error" in results["servers"].get(POLYTRACK, {}):
        print("polytrack did not start: no polytrack figures", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
