"""`polytrack experiments ...` and `polytrack runs ...`: look at and manage tracked data.

    polytrack experiments list|create|describe|rename|delete|restore
    polytrack runs list|describe|delete|restore

Each command talks to the tracking URI given with `--tracking-uri`, else $POLYTRACK_TRACKING_URI
(then $MLFLOW_TRACKING_URI, then `sqlite:///polytrack.db`), through `polytrack.Client`. Output is
a table or `key: value` lines for people; `--json` prints MLflow's REST JSON for scripts. A failed
request prints one line, `polytrack runs: error: RESOURCE_DOES_NOT_EXIST: ...`, and exits 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from polytrack._transport.rest import message_to_json
from polytrack.client import SEARCH_MAX_RESULTS_DEFAULT, Client
from polytrack.entities import Experiment, Run, ViewType
from polytrack.errors import PolytrackException

Handler = Callable[[Client, argparse.Namespace], int]

_VIEWS = {"active": ViewType.ACTIVE_ONLY, "deleted": ViewType.DELETED_ONLY, "all": ViewType.ALL}


# --- argument types and shared options -----------------------------------------------------------
def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _key_value(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _connection_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--tracking-uri",
        default=None,
        help="http(s)://host:port, grpc://host:port, sqlite:///path or postgresql://... "
        "(default: $POLYTRACK_TRACKING_URI, $MLFLOW_TRACKING_URI, else sqlite:///polytrack.db)",
    )
    parent.add_argument("--json", action="store_true", help="print MLflow's REST JSON instead of text")
    return parent


def _search_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--filter", default=None, help=f"search filter, e.g. {what}")
    parser.add_argument(
        "--order-by",
        action="append",
        default=[],
        metavar="ORDER",
        help="ordering such as 'name ASC' (repeatable; the first one is the primary key)",
    )
    parser.add_argument(
        "--max-results", type=_positive, default=None, help="show at most this many (default: all)"
    )
    parser.add_argument(
        "--view",
        choices=sorted(_VIEWS),
        default="active",
        help="which lifecycle stages to show (default: active)",
    )


# --- registration --------------------------------------------------------------------------------
def register(commands: Any) -> None:
    """Add the `experiments` and `runs` command groups to the `polytrack` parser."""
    connection = _connection_options()
    _register_experiments(commands, connection)
    _register_runs(commands, connection)


def _register_experiments(commands: Any, connection: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "experiments", help="list, create, describe, rename, delete and restore experiments"
    )
    sub = group.add_subparsers(dest="experiments_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", parents=[connection], help="list experiments")
    _search_options(listing, "\"name LIKE 'prod-%%'\"")
    listing.set_defaults(handler=_handler(_list_experiments))

    create = sub.add_parser("create", parents=[connection], help="create an experiment and print its id")
    create.add_argument("name", help="name of the new experiment")
    create.add_argument("--artifact-location", default=None, help="artifact root of its runs")
    create.add_argument(
        "--tag", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="a tag (repeatable)"
    )
    create.set_defaults(handler=_handler(_create_experiment))

    describe = sub.add_parser("describe", parents=[connection], help="show one experiment")
    which = describe.add_mutually_exclusive_group(required=True)
    which.add_argument("experiment_id", nargs="?", help="the experiment's id")
    which.add_argument("--name", default=None, help="find the experiment by name instead of id")
    describe.set_defaults(handler=_handler(_describe_experiment))

    rename = sub.add_parser("rename", parents=[connection], help="rename an experiment")
    rename.add_argument("experiment_id")
    rename.add_argument("new_name")
    rename.set_defaults(handler=_handler(_rename_experiment))

    for action, verb in (
        ("delete", "mark an experiment and its runs deleted"),
        ("restore", "restore a deleted experiment"),
    ):
        parser = sub.add_parser(action, parents=[connection], help=verb)
        parser.add_argument("experiment_id")
        parser.set_defaults(handler=_handler(_change_experiment), action=action)


def _register_runs(commands: Any, connection: argparse.ArgumentParser) -> None:
    group = commands.add_parser("runs", help="list, describe, delete and restore runs")
    sub = group.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", parents=[connection], help="list the runs of experiments")
    listing.add_argument(
        "--experiment-id",
        action="append",
        required=True,
        dest="experiment_ids",
        metavar="ID",
        help="experiment whose runs to list (repeatable)",
    )
    _search_options(listing, "\"metrics.rmse < 1 AND params.model = 'gbm'\"")
    listing.set_defaults(handler=_handler(_list_runs))

    describe = sub.add_parser("describe", parents=[connection], help="show one run")
    describe.add_argument("run_id")
    describe.set_defaults(handler=_handler(_describe_run))

    for action, verb in (("delete", "mark a run deleted"), ("restore", "restore a deleted run")):
        parser = sub.add_parser(action, parents=[connection], help=verb)
        parser.add_argument("run_id")
        parser.set_defaults(handler=_handler(_change_run), action=action)


def _handler(function: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with Client(args.tracking_uri) as client:
                return function(client, args)
        except PolytrackException as error:
            print(f"polytrack {args.command}: error: {error.error_code}: {error.message}", file=sys.stderr)
            return 1

    return run


# --- output --------------------------------------------------------------------------------------
def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _time(milliseconds: int | None) -> str:
    if not milliseconds:
        return "-"
    return datetime.fromtimestamp(milliseconds / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: int | None, end: int | None) -> str:
    if not start or not end or end < start:
        return "-"
    seconds = (end - start) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


def _print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    rows = [list(row) for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [list(headers), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _print_fields(pairs: Iterable[tuple[str, object]]) -> None:
    pairs = list(pairs)
    width = max(len(key) for key, _ in pairs) + 1
    for key, value in pairs:
        print(f"{key + ':':<{width}} {value}")


def _print_mapping(title: str, mapping: dict[str, Any]) -> None:
    print(f"{title}:" if mapping else f"{title}: (none)")
    for key in sorted(mapping):
        print(f"  {key}: {mapping[key]}")


def _limited(items: Iterator[Any], max_results: int | None) -> list[Any]:
    return list(itertools.islice(items, max_results) if max_results is not None else items)


def _page_size(max_results: int | None) -> int:
    return min(max_results or SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_DEFAULT)


# --- experiments ---------------------------------------------------------------------------------
def _list_experiments(client: Client, args: argparse.Namespace) -> int:
    found = client.iter_experiments(
        _VIEWS[args.view], args.filter, args.order_by, _page_size(args.max_results)
    )
    experiments: list[Experiment] = _limited(found, args.max_results)
    if args.json:
        _print_json({"experiments": [message_to_json(e.to_proto()) for e in experiments]})
        return 0
    if not experiments:
        print("No experiments.")
        return 0
    _print_table(
        ("ID", "NAME", "STAGE", "CREATED", "ARTIFACT LOCATION"),
        (
            (e.experiment_id, e.name, e.lifecycle_stage, _time(e.creation_time), e.artifact_location)
            for e in experiments
        ),
    )
    return 0


def _create_experiment(client: Client, args: argparse.Namespace) -> int:
    experiment_id = client.create_experiment(args.name, args.artifact_location, dict(args.tag))
    if args.json:
        _print_json({"experiment_id": experiment_id})
    else:
        print(f"Created experiment {experiment_id} ({args.name!r}).")
    return 0


def _describe_experiment(client: Client, args: argparse.Namespace) -> int:
    if args.name is not None:
        experiment = client.get_experiment_by_name(args.name)
        if experiment is None:
            raise PolytrackException(
                f"No experiment named {args.name!r} exists", "RESOURCE_DOES_NOT_EXIST", 404
            )
    else:
        experiment = client.get_experiment(args.experiment_id)
    if args.json:
        _print_json({"experiment": message_to_json(experiment.to_proto())})
        return 0
    _print_fields(
        (
            ("experiment_id", experiment.experiment_id),
            ("name", experiment.name),
            ("lifecycle_stage", experiment.lifecycle_stage),
            ("artifact_location", experiment.artifact_location),
            ("creation_time", _time(experiment.creation_time)),
            ("last_update_time", _time(experiment.last_update_time)),
        )
    )
    _print_mapping("tags", experiment.tags)
    return 0


def _rename_experiment(client: Client, args: argparse.Namespace) -> int:
    client.rename_experiment(args.experiment_id, args.new_name)
    if args.json:
        _print_json({})
    else:
        print(f"Renamed experiment {args.experiment_id} to {args.new_name!r}.")
    return 0


def _change_experiment(client: Client, args: argparse.Namespace) -> int:
    if args.action == "delete":
        client.delete_experiment(args.experiment_id)
    else:
        client.restore_experiment(args.experiment_id)
    if args.json:
        _print_json({})
    else:
        print(f"{args.action.capitalize()}d experiment {args.experiment_id}.")
    return 0


# --- runs ----------------------------------------------------------------------------------------
def _list_runs(client: Client, args: argparse.Namespace) -> int:
    found = client.iter_runs(
        args.experiment_ids, args.filter or "", _VIEWS[args.view], args.order_by, _page_size(args.max_results)
    )
    runs: list[Run] = _limited(found, args.max_results)
    if args.json:
        _print_json({"runs": [message_to_json(run.to_proto()) for run in runs]})
        return 0
    if not runs:
        print("No runs.")
        return 0
    headers = ["RUN ID", "NAME", "STATUS", "STARTED", "DURATION"]
    if len(set(args.experiment_ids)) > 1:
        headers.insert(1, "EXPERIMENT")
    if args.view != "active":
        headers.append("STAGE")
    rows = []
    for run in runs:
        info = run.info
        row = [
            info.run_id,
            info.run_name,
            info.status,
            _time(info.start_time),
            _duration(info.start_time, info.end_time),
        ]
        if "EXPERIMENT" in headers:
            row.insert(1, info.experiment_id)
        if "STAGE" in headers:
            row.append(info.lifecycle_stage)
        rows.append(row)
    _print_table(headers, rows)
    return 0


def _describe_run(client: Client, args: argparse.Namespace) -> int:
    run = client.get_run(args.run_id)
    if args.json:
        _print_json({"run": message_to_json(run.to_proto())})
        return 0
    info = run.info
    _print_fields(
        (
            ("run_id", info.run_id),
            ("run_name", info.run_name),
            ("experiment_id", info.experiment_id),
            ("status", info.status),
            ("lifecycle_stage", info.lifecycle_stage),
            ("user_id", info.user_id or "-"),
            ("start_time", _time(info.start_time)),
            ("end_time", _time(info.end_time)),
            ("duration", _duration(info.start_time, info.end_time)),
            ("artifact_uri", info.artifact_uri),
        )
    )
    _print_mapping("params", run.data.params)
    metrics = {m.key: f"{m.value!r} (step {m.step}, {_time(m.timestamp)})" for m in run.data.latest_metrics}
    _print_mapping("metrics", metrics)
    _print_mapping("tags", run.data.tags)
    datasets = run.inputs.dataset_inputs
    if datasets:
        print("datasets:")
        for dataset_input in datasets:
            dataset = dataset_input.dataset
            context = ", ".join(f"{t.key}={t.value}" for t in dataset_input.tags)
            print(f"  {dataset.name} (digest {dataset.digest})" + (f" [{context}]" if context else ""))
    return 0


def _change_run(client: Client, args: argparse.Namespace) -> int:
    if args.action == "delete":
        client.delete_run(args.run_id)
    else:
        client.restore_run(args.run_id)
    if args.json:
        _print_json({})
    else:
        print(f"{args.action.capitalize()}d run {args.run_id}.")
    return 0
