"""What `polytrack conformance` runs: pick the server, load and select cases, run, report.

The command-line options are defined by `polytrack.cli.conformance_commands`, which locates this
suite and calls `run(Settings(...))`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from conformance.runner import executors, implementations, report, servers
from conformance.runner.engine import CaseResult, Runner, Target, plan
from conformance.runner.schema import ALL_TRANSPORTS, GRPC, CaseError, load_cases, select

SPAWNABLE = ("polytrack", "mlflow")


@dataclass
class Settings:
    """Everything a run needs to know (see `polytrack conformance --help`)."""

    server_url: str | None = None
    grpc_target: str | None = None
    spawn: bool = False
    against: str = "polytrack"
    clients: list[str] = field(default_factory=lambda: ["python"])
    transports: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    list_cases: bool = False
    counts: bool = False
    matrix: str | None = None
    no_matrix: bool = False
    report_json: str | None = None
    mlflow_venv: str | None = None
    quiet: bool = False
    keep_workdir: bool = False


class UsageError(Exception):
    """A combination of options that cannot work; printed as one line."""


def _transports(settings: Settings) -> tuple[str, ...]:
    if not settings.transports:
        return ALL_TRANSPORTS
    chosen = tuple(dict.fromkeys(t.strip().upper() for item in settings.transports for t in item.split(",")))
    unknown = set(chosen) - set(ALL_TRANSPORTS)
    if unknown:
        raise UsageError(f"unknown transport(s) {sorted(unknown)}; choose from rest, grpc")
    return chosen


def _start_server(settings: Settings, workdir: Path, out: TextIO) -> tuple[Target, servers.Server | None]:
    """The target named by the options, or a server started for this run."""
    named = settings.server_url or settings.grpc_target
    if named and settings.spawn:
        raise UsageError("--spawn starts its own server: leave out --server-url and --grpc-target")
    if named:
        if settings.server_url:
            servers.wait_reachable(settings.server_url)
        return Target(settings.server_url, settings.grpc_target), None
    if settings.against not in SPAWNABLE:
        raise UsageError(f"cannot start a {settings.against} server: give its --server-url")
    if settings.against == "mlflow":
        python = servers.ensure_mlflow(servers.mlflow_venv(settings.mlflow_venv), out)
        print(f"starting mlflow {servers.MLFLOW_VERSION} from {python} ...", file=out)
        server = servers.spawn_mlflow(workdir / "server", python)
    else:
        print("starting polytrack server ...", file=out)
        server = servers.spawn_polytrack(workdir / "server")
    print(f"server: {server.url}" + (f" grpc://{server.grpc_target}" if server.grpc_target else ""), file=out)
    return Target(server.url, server.grpc_target), server


def run(settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run the suite as the options say; returns the exit status (0 all good, 1 failures, 2 usage)."""
    try:
        return _run(settings, out)
    except (UsageError, CaseError, implementations.ImplementationError, executors.ExecutorError) as error:
        print(f"polytrack conformance: error: {error}", file=sys.stderr)
        return 2
    except servers.ServerError as error:
        print(f"polytrack conformance: server error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`polytrack conformance --list | head`): stop quietly.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stdout until exit
        return 0


def _run(settings: Settings, out: TextIO) -> int:
    all_cases = load_cases()
    selected = select(all_cases, settings.cases)
    if settings.counts:
        print(report.counts_table(selected), file=out)
        return 0
    if settings.list_cases:
        report.list_cases(selected, out)
        return 0
    if not selected:
        raise UsageError(f"no case matches {settings.cases}")
    implementation = implementations.load(settings.against)
    implementation.check_globs(all_cases)
    clients = [executors.load_client(name) for name in dict.fromkeys(settings.clients)]
    transports = _transports(settings)
    workdir = Path(tempfile.mkdtemp(prefix="polytrack-conformance-"))
    server: servers.Server | None = None
    results: list[CaseResult] = []
    try:
        target, server = _start_server(settings, workdir, out)
        runs = plan(selected, implementation, target, clients, transports)
        if _no_grpc_target(target, implementation, transports):
            print("note: no gRPC target (--grpc-target), so only REST runs", file=out)
        if not runs:
            raise UsageError(
                "no case run applies (check --cases, --transport, --client and the implementation)"
            )
        print(f"running {len(runs)} case runs against {implementation.name} ...", file=out)
        with Runner(implementation, target, workdir) as runner:
            for result in runner.run_all(runs):
                results.append(result)
                if not settings.quiet or result.status in ("failed", "stale"):
                    print(report.line(result), file=out, flush=True)
    finally:
        if server is not None:
            server.stop()
            if any(r.is_bad for r in results):
                print(f"server log: {server.log_path}", file=out)
                settings.keep_workdir = True
        if settings.keep_workdir:
            print(f"work directory kept: {workdir}", file=out)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.print_summary(implementation.name, results, out)
    full_run = not settings.cases and not settings.transports
    if settings.matrix or (full_run and not settings.no_matrix):
        path = Path(settings.matrix) if settings.matrix else report.MATRIX_PATH
        report.update_matrix(implementation.name, results, path)
        print(f"matrix written to {path}", file=out)
    if settings.report_json:
        Path(settings.report_json).write_text(
            json.dumps(report.result_json(results), indent=1), encoding="utf-8"
        )
    return 1 if any(r.is_bad for r in results) else 0


def _no_grpc_target(
    target: Target, implementation: implementations.Implementation, transports: tuple[str, ...]
) -> bool:
    """gRPC runs were wanted but there is no gRPC address to send them to."""
    return GRPC in transports and GRPC in implementation.transports and target.grpc_target is None
