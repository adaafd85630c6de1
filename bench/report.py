"""Ratios against MLflow's better configuration, RESULTS.md and results.json."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

POLYTRACK = "polytrack"
MLFLOW_CONFIGS = ("mlflow_default", "mlflow_w1")

RSS_LIMIT_MB = 150
STARTUP_LIMIT_S = 3.0
GRPC_INGEST_TARGET = 200_000


@dataclass(frozen=True)
class Target:
    title: str
    unit: str  # how the figure is shown
    higher_is_better: bool  # throughput (True) or seconds (False)
    min_ratio: float  # polytrack must be at least this many times faster


TARGETS: dict[str, Target] = {
    "log_metric": Target("log_metric: single runs/log-metric", "requests/s", True, 20),
    "log_batch": Target("log_batch: runs/log-batch, 1000 metrics each", "points/s", True, 20),
    "metric_history": Target("metric_history: get-history, whole history", "s/fetch", False, 15),
    "search_filter": Target("search: filter `metrics.m0 > 0.5`, first 100", "s/query", False, 10),
    "search_order_by": Target("search: order_by `metrics.m1 DESC`, first 100", "s/query", False, 10),
    "search_paging": Target("search: page through all runs by 1000", "s/pass", False, 10),
    "create_run": Target("create_run: runs/create", "runs/s", True, 20),
}


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit.startswith("s"):
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.2f} s"
    return f"{value:,.0f} {unit}"


def _figure(results: dict[str, Any], server: str, workload: str) -> float | None:
    entry = results["servers"].get(server, {}).get("workloads", {}).get(workload)
    return None if entry is None else float(entry["value"])


def compare(results: dict[str, Any]) -> dict[str, Any]:
    """Per workload: each server's figure, MLflow's better configuration, the ratio and the verdict."""
    table: dict[str, Any] = {}
    for name, target in TARGETS.items():
        pt = _figure(results, POLYTRACK, name)
        mlflow = {cfg: _figure(results, cfg, name) for cfg in MLFLOW_CONFIGS}
        measured = {cfg: v for cfg, v in mlflow.items() if v is not None}
        if not measured and pt is None:
            continue
        best_cfg = None
        if measured:
            pick = max if target.higher_is_better else min
            best_cfg = pick(measured, key=lambda cfg: measured[cfg])
        ratio = None
        if pt is not None and best_cfg is not None and pt > 0:
            best = measured[best_cfg]
            ratio = pt / best if target.higher_is_better else best / pt
        table[name] = {
            "polytrack": pt,
            **mlflow,
            "best_mlflow": best_cfg,
            "ratio": ratio,
            "target": target.min_ratio,
            "pass": None if ratio is None else ratio >= target.min_ratio,
        }
    return table


def absolute_checks(results: dict[str, Any]) -> dict[str, Any]:
    pt = results["servers"].get(POLYTRACK, {})
    rss = pt.get("idle_rss_bytes")
    startup = pt.get("startup_s")
    grpc = pt.get("workloads", {}).get("grpc_log_batch", {}).get("value")
    checks = {
        "idle_rss_mb": (None if rss is None else rss / 2**20, f"≤ {RSS_LIMIT_MB} MB", RSS_LIMIT_MB, False),
        "startup_s": (startup, f"≤ {STARTUP_LIMIT_S:g} s", STARTUP_LIMIT_S, False),
        "grpc_ingest_points_per_s": (grpc, f"≥ {GRPC_INGEST_TARGET:,} points/s", GRPC_INGEST_TARGET, True),
    }
    out = {}
    for name, (value, text, limit, at_least) in checks.items():
        passed = None if value is None else (value >= limit if at_least else value <= limit)
        out[name] = {"value": value, "target": text, "pass": passed}
    return out


def _verdict(passed: bool | None) -> str:
    return "—" if passed is None else ("**pass**" if passed else "**FAIL**")


_KEPT = re.compile(r"<!-- kept:(?P<name>[\w-]+) -->.*?<!-- /kept:(?P=name) -->\n", re.DOTALL)


def kept_sections(previous: str) -> list[str]:
    """Sections of an earlier report written by other benchmarks (bench/artifacts.py, the Java
    client's), marked `<!-- kept:NAME -->` ... `<!-- /kept:NAME -->`: a new run keeps them."""
    return [match.group(0) for match in _KEPT.finditer(previous)]


def render_markdown(results: dict[str, Any], kept: list[str] | None = None) -> str:
    m = results["machine"]
    servers = results["servers"]
    labels = {name: servers[name].get("label", name) for name in servers}
    lines = [
        "# polytrack vs MLflow — benchmark results",
        "",
    ]
    if results.get("quick"):
        lines += ["> **QUICK RUN (reduced sizes) — indicative only, not a final result.**", ""]
    peak = _peak_load(results)
    if peak is not None and m.get("nproc") and peak > m["nproc"]:
        lines += [
            f"> **Busy machine:** the 1-minute load average reached {peak:.1f} on {m['nproc']} CPUs during",
            "> this run (other work shared the machine), so every figure is noisier and slower than on an",
            "> idle machine; the load before and after each server is listed under Servers.",
            "",
        ]
    lines += [
        f"- Date: {results['date']}",
        f"- Machine: {m['nproc']} CPUs, {m['cpu_model']}; {m['mem_total']} RAM; load average at start "
        f"{m['loadavg_start']}",
        f"- Python {m['python']} (benchmark client and polytrack); MLflow {m['mlflow_version']} "
        f"(own venv, Python {m['mlflow_python']})",
        f"- polytrack commit {m['polytrack_commit']}",
        f"- Sizes: {', '.join(f'{k}={v:,}' for k, v in results['sizes'].items())}",
        "",
        "Servers ran one at a time on loopback, each on a fresh SQLite file, driven by one keep-alive",
        "HTTP/1.1 client (`http.client`) sending identical MLflow-JSON requests. Ratios compare polytrack",
        "with the **better** of MLflow's two configurations for each workload (named in the table); a ratio",
        'is always "times faster" (throughput ÷ throughput, or MLflow seconds ÷ polytrack seconds).',
        "Latencies are medians over the repetitions after one untimed warm-up.",
        "",
        "## Workloads",
        "",
        "| Workload | polytrack | MLflow default | MLflow --workers 1 | Ratio (vs better MLflow) "
        "| Target | Result |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, row in results["comparison"].items():
        t = TARGETS[name]
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:,.1f}x (vs {_short(row['best_mlflow'])})"
        lines.append(
            f"| {t.title} | {fmt(row['polytrack'], t.unit)} | {fmt(row['mlflow_default'], t.unit)} | "
            f"{fmt(row['mlflow_w1'], t.unit)} | {ratio} | ≥ {t.min_ratio:g}x | {_verdict(row['pass'])} |"
        )
    lines += [
        "",
        "## Absolute checks (polytrack)",
        "",
        "| Check | Measured | Target | Result |",
        "|---|---:|---:|:---:|",
    ]
    abs_checks = results["absolute"]
    shown = {
        "idle_rss_mb": ("Idle RSS, whole process tree", lambda v: f"{v:,.1f} MB"),
        "startup_s": ("Start-up (spawn → /health OK)", lambda v: f"{v:,.2f} s"),
        "grpc_ingest_points_per_s": ("gRPC LogBatch ingest into SQLite", lambda v: f"{v:,.0f} points/s"),
    }
    for key, (title, show) in shown.items():
        check = abs_checks[key]
        value = "—" if check["value"] is None else show(check["value"])
        lines.append(f"| {title} | {value} | {check['target']} | {_verdict(check['pass'])} |")
    grpc = servers.get(POLYTRACK, {}).get("workloads", {}).get("grpc_log_batch")
    if grpc:
        per_level = "; ".join(f"{k}: {v['points_per_s']:,.0f}" for k, v in grpc["levels"].items())
        lines += [
            "",
            f"gRPC ingest by request form and concurrency (points/s): {per_level}. `metrics` sends one "
            "Metric message per point (as MLflow-style clients do); `metric_columns` sends the same "
            "points as packed columns (polytrack's own gRPC clients); the check takes the better.",
        ]

    lines += [
        "",
        "## Servers",
        "",
        "| Server | Start-up | Idle RSS (tree) | Idle CPU | RSS after workloads | Processes "
        "| Load avg before / after | Stopped cleanly |",
        "|---|---:|---:|---:|---:|---:|---|:---:|",
    ]
    for name, s in servers.items():
        if "error" in s and "startup_s" not in s:
            lines.append(f"| {labels[name]} | did not start | — | — | — | — | — | — |")
            continue
        after = s.get("rss_after_bytes")
        stop = s.get("stop", {})
        lines.append(
            f"| {labels[name]} | {s['startup_s']:.2f} s | {s['idle_rss_bytes'] / 2**20:,.1f} MB | "
            f"{s['idle_cpu_cores']:.2f} cores | {'—' if after is None else f'{after / 2**20:,.1f} MB'} | "
            f"{len(s['idle_rss_breakdown'])} | {s.get('loadavg_before', '—')} / "
            f"{s.get('loadavg_after', '—')} | {'yes' if stop.get('clean') else 'no'} |"
        )
    errors = [(labels[n], w, e) for n, s in servers.items() for w, e in s.get("errors", {}).items()]
    errors += [(labels[n], "start", s["error"]) for n, s in servers.items() if "error" in s]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [
            f"- {label} / {workload}: `{str(err).splitlines()[0][:300]}`" for label, workload, err in errors
        ]
    for section in kept or []:
        lines += ["", section.rstrip("\n")]
    lines += [
        "",
        "## How to reproduce",
        "",
        "```sh",
        "pip install -e .                  # polytrack in the current Python",
        "export POLYTRACK_BENCH_MLFLOW_VENV=/path/to/venv  # optional; default .cache/mlflow-venv,",
        "                                                  # created with mlflow==3.17.2 if missing",
        "python bench/run.py               # full run -> bench/RESULTS.md and bench/results.json",
        "python bench/run.py --quick       # small sizes, written to a temp dir",
        "```",
        "",
        "See `bench/README.md` for what each workload does. Raw figures: `results.json` next to this file.",
        "",
    ]
    return "\n".join(lines)


def _peak_load(results: dict[str, Any]) -> float | None:
    samples = [results["machine"].get("loadavg_start", "")]
    for server in results["servers"].values():
        samples += [server.get("loadavg_before", ""), server.get("loadavg_after", "")]
    loads = []
    for sample in samples:
        with contextlib.suppress(IndexError, ValueError):
            loads.append(float(sample.split()[0]))
    return max(loads) if loads else None


def main() -> None:
    """Re-render a report from its results.json: python bench/report.py bench/results.json [OUT.md]."""
    import json
    import sys
    from pathlib import Path

    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_name("RESULTS.md")
    previous = target.read_text() if target.exists() else ""
    target.write_text(render_markdown(json.loads(source.read_text()), kept_sections(previous)))
    print(f"wrote {target}")


def _short(config: str | None) -> str:
    return {"mlflow_default": "default", "mlflow_w1": "--workers 1"}.get(config or "", "—")


if __name__ == "__main__":
    main()
