"""What a run prints and writes: per-case lines, failure details, a summary, MATRIX.md, counts."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from conformance.runner.engine import STATUSES, CaseResult
from conformance.runner.schema import GRPC, REST, SUITE_DIR, LoadedCase

MATRIX_PATH = SUITE_DIR / "MATRIX.md"
_LABELS = {"passed": "PASS", "failed": "FAIL", "xfail": "XFAIL", "stale": "STALE", "skipped": "SKIP"}
_SHOWN = 1500
_DATA = re.compile(r"<!-- matrix-data\n(?P<data>.*?)\n-->", re.DOTALL)


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=False)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} chars)"


def line(result: CaseResult) -> str:
    """One line per case run: status, transport, client, name, time or reason."""
    tail = f"({result.seconds:.2f}s)" if result.status in ("passed", "failed") else f"- {result.reason}"
    return (
        f"{_LABELS[result.status]:<6} {result.transport:<5} {result.client:<8} {result.name} {tail}".rstrip()
    )


def details(result: CaseResult) -> str:
    """The failure block: the case, the step, request, expected, actual and each mismatch."""
    lines = [f"{_LABELS[result.status]} {result.name} [{result.transport}, {result.client}]"]
    lines.append(f"  {result.case.description.strip()}")
    lines.append(f"  file: {result.case.path.name}")
    if result.reason:
        lines.append(f"  note: {result.reason}")
    failure = result.failure
    if failure is not None:
        lines.append(f"  step {failure.step} ({failure.label})")
        lines.append(f"    request:  {_compact(failure.request)}")
        lines.append(f"    expected: {_compact(failure.expected)}")
        lines.append(f"    actual:   {_compact(failure.actual)}")
        lines += [f"    - {problem}" for problem in failure.problems]
    return "\n".join(lines)


def summary_rows(results: Iterable[CaseResult]) -> dict[tuple[str, str], Counter[str]]:
    """Counts of each status per (transport, client)."""
    rows: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for result in results:
        rows[(result.transport, result.client)][result.status] += 1
    return dict(rows)


def print_summary(implementation: str, results: list[CaseResult], out: TextIO) -> None:
    """Failure details, then one summary line per transport and client."""
    bad = [r for r in results if r.status in ("failed", "stale")]
    expected = [r for r in results if r.status == "xfail"]
    if bad:
        print(f"\n{len(bad)} failing run(s):\n", file=out)
        for result in bad:
            print(details(result) + "\n", file=out)
    if expected:
        print(f"{len(expected)} expected failure(s) (implementations/{implementation}.yaml):", file=out)
        for result in expected:
            print(f"  {result.name} [{result.transport}, {result.client}]: {result.reason}", file=out)
        print(file=out)
    print(f"summary against {implementation}:", file=out)
    for (transport, client), counts in sorted(summary_rows(results).items()):
        parts = ", ".join(f"{counts[s]} {s if s != 'xfail' else 'expected-to-fail'}" for s in STATUSES)
        print(f"  {transport:<5} {client:<8} {parts}", file=out)
    verdict = "FAILED" if bad else "OK"
    print(f"{verdict}: {sum(1 for r in results if r.status == 'passed')} passed, {len(bad)} failing, "
          f"{len(expected)} expected failures, {sum(1 for r in results if r.status == 'skipped')} skipped",
          file=out)  # fmt: skip


def result_json(results: list[CaseResult]) -> list[dict[str, Any]]:
    """Machine-readable results (for --report-json)."""
    out: list[dict[str, Any]] = []
    for result in results:
        item: dict[str, Any] = {
            "case": result.name,
            "transport": result.transport,
            "client": result.client,
            "status": result.status,
            "seconds": round(result.seconds, 3),
        }
        if result.reason:
            item["reason"] = result.reason
        if result.failure is not None:
            failure = result.failure
            item["failure"] = {
                "step": failure.step,
                "label": failure.label,
                "request": failure.request,
                "expected": failure.expected,
                "actual": failure.actual,
                "problems": failure.problems,
            }
        out.append(item)
    return out


# --- MATRIX.md -----------------------------------------------------------------------------------
def _read_matrix_data(path: Path) -> dict[str, Any]:
    try:
        found = _DATA.search(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not found:
        return {}
    data: dict[str, Any] = {}
    for row in found.group("data").splitlines():
        try:
            parsed = json.loads(row)
        except json.JSONDecodeError:
            continue  # a hand-edited or damaged row: that row is rebuilt by its next full run
        if isinstance(parsed, dict):
            data.update(parsed)
    return data


def update_matrix(implementation: str, results: list[CaseResult], path: Path = MATRIX_PATH) -> None:
    """Replace this implementation's rows in MATRIX.md (other implementations' rows are kept)."""
    data = _read_matrix_data(path)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    for (transport, client), counts in summary_rows(results).items():
        areas: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "total": 0})
        for result in results:
            if (result.transport, result.client) == (transport, client) and result.status != "skipped":
                areas[result.case.area]["total"] += 1
                areas[result.case.area]["passed"] += result.status == "passed"
        data[f"{implementation}|{transport}|{client}"] = {
            "counts": {status: counts[status] for status in STATUSES},
            "areas": dict(sorted(areas.items())),
            "date": today,
        }
    path.write_text(render_matrix(data), encoding="utf-8")


def render_matrix(data: dict[str, Any]) -> str:
    keys = sorted(data)
    lines = [
        "# Conformance matrix",
        "",
        "Written by `polytrack conformance` after each full run (do not edit by hand): one row (or",
        "column) per implementation, transport and client. A run replaces only its own rows. Expected",
        "failures are listed with their reasons in `implementations/<name>.yaml`.",
        "",
        "| Implementation | Transport | Client | Passed | Failed | Expected failures | Stale | Skipped "
        "| Run on |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for key in keys:
        implementation, transport, client = key.split("|")
        counts = data[key]["counts"]
        lines.append(
            f"| {implementation} | {transport} | {client} | {counts['passed']} | {counts['failed']} | "
            f"{counts['xfail']} | {counts['stale']} | {counts['skipped']} | {data[key]['date']} |"
        )
    areas = sorted({area for key in keys for area in data[key]["areas"]})
    lines += [
        "",
        "## Passed per area",
        "",
        "| Area | " + " | ".join(k.replace("|", " · ") for k in keys) + " |",
    ]
    lines.append("|---|" + "---:|" * len(keys))
    for area in areas:
        cells = []
        for key in keys:
            cell = data[key]["areas"].get(area)
            cells.append(f"{cell['passed']}/{cell['total']}" if cell else "-")
        lines.append(f"| {area} | " + " | ".join(cells) + " |")
    rows = [json.dumps({key: data[key]}, sort_keys=True) for key in keys]
    lines += ["", "<!-- matrix-data", *rows, "-->", ""]
    return "\n".join(lines)


# --- case listing and counts ---------------------------------------------------------------------
def list_cases(cases: list[LoadedCase], out: TextIO) -> None:
    for case in cases:
        flags = ",".join(case.transports) + (" mlflow" if case.mlflow_compatible else "")
        features = f" needs:{','.join(case.features)}" if case.features else ""
        print(f"{case.name}  [{flags}]{features}", file=out)


def counts_table(cases: list[LoadedCase]) -> str:
    """Markdown table of cases per area: total, on REST, on gRPC, MLflow-compatible."""
    per_area: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        counts = per_area[case.area]
        counts["cases"] += 1
        counts["rest"] += REST in case.transports
        counts["grpc"] += GRPC in case.transports
        counts["mlflow"] += case.mlflow_compatible
    lines = ["| Area | Cases | REST | gRPC | MLflow-compatible |", "|---|---:|---:|---:|---:|"]
    total: Counter[str] = Counter()
    for area, counts in sorted(per_area.items()):
        total.update(counts)
        lines.append(
            f"| {area} | {counts['cases']} | {counts['rest']} | {counts['grpc']} | {counts['mlflow']} |"
        )
    lines.append(f"| **total** | {total['cases']} | {total['rest']} | {total['grpc']} | {total['mlflow']} |")
    return "\n".join(lines)
