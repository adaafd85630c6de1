"""Render bench/artifacts.py's figures into the artifacts section of bench/RESULTS.md.

    python bench/artifacts_report.py [--disk bench/artifacts_results.json]
                                     [--ram bench/artifacts_results_ram.json] [--results bench/RESULTS.md]

The section sits between `<!-- kept:artifacts -->` and `<!-- /kept:artifacts -->` (bench/run.py keeps
it when it rewrites the report); it is replaced, or appended when missing. Each JSON file is one
run of bench/artifacts.py: `--disk` with its scratch folder on disk, `--ram` on a RAM-backed one
(`--scratch /dev/shm`). The raw figures are also copied into bench/results.json (keys `artifacts`
and `artifacts_ram`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
TARGET = 3.0
MEMORY_LIMIT_MB = 100.0
_SECTION = re.compile(r"<!-- kept:artifacts -->.*?<!-- /kept:artifacts -->\n", re.DOTALL)
_MB_PER_MIB = 1.048576

# (key in the JSON, row label) for the same-client and the SDK comparisons.
_CURL_ROWS = [("polytrack-rest", "polytrack REST / curl"), ("mlflow-rest", "MLflow REST / curl")]
_SDK_ROWS = [
    ("polytrack-rest", "polytrack REST / polytrack SDK"),
    ("polytrack-grpc", "polytrack gRPC / polytrack SDK"),
    ("mlflow-rest", "MLflow REST / mlflow SDK"),
]
# (check label, group, row key, direction)
_CHECKS = [
    ("Upload, same client (curl, REST)", "curl", "polytrack-rest", "upload"),
    ("Upload, SDK over REST", "results", "polytrack-rest", "upload"),
    ("Upload, SDK over gRPC", "results", "polytrack-grpc", "upload"),
    ("Download, same client (curl, REST)", "curl", "polytrack-rest", "download"),
    ("Download, SDK over REST", "results", "polytrack-rest", "download"),
    ("Download, SDK over gRPC", "results", "polytrack-grpc", "download"),
]


def _mb(mib: float) -> str:
    return f"{mib * _MB_PER_MIB:.1f} MB"


def _ratio(run: dict[str, Any], group: str, key: str, direction: str) -> float | None:
    rows = run.get(group, {})
    if key not in rows or "mlflow-rest" not in rows:
        return None
    ours = rows[key][direction]["throughput_mib_s"]
    theirs = rows["mlflow-rest"][direction]["throughput_mib_s"]
    return float(ours / theirs)


def _table(run: dict[str, Any], group: str, rows: list[tuple[str, str]]) -> list[str]:
    lines = []
    for direction in ("upload", "download"):
        for key, label in rows:
            if key not in run.get(group, {}):
                continue
            figures = run[group][key][direction]
            ratio = _ratio(run, group, key, direction) if key != "mlflow-rest" else None
            client = _mb(figures["client_rss_growth_mib"]) if "client_rss_growth_mib" in figures else "—"
            every = ", ".join(f"{value:.0f}" for value in figures.get("throughput_all_mib_s", []))
            lines.append(
                f"| {label} | {direction} | {figures['throughput_mib_s']:.1f} MiB/s ({every}) | "
                f"{'—' if ratio is None else f'{ratio:.2f}x'} | {_mb(figures['server_rss_growth_mib'])} | "
                f"{client} | {figures['server_cpu_seconds']:.2f} s | {_disk(figures)} |"
            )
    return lines


def _disk(figures: dict[str, Any]) -> str:
    """What the disk did during a transfer: MiB written, seconds busy (reading or writing) and, when
    it wrote a good part of the file, its write rate meanwhile (busy time is counted in jiffies, and
    a busy disk that wrote nothing was reading)."""
    if "disk_written_mib" not in figures:
        return "—"
    written, busy = figures["disk_written_mib"], figures["disk_busy_seconds"]
    rate = f" ({written / busy:.0f} MiB/s)" if written >= 256 and busy >= 0.25 else ""
    return f"{written:.0f} MiB, {busy:.2f} s busy{rate}"


def _medium(run: dict[str, Any], title: str) -> list[str]:
    head = (
        "| Server / client | Direction | Throughput: median (all rounds) | vs MLflow | "
        "Server RSS growth (max) | Client RSS growth (max) | Server CPU | Disk: written, busy (write rate) |"
    )
    lines = [
        f"### {title}",
        "",
        f"Scratch folder on `{run.get('scratch_filesystem', 'unknown')}`; 1-minute load average "
        f"{run['load_average_at_start'][0]} at the start, {run['load_average_at_end'][0]} at the end; "
        f"{run['file_size_mib']} MiB file; writing it and fsyncing it directly: "
        f"{run['disk_durable_write_mib_s']:.1f} MiB/s.",
        "",
        head,
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *_table(run, "curl", _CURL_ROWS),
        *_table(run, "results", _SDK_ROWS),
        "",
    ]
    return lines


# (row label, group, row key) of the uploads compared until durable.
_DURABLE_ROWS = [
    ("curl, REST", "curl", "polytrack-rest"),
    ("SDK over REST", "results", "polytrack-rest"),
    ("SDK over gRPC", "results", "polytrack-grpc"),
]


def _durable_ratio(run: dict[str, Any], group: str, key: str) -> float | None:
    rows = run.get(group, {})
    if key not in rows or "mlflow-rest" not in rows:
        return None
    ours, theirs = rows[key]["upload"], rows["mlflow-rest"]["upload"]
    if "durable_throughput_mib_s" not in ours or "durable_throughput_mib_s" not in theirs:
        return None
    return float(ours["durable_throughput_mib_s"] / theirs["durable_throughput_mib_s"])


def _durable(run: dict[str, Any]) -> list[str]:
    """Uploads compared at the same guarantee: each server's answer, plus the fsync of the stored
    file that the benchmark makes right after it (nothing left to do for polytrack)."""
    lines = []
    for group, rows in (("curl", _CURL_ROWS), ("results", _SDK_ROWS)):
        for key, label in rows:
            figures = run.get(group, {}).get(key, {}).get("upload", {})
            if "durable_throughput_mib_s" not in figures:
                continue
            ratio = _durable_ratio(run, group, key) if key != "mlflow-rest" else None
            every = ", ".join(f"{value:.0f}" for value in figures.get("durable_all_mib_s", []))
            lines.append(
                f"| {label} | {figures['throughput_mib_s']:.1f} MiB/s | "
                f"{figures['fsync_after_answer_seconds']:.2f} s | "
                f"{figures['durable_throughput_mib_s']:.1f} MiB/s ({every}) | "
                f"{'—' if ratio is None else f'{ratio:.2f}x'} |"
            )
    if not lines:
        return []
    return [
        "### Disk uploads until durable",
        "",
        "The same uploads at the same guarantee: right after each server answered, the benchmark "
        "fsyncs the stored file (and its folder) and adds the time that took, which is what a server "
        "that answers before its bytes are on disk still owed the disk. For polytrack it is the time "
        "an fsync of already durable data takes.",
        "",
        "| Server / client | Answered (median round) | fsync owed after the answer | Until durable: "
        "median (all rounds) | vs MLflow |",
        "|---|---:|---:|---:|---:|",
        *lines,
        "",
    ]


def _growth(run: dict[str, Any], field: str) -> float:
    found = [
        row[direction][field]
        for group in ("results", "curl")
        for name, row in run.get(group, {}).items()
        if name.startswith("polytrack")
        for direction in ("upload", "download")
        if field in row[direction]
    ]
    return max(found, default=0.0) * _MB_PER_MIB


def _checks(disk: dict[str, Any], ram: dict[str, Any] | None) -> list[str]:
    lines = [
        "| Check (polytrack vs MLflow, ≥ 3x) | RAM-backed | Disk | Result |",
        "|---|---:|---:|:---:|",
    ]
    for label, group, key, direction in _CHECKS:
        on_disk = _ratio(disk, group, key, direction)
        in_ram = _ratio(ram, group, key, direction) if ram is not None else None
        shown = [f"{value:.2f}x" if value is not None else "—" for value in (in_ram, on_disk)]
        verdicts = []
        for medium, value in (("RAM", in_ram), ("disk", on_disk)):
            if value is not None:
                verdicts.append(f"{medium} {'**pass**' if value >= TARGET else '**FAIL**'}")
        lines.append(f"| {label} | {shown[0]} | {shown[1]} | {', '.join(verdicts)} |")
    for label, group, key in _DURABLE_ROWS:
        value = _durable_ratio(disk, group, key)
        if value is not None:
            verdict = "**pass**" if value >= TARGET else "**FAIL**"
            lines.append(f"| Upload until durable, {label} | | {value:.2f}x | disk {verdict} |")
    runs = [run for run in (disk, ram) if run is not None]
    for label, field in (
        ("polytrack server RSS growth, any 1 GiB transfer", "server_rss_growth_mib"),
        ("polytrack client RSS growth, any 1 GiB transfer", "client_rss_growth_mib"),
    ):
        worst = max(_growth(run, field) for run in runs)
        verdict = "**pass**" if worst < MEMORY_LIMIT_MB else "**FAIL**"
        lines.append(f"| {label} (< {MEMORY_LIMIT_MB:.0f} MB) | | {worst:.1f} MB | {verdict} |")
    return lines


def _rounds(runs: list[dict[str, Any]]) -> str:
    """How many times each transfer was made, as the runs record it ("3" or "3 to 5")."""
    counts = sorted(
        {
            len(row[direction].get("throughput_all_mib_s", [None]))
            for run in runs
            for group in ("results", "curl")
            for row in run.get(group, {}).values()
            for direction in ("upload", "download")
        }
    )
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


def render(disk: dict[str, Any], ram: dict[str, Any] | None, notes: str) -> str:
    rounds = _rounds([run for run in (disk, ram) if run is not None])
    lines = [
        "<!-- kept:artifacts -->",
        "## Artifacts: 1 GiB upload and download",
        "",
        "Measured with `python bench/artifacts.py` (disk) and `python bench/artifacts.py --scratch "
        "/dev/shm` (RAM-backed), rendered by `python bench/artifacts_report.py`: 1 GiB of random bytes, "
        "one server at a time, fresh SQLite and artifact destination each, MLflow with `--workers 1`; "
        f"every transfer made {rounds} times, the round of median throughput shown. Two comparisons, each "
        "with the same kind of client on both sides: **curl** (one binary PUTs the file and GETs it "
        "into /dev/null on both servers' REST proxies, so the servers are measured) and **SDK** "
        "(polytrack's `Client.log_artifact`/`download_artifacts` against MLflow's "
        "`MlflowClient.log_artifact`/`mlflow.artifacts.download_artifacts`, each in a fresh process).",
        "",
        "The RAM-backed run measures the software: the disk drops out. The disk run is what this "
        "machine's virtual disk allows: polytrack fsyncs every upload before answering (MLflow does "
        "not), so its uploads cannot be faster than the disk's durable write speed, shown for each run. "
        "The last column says what the disk did during each transfer (from /proc/diskstats): how much "
        "was written, how long the disk was busy (reading or writing), and how fast it wrote meanwhile.",
        "",
    ]
    if ram is not None:
        lines += _medium(ram, "RAM-backed (tmpfs): the servers' own speed")
    lines += _medium(disk, "Disk: what this machine delivers")
    lines += _durable(disk)
    lines += ["### Checks", "", *_checks(disk, ram), ""]
    if notes.strip():
        lines += [notes.strip(), ""]
    lines.append("<!-- /kept:artifacts -->")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disk", type=Path, default=BENCH / "artifacts_results.json")
    parser.add_argument("--ram", type=Path, default=BENCH / "artifacts_results_ram.json")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--notes", type=Path, default=BENCH / "artifacts_notes.md", help="prose appended")
    args = parser.parse_args()
    disk = json.loads(args.disk.read_text())
    ram = json.loads(args.ram.read_text()) if args.ram.exists() else None
    notes = args.notes.read_text() if args.notes.exists() else ""
    section = render(disk, ram, notes)
    report = args.results.read_text() if args.results.exists() else ""
    if _SECTION.search(report):
        report = _SECTION.sub(lambda _match: section, report)
    else:
        report = report.rstrip("\n") + "\n\n" + section
    args.results.write_text(report)
    raw = args.results.with_name("results.json")
    if raw.exists():
        everything = json.loads(raw.read_text())
        everything["artifacts"] = disk
        if ram is not None:
            everything["artifacts_ram"] = ram
        raw.write_text(json.dumps(everything, indent=2) + "\n")
    print(f"wrote the artifacts section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
