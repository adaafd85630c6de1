"""`polytrack server` and `polytrack db upgrade`: run the server and migrate its database.

The server's options are `mlflow server`'s, with the same meanings, so existing start-up scripts
keep working with only the program name changed.
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_BACKEND_STORE_URI = "sqlite:///polytrack.db"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _model_source_root(text: str) -> str:
    from polytrack_server.config import model_source_root

    try:
        return model_source_root(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(commands: Any) -> None:
    server = commands.add_parser(
        "server",
        help="run the tracking server (REST gateway and gRPC)",
        description="Serve the MLflow-compatible REST API and gRPC from one process. Stop with Ctrl-C: "
        "in-flight requests finish and the database is closed cleanly.",
    )
    server.add_argument(
        "--backend-store-uri",
        default=None,
        help=f"database for runs and experiments: sqlite:///path or postgresql://... "
        f"(default: {DEFAULT_BACKEND_STORE_URI} in the working directory, or $POLYTRACK_BACKEND_STORE_URI)",
    )
    server.add_argument(
        "--registry-store-uri",
        default=None,
        help="database for the model registry (default: the backend store)",
    )
    server.add_argument(
        "--model-source-root",
        dest="model_source_roots",
        metavar="PATH_OR_URI",
        action="append",
        type=_model_source_root,
        default=None,
        help="also accept model versions whose source lies under this location (repeatable; e.g. "
        "s3://bucket/models or /srv/models; local paths and file: URIs become absolute paths, need not "
        "exist, and must not contain '..'). Sources under the default artifact root and runs' "
        "artifact roots are always accepted (default: none, or $POLYTRACK_MODEL_SOURCE_ROOTS, "
        "separated by the OS path separator)",
    )
    server.add_argument(
        "--default-artifact-root",
        default=None,
        help="artifact root of new experiments (default: mlflow-artifacts:/ when serving artifacts, "
        "else the artifacts destination)",
    )
    server.add_argument(
        "--artifacts-destination",
        default=None,
        help="where the server stores proxied artifacts (default: ./polytrack-artifacts)",
    )
    serving = server.add_mutually_exclusive_group()
    serving.add_argument(
        "--serve-artifacts",
        dest="serve_artifacts",
        action="store_true",
        default=True,
        help="proxy artifact uploads and downloads through the server (default)",
    )
    serving.add_argument(
        "--no-serve-artifacts",
        dest="serve_artifacts",
        action="store_false",
        help="clients read and write the artifact root directly",
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    server.add_argument("-p", "--port", type=_port, default=5000, help="REST port (default: 5000)")
    server.add_argument("--grpc-port", type=_port, default=5001, help="gRPC port (default: 5001)")
    server.add_argument(
        "-w", "--workers", type=_positive, default=1, help="worker processes serving both ports (default: 1)"
    )
    server.set_defaults(handler=_run_server)

    database = commands.add_parser("db", help="manage the tracking database")
    db_commands = database.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    upgrade = db_commands.add_parser(
        "upgrade",
        help="apply pending schema migrations",
        description="Bring the database schema up to date. Safe to run repeatedly; the server also "
        "does this at start-up.",
    )
    upgrade.add_argument(
        "url", nargs="?", default=None, help=f"database URI (default: {DEFAULT_BACKEND_STORE_URI})"
    )
    upgrade.set_defaults(handler=_upgrade_database)


def _run_server(args: argparse.Namespace) -> int:
    from polytrack_server.app import run
    from polytrack_server.config import from_environment

    config = from_environment(
        backend_store_uri=args.backend_store_uri,
        registry_store_uri=args.registry_store_uri,
        model_source_roots=tuple(args.model_source_roots) if args.model_source_roots else None,
        default_artifact_root=args.default_artifact_root,
        artifacts_destination=args.artifacts_destination,
        serve_artifacts=args.serve_artifacts,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        workers=args.workers,
    )
    run(config)
    return 0


def _upgrade_database(args: argparse.Namespace) -> int:
    from polytrack_server.store.engine import create_engine_for
    from polytrack_server.store.migrations import upgrade_database

    engine = create_engine_for(args.url or DEFAULT_BACKEND_STORE_URI)
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    print(f"database is up to date: {engine.url.render_as_string(hide_password=True)}")
    return 0
