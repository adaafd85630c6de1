"""`polytrack sync`: send spooled data (logged while the server was unreachable) to the server.

    polytrack sync                              # every file in $POLYTRACK_SPOOL_DIR or ~/.polytrack/spool
    polytrack sync --tracking-uri grpc://host:5001 FILE_OR_DIR ...

Each spool file goes to the tracking URI recorded in it, or to `--tracking-uri` when given (a
server that moved). A file is deleted only after all its records were delivered; re-running is
safe (see `polytrack._spool`). Files still being written by a running process are skipped.
Exit status: 0 when every file was synced without refusals, 1 otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from polytrack._logging_queue import DEFAULT_SPOOL_AFTER_SECONDS, OutageRetry
from polytrack._spool import (
    ReplayReport,
    SpoolBusyError,
    SpoolError,
    list_spool_files,
    replay_spool_file,
    spool_directory,
)
from polytrack.errors import PolytrackException

__all__ = ["register"]


def register(commands: Any) -> None:
    """Add the `sync` command to the `polytrack` command line."""
    sync = commands.add_parser(
        "sync",
        help="send spooled data (logged while the server was unreachable) to the tracking server",
        description="Replay spool files to their tracking server and delete each one once delivered. "
        "Safe to re-run: the server ignores data it already has.",
    )
    sync.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="spool files or folders of them (default: the spool folder)",
    )
    sync.add_argument(
        "--tracking-uri",
        default=None,
        help="send everything here instead of the tracking URI recorded in each file",
    )
    sync.add_argument(
        "--spool-dir",
        type=Path,
        default=None,
        help="the spool folder (default: $POLYTRACK_SPOOL_DIR or ~/.polytrack/spool)",
    )
    sync.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_SPOOL_AFTER_SECONDS,
        help=f"seconds to keep retrying an unreachable server per file "
        f"(default: {DEFAULT_SPOOL_AFTER_SECONDS:g})",
    )
    sync.set_defaults(handler=_sync)


def _files(paths: list[Path], spool_dir: Path | None) -> list[Path]:
    if not paths:
        return list_spool_files(spool_dir if spool_dir is not None else spool_directory())
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(list_spool_files(path))
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"no such spool file or folder: {path}")
    return found


def _describe(report: ReplayReport) -> str:
    parts = [f"{report.metrics} metric points", f"{report.params} params", f"{report.tags} tags"]
    if report.end_status is not None:
        parts.append(f"ended {report.end_status}")
    return f"run {report.run_id} -> {report.tracking_uri}: " + ", ".join(parts)


def _sync(args: argparse.Namespace) -> int:
    from polytrack._batches import delivery_client
    from polytrack.client import Client

    files = _files(args.paths, args.spool_dir)
    if not files:
        where = args.spool_dir if args.spool_dir is not None else spool_directory()
        print(f"nothing to sync: no spool files in {where}")
        return 0
    clients: dict[str, Client] = {}

    def client_for(uri: str) -> Client:
        if uri not in clients:
            clients[uri] = delivery_client(uri)  # retried by OutageRetry for up to --timeout seconds
        return clients[uri]

    status = 0
    try:
        for path in files:
            try:
                report = replay_spool_file(path, client_for, OutageRetry(args.timeout), args.tracking_uri)
            except SpoolBusyError:
                print(f"skipped {path}: still being written by a running process")
                continue
            except SpoolError as error:
                print(f"failed {path}: {error}")
                status = 1
                continue
            except PolytrackException as error:
                print(f"kept {path}: {error}")
                status = 1
                continue
            print(f"synced {path.name}: {_describe(report)}")
            if report.torn_tail:
                print(f"  note: the incomplete last line of {path.name} (written during a crash) was skipped")
            if report.rejections:
                status = 1
                print(
                    f"  {len(report.rejections)} items refused by the server, kept in {report.rejected_path}:"
                )
                for rejection in report.rejections[:10]:
                    print(f"    {rejection.item.describe()}: {rejection.error}")
    finally:
        for client in clients.values():
            client.close()
    return status
