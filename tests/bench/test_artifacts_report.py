"""bench/artifacts_report.py: ratios against MLflow and verdicts come from the figures, and the
artifacts section is replaced in RESULTS.md without touching the rest of the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest


def figures(
    throughput: float, server_growth: float = 5.0, client_growth: float | None = 2.0
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "throughput_mib_s": throughput,
        "throughput_all_mib_s": [throughput - 1, throughput, throughput + 1],
        "server_rss_growth_mib": server_growth,
        "server_cpu_seconds": 1.5,
    }
    if client_growth is not None:
        row["client_rss_growth_mib"] = client_growth
    return row


def run(polytrack_upload: float, *, server_growth: float = 5.0) -> dict[str, Any]:
    both = {"upload": figures(polytrack_upload, server_growth), "download": figures(800.0)}
    mlflow = {"upload": figures(100.0, server_growth=1400.0), "download": figures(100.0)}
    curl = {
        "upload": figures(polytrack_upload, server_growth, client_growth=None),
        "download": figures(800.0, client_growth=None),
    }
    return {
        "file_size_mib": 1024,
        "load_average_at_start": [0.5],
        "load_average_at_end": [1.5],
        "disk_durable_write_mib_s": 400.0,
        "scratch_filesystem": "ext4",
        "results": {"polytrack-rest": both, "polytrack-grpc": both, "mlflow-rest": mlflow},
        "curl": {
            "polytrack-rest": curl,
            "mlflow-rest": {d: figures(100.0, client_growth=None) for d in curl},
        },
    }


def check_line(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"| {label} |"))


def test_verdicts_follow_the_ratio_against_mlflow_on_each_medium(report: Any) -> None:
    text = report.render(run(250.0), run(450.0), "")
    line = check_line(text, "Upload, SDK over gRPC")
    assert "| 4.50x | 2.50x |" in line and "RAM **pass**, disk **FAIL**" in line
    assert "RAM **pass**, disk **pass**" in check_line(text, "Download, SDK over REST")
    # MLflow's own memory growth (1.4 GB here) is shown, not held against polytrack.
    assert check_line(text, "polytrack server RSS growth, any 1 GiB transfer (< 100 MB)").endswith(
        "**pass** |"
    )


def test_memory_growth_over_the_limit_fails(report: Any) -> None:
    text = report.render(run(500.0, server_growth=120.0), None, "")
    assert check_line(text, "polytrack server RSS growth, any 1 GiB transfer (< 100 MB)").endswith(
        "**FAIL** |"
    )
    assert check_line(text, "polytrack client RSS growth, any 1 GiB transfer (< 100 MB)").endswith(
        "**pass** |"
    )


def test_the_section_is_replaced_and_the_rest_of_the_report_kept(
    report: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# head\n<!-- kept:artifacts -->\nearlier figures\n<!-- /kept:artifacts -->\n# tail\n")
    (tmp_path / "results.json").write_text(json.dumps({"workloads": 1}))
    disk = tmp_path / "disk.json"
    disk.write_text(json.dumps(run(300.0)))
    arguments = ["artifacts_report.py", "--disk", str(disk), "--ram", str(tmp_path / "none.json")]
    monkeypatch.setattr(sys, "argv", [*arguments, "--results", str(results), "--notes", str(tmp_path / "x")])
    assert report.main() == 0
    text = results.read_text()
    assert text.startswith("# head\n<!-- kept:artifacts -->\n") and text.endswith(
        "<!-- /kept:artifacts -->\n# tail\n"
    )
    assert "earlier figures" not in text and "3.00x" in text
    assert json.loads((tmp_path / "results.json").read_text()) == {"workloads": 1, "artifacts": run(300.0)}


def test_the_disk_column_shows_what_the_disk_did_and_a_dash_without_a_disk(report: Any) -> None:
    disk = run(300.0)
    disk["curl"]["polytrack-rest"]["upload"].update(disk_written_mib=1024.0, disk_busy_seconds=2.0)
    disk["curl"]["mlflow-rest"]["upload"].update(disk_written_mib=0.0, disk_busy_seconds=0.0)
    # Busy without writing: the disk was read (no write rate to show).
    disk["curl"]["polytrack-rest"]["download"].update(disk_written_mib=0.0, disk_busy_seconds=0.48)
    text = report.render(disk, run(500.0), "")
    on_disk = text[text.index("### Disk") :]
    rows = [line for line in on_disk.splitlines() if line.startswith("| polytrack REST / curl | upload |")]
    assert rows[0].endswith("| 1024 MiB, 2.00 s busy (512 MiB/s) |")
    assert check_line(on_disk, "MLflow REST / curl").endswith("| 0 MiB, 0.00 s busy |")
    reading = [
        line for line in on_disk.splitlines() if line.startswith("| polytrack REST / curl | download |")
    ]
    assert reading[0].endswith("| 0 MiB, 0.48 s busy |")
    in_ram = text[text.index("### RAM") : text.index("### Disk")]
    assert check_line(in_ram, "polytrack REST / curl").endswith("| — |")


def test_the_number_of_rounds_is_read_from_the_figures(report: Any) -> None:
    assert "every transfer made 3 times" in report.render(run(300.0), run(500.0), "")
    five = run(500.0)
    for row in five["results"].values():
        for direction in ("upload", "download"):
            row[direction] = dict(row[direction], throughput_all_mib_s=[1.0, 2.0, 3.0, 4.0, 5.0])
    assert "every transfer made 3 to 5 times" in report.render(run(300.0), five, "")


def with_durable(row: dict[str, Any], answered: float, owed: float) -> None:
    size_mib = 1024
    durable = round(size_mib / (size_mib / answered + owed), 1)
    row["upload"].update(
        throughput_mib_s=answered,
        fsync_after_answer_seconds=owed,
        durable_throughput_mib_s=durable,
        durable_all_mib_s=[durable - 1, durable, durable + 1],
    )


def test_uploads_until_durable_are_compared_with_what_each_server_still_owed_the_disk(report: Any) -> None:
    disk = run(400.0)
    # polytrack owes nothing; MLflow answered at 160 MiB/s with 2 s of fsync still to come.
    with_durable(disk["results"]["polytrack-grpc"], 400.0, 0.0)
    with_durable(disk["results"]["polytrack-rest"], 400.0, 0.0)
    with_durable(disk["results"]["mlflow-rest"], 160.0, 2.0)
    with_durable(disk["curl"]["polytrack-rest"], 350.0, 0.0)
    with_durable(disk["curl"]["mlflow-rest"], 140.0, 0.1)
    text = report.render(disk, run(600.0), "")
    table = text[text.index("### Disk uploads until durable") : text.index("### Checks")]
    # 1024 MiB in 6.4 s + 2 s: 121.9 MiB/s until durable.
    assert check_line(table, "MLflow REST / mlflow SDK") == (
        "| MLflow REST / mlflow SDK | 160.0 MiB/s | 2.00 s | 121.9 MiB/s (121, 122, 123) | — |"
    )
    assert check_line(table, "polytrack gRPC / polytrack SDK").endswith(
        "| 0.00 s | 400.0 MiB/s (399, 400, 401) | 3.28x |"
    )
    checks = text[text.index("### Checks") :]
    assert check_line(checks, "Upload until durable, SDK over gRPC").endswith("| 3.28x | disk **pass** |")
    # curl: 350 against 1024 / (1024/140 + 0.1) = 138.1 MiB/s.
    assert check_line(checks, "Upload until durable, curl, REST").endswith("| 2.53x | disk **FAIL** |")


def test_without_durable_figures_there_is_no_durable_table_or_check(report: Any) -> None:
    text = report.render(run(400.0), run(600.0), "")
    assert "until durable" not in text
