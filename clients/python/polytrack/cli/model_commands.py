"""`polytrack models ...`: look at and manage the model registry.

    polytrack models list [--filter ...]          registered models, one per line
    polytrack models describe NAME                one model: versions per stage, aliases, tags
    polytrack models versions [NAME]              versions (of one model, or matching --filter)
    polytrack models set-alias NAME ALIAS VERSION
    polytrack models delete-alias NAME ALIAS
    polytrack models delete NAME [--version N]    a model with all its versions, or one version

Connection options, `--json` and error reporting are those of `polytrack experiments`.
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from polytrack._transport.rest import message_to_json
from polytrack.cli.tracking_commands import (
    _connection_options,
    _handler,
    _positive,
    _print_fields,
    _print_json,
    _print_mapping,
    _print_table,
    _time,
)
from polytrack.client import Client
from polytrack.registry_entities import ModelVersion, RegisteredModel

_VERSIONS_PAGE = 1000


def register(commands: Any) -> None:
    """Add the `models` command group to the `polytrack` parser."""
    connection = _connection_options()
    group = commands.add_parser("models", help="list, describe and manage registered models and versions")
    sub = group.add_subparsers(dest="models_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", parents=[connection], help="list registered models")
    listing.add_argument("--filter", default=None, help="search filter, e.g. \"name LIKE 'churn%%'\"")
    listing.add_argument("--order-by", action="append", default=[], metavar="ORDER", help="e.g. 'name DESC'")
    listing.add_argument("--max-results", type=_positive, default=None, help="show at most this many")
    listing.set_defaults(handler=_handler(_list_models))

    describe = sub.add_parser("describe", parents=[connection], help="show one registered model")
    describe.add_argument("name")
    describe.set_defaults(handler=_handler(_describe_model))

    versions = sub.add_parser("versions", parents=[connection], help="list model versions")
    versions.add_argument("name", nargs="?", default=None, help="only the versions of this model")
    versions.add_argument("--filter", default=None, help="search filter, e.g. \"tags.validated = 'yes'\"")
    versions.add_argument("--order-by", action="append", default=[], metavar="ORDER")
    versions.add_argument("--max-results", type=_positive, default=None, help="show at most this many")
    versions.set_defaults(handler=_handler(_list_versions))

    set_alias = sub.add_parser("set-alias", parents=[connection], help="point an alias at a version")
    set_alias.add_argument("name")
    set_alias.add_argument("alias")
    set_alias.add_argument("version")
    set_alias.set_defaults(handler=_handler(_set_alias))

    delete_alias = sub.add_parser("delete-alias", parents=[connection], help="remove an alias")
    delete_alias.add_argument("name")
    delete_alias.add_argument("alias")
    delete_alias.set_defaults(handler=_handler(_delete_alias))

    delete = sub.add_parser("delete", parents=[connection], help="delete a model, or one of its versions")
    delete.add_argument("name")
    delete.add_argument("--version", default=None, help="delete only this version")
    delete.set_defaults(handler=_handler(_delete))


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _list_models(client: Client, args: argparse.Namespace) -> int:
    found = client.iter_registered_models(args.filter, args.order_by)
    models: list[RegisteredModel] = list(itertools.islice(found, args.max_results))
    if args.json:
        _print_json({"registered_models": [message_to_json(m.to_proto()) for m in models]})
        return 0
    if not models:
        print("No registered models.")
        return 0
    _print_table(
        ("NAME", "LATEST", "ALIASES", "UPDATED", "DESCRIPTION"),
        (
            (
                m.name,
                max((v.version for v in m.latest_versions), key=int, default="-"),
                ", ".join(f"{a}->{v}" for a, v in sorted(m.aliases.items())) or "-",
                _time(m.last_updated_timestamp),
                (m.description or "").splitlines()[0][:60] if m.description else "",
            )
            for m in models
        ),
    )
    return 0


def _describe_model(client: Client, args: argparse.Namespace) -> int:
    model = client.get_registered_model(args.name)
    if args.json:
        _print_json({"registered_model": message_to_json(model.to_proto())})
        return 0
    _print_fields(
        (
            ("name", model.name),
            ("created", _time(model.creation_timestamp)),
            ("updated", _time(model.last_updated_timestamp)),
            ("description", model.description or ""),
        )
    )
    print("latest versions:" if model.latest_versions else "latest versions: (none)")
    for version in model.latest_versions:
        print(f"  {version.current_stage}: {version.version} ({version.source})")
    _print_mapping("aliases", model.aliases)
    _print_mapping("tags", model.tags)
    return 0


def _list_versions(client: Client, args: argparse.Namespace) -> int:
    clauses = [f"name = {_quoted(args.name)}"] if args.name else []
    if args.filter:
        clauses.append(args.filter)
    versions: list[ModelVersion] = []
    token: str | None = None
    while args.max_results is None or len(versions) < args.max_results:
        page = client.search_model_versions(
            " AND ".join(clauses) or None, _VERSIONS_PAGE, args.order_by, token
        )
        versions += page
        token = page.token
        if not token:
            break
    versions = versions[: args.max_results]
    if args.json:
        _print_json({"model_versions": [message_to_json(v.to_proto()) for v in versions]})
        return 0
    if not versions:
        print("No model versions.")
        return 0
    _print_table(
        ("NAME", "VERSION", "STAGE", "STATUS", "CREATED", "RUN", "SOURCE"),
        (
            (
                v.name,
                v.version,
                v.current_stage,
                v.status,
                _time(v.creation_timestamp),
                v.run_id or "-",
                v.source,
            )
            for v in versions
        ),
    )
    return 0


def _set_alias(client: Client, args: argparse.Namespace) -> int:
    client.set_registered_model_alias(args.name, args.alias, args.version)
    if args.json:
        _print_json({})
    else:
        print(f"Alias {args.alias!r} of {args.name!r} now points to version {args.version}.")
    return 0


def _delete_alias(client: Client, args: argparse.Namespace) -> int:
    client.delete_registered_model_alias(args.name, args.alias)
    if args.json:
        _print_json({})
    else:
        print(f"Removed alias {args.alias!r} of {args.name!r}.")
    return 0


def _delete(client: Client, args: argparse.Namespace) -> int:
    if args.version is not None:
        client.delete_model_version(args.name, args.version)
        message = f"Deleted version {args.version} of {args.name!r}."
    else:
        client.delete_registered_model(args.name)
        message = f"Deleted registered model {args.name!r} and all its versions."
    if args.json:
        _print_json({})
    else:
        print(message)
    return 0
