"""`polytrack conformance`: run the API conformance suite against a server.

    polytrack conformance                                     # a fresh polytrack, REST and gRPC
    polytrack conformance --server-url http://host:5000       # a running server, REST only
    polytrack conformance --server-url http://localhost:5000 --grpc-target localhost:5001
    polytrack conformance --against mlflow                    # the official MLflow, its own venv
    polytrack conformance --cases 'runs/search/*' --transport grpc
    polytrack conformance --list --counts                     # cases per area, as Markdown

The suite (cases, runner, executors) lives in the repository's `conformance/` folder, not in the
installed package: the command finds it from --suite-dir, $POLYTRACK_CONFORMANCE_DIR, the working
directory or its parents, or the source tree this package was installed from.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

SUITE_DIR_ENV = "POLYTRACK_CONFORMANCE_DIR"
_MARKER = Path("runner") / "cli.py"


class SuiteNotFound(Exception):
    """No conformance suite folder could be found."""


def find_suite(explicit: str | None = None) -> Path:
    """The `conformance/` folder to run."""
    chosen = explicit or os.environ.get(SUITE_DIR_ENV, "").strip()
    if chosen:
        path = Path(chosen).resolve()
        if not (path / _MARKER).is_file():
            raise SuiteNotFound(f"{path} is not a conformance suite folder (no {_MARKER})")
        return path
    here = Path.cwd().resolve()
    source_root = Path(__file__).resolve().parents[4]
    for folder in (here, *here.parents, source_root):
        candidate = folder / "conformance"
        if (candidate / _MARKER).is_file():
            return candidate
    raise SuiteNotFound(
        "cannot find the conformance suite: run from a polytrack checkout, or pass --suite-dir "
        f"(or set ${SUITE_DIR_ENV}) to its conformance/ folder"
    )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "conformance",
        help="run the API conformance suite against a server",
        description="Run the conformance cases (conformance/cases/*.yaml) through the client executors "
        "against polytrack or another MLflow-compatible server, print a per-case report and update "
        "conformance/MATRIX.md. Without --server-url or --grpc-target a fresh server is started.",
    )
    where = parser.add_argument_group("server under test")
    where.add_argument("--server-url", help="REST base URL of a running server, e.g. http://localhost:5000")
    where.add_argument("--grpc-target", help="gRPC address of a running server, e.g. localhost:5001")
    where.add_argument(
        "--spawn",
        action="store_true",
        help="start a fresh server on free ports (the default when no address is given)",
    )
    where.add_argument(
        "--against",
        default="polytrack",
        metavar="IMPLEMENTATION",
        help="implementation under test: its features and known failures come from "
        "conformance/implementations/IMPLEMENTATION.yaml; 'mlflow' starts the official MLflow "
        "(installed into its own venv when missing) and runs the MLflow-compatible REST cases "
        "(default: polytrack)",
    )
    where.add_argument(
        "--mlflow-venv",
        help="venv holding mlflow for --against mlflow (default: $POLYTRACK_CONFORMANCE_MLFLOW_VENV, "
        "else .cache/mlflow-venv, created when missing)",
    )
    which = parser.add_argument_group("what to run")
    which.add_argument(
        "--cases",
        action="append",
        default=[],
        metavar="GLOB",
        help="case name glob, e.g. 'runs/search/*' (repeatable)",
    )
    which.add_argument(
        "--transport",
        dest="transports",
        action="append",
        default=[],
        metavar="rest|grpc",
        help="only this transport (repeatable; default: every transport the server and client speak)",
    )
    which.add_argument(
        "--client",
        dest="clients",
        action="append",
        default=[],
        metavar="NAME",
        help="client library whose executor makes the calls: a folder conformance/executors/NAME/ "
        "(repeatable; default: python)",
    )
    which.add_argument(
        "--list", dest="list_cases", action="store_true", help="list the selected cases and exit"
    )
    which.add_argument(
        "--counts",
        action="store_true",
        help="print a Markdown table of cases per area and exit (with --list)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("-q", "--quiet", action="store_true", help="print only failing cases and the summary")
    output.add_argument(
        "--matrix", metavar="PATH", help="write the matrix here (default: conformance/MATRIX.md)"
    )
    output.add_argument(
        "--no-matrix", action="store_true", help="do not update MATRIX.md (partial runs never update it)"
    )
    output.add_argument("--report-json", metavar="PATH", help="also write every result as JSON to PATH")
    output.add_argument("--keep-workdir", action="store_true", help="keep the server's and executors' logs")
    output.add_argument("--suite-dir", help=f"the conformance/ folder (default: found; or ${SUITE_DIR_ENV})")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        suite = find_suite(args.suite_dir)
    except SuiteNotFound as error:
        print(f"polytrack conformance: error: {error}", file=sys.stderr)
        return 2
    if str(suite.parent) not in sys.path:
        sys.path.insert(0, str(suite.parent))
    runner: Any = importlib.import_module("conformance.runner.cli")
    settings = runner.Settings(
        server_url=args.server_url,
        grpc_target=args.grpc_target,
        spawn=args.spawn,
        against=args.against,
        clients=args.clients or ["python"],
        transports=args.transports,
        cases=args.cases,
        list_cases=args.list_cases,
        counts=args.counts,
        matrix=args.matrix,
        no_matrix=args.no_matrix,
        report_json=args.report_json,
        mlflow_venv=args.mlflow_venv,
        quiet=args.quiet,
        keep_workdir=args.keep_workdir,
    )
    status: int = runner.run(settings)
    return status
