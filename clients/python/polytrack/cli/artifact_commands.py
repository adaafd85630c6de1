"""`polytrack artifacts ...`: list, download and upload the artifacts of a run.

    polytrack artifacts list RUN_ID [--path DIR]
    polytrack artifacts download RUN_ID [--path PATH] [--dst DIR]
    polytrack artifacts log RUN_ID LOCAL_PATH [--artifact-path DIR]

The tracking URI comes from `--tracking-uri`, else the environment (as for `polytrack runs`).
`log` uploads a file, or every file below a directory. Files are streamed, so sizes are not
limited by memory. `--json` prints listings as MLflow's FileInfo JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from polytrack.cli.tracking_commands import _connection_options, _handler
from polytrack.client import Client


def register(commands: Any) -> None:
    """Add the `artifacts` command group to the `polytrack` parser."""
    connection = _connection_options()
    group = commands.add_parser("artifacts", help="list, download and upload the artifacts of a run")
    sub = group.add_subparsers(dest="artifacts_command", metavar="COMMAND", required=True)

    listing = sub.add_parser(
        "list", parents=[connection], help="list the artifacts under a directory of a run"
    )
    listing.add_argument("run_id")
    listing.add_argument("--path", default=None, help="directory inside the run (default: its root)")
    listing.set_defaults(handler=_handler(_list))

    download = sub.add_parser("download", parents=[connection], help="download a file or directory of a run")
    download.add_argument("run_id")
    download.add_argument("--path", default="", help="file or directory inside the run (default: everything)")
    download.add_argument("--dst", default=None, help="local directory (default: a new temporary one)")
    download.set_defaults(handler=_handler(_download))

    log = sub.add_parser("log", parents=[connection], help="upload a local file or directory to a run")
    log.add_argument("run_id")
    log.add_argument("local_path")
    log.add_argument("--artifact-path", default=None, help="directory inside the run to upload into")
    log.set_defaults(handler=_handler(_log))


def _list(client: Client, args: argparse.Namespace) -> int:
    entries = client.list_artifacts(args.run_id, args.path)
    if args.json:
        print(json.dumps({"files": [_without_none(dataclasses.asdict(e)) for e in entries]}, indent=2))
        return 0
    for entry in entries:
        size = "-" if entry.file_size is None else str(entry.file_size)
        print(f"{'dir ' if entry.is_dir else 'file'}  {size:>12}  {entry.path}{'/' if entry.is_dir else ''}")
    return 0


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _download(client: Client, args: argparse.Namespace) -> int:
    print(client.download_artifacts(args.run_id, args.path, args.dst))
    return 0


def _log(client: Client, args: argparse.Namespace) -> int:
    source = Path(args.local_path)
    if source.is_dir():
        client.log_artifacts(args.run_id, source, args.artifact_path)
    else:
        client.log_artifact(args.run_id, source, args.artifact_path)
    return 0
