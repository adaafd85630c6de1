"""Reads of the model registry: rows into `RegisteredModel` and `ModelVersion` messages.

Every function takes an open connection, so that a write can return what it wrote from inside its
own transaction. Tags, aliases and latest versions are fetched for many models or versions at
once (one query per kind), never per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Final

import sqlalchemy as sa

from polytrack.v1 import model_registry_pb2 as rpb
from polytrack_server.errors import NotFound
from polytrack_server.store.database import chunks, fits_id_column
from polytrack_server.store.registry_interface import STAGE_DELETED
from polytrack_server.store.schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

_STATUS_NUMBERS: Final = {
    rpb.ModelVersionStatus.Name(value): value
    for value in (rpb.PENDING_REGISTRATION, rpb.FAILED_REGISTRATION, rpb.READY)
}

VersionKey = tuple[str, int]


def model_not_found(name: str) -> NotFound:
    return NotFound(f"Registered model with name={name!r} not found")


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(f"Model version (name={name!r}, version={version}) not found")


def live(table: Any = model_versions) -> sa.ColumnElement[bool]:
    """Rows of versions that are not deleted."""
    return table.c.current_stage != STAGE_DELETED  # type: ignore[no-any-return]


def version_message(
    row: Any, tags: Iterable[tuple[str, str]], aliases: Iterable[str] = ()
) -> rpb.ModelVersion:
    version = rpb.ModelVersion(
        name=row.name,
        version=str(row.version),
        creation_timestamp=row.creation_timestamp,
        last_updated_timestamp=row.last_updated_timestamp,
        current_stage=row.current_stage,
        source=row.source,
        run_id=row.run_id or "",
        status=_STATUS_NUMBERS.get(row.status, rpb.READY),
    )
    if row.description is not None:
        version.description = row.description
    if row.status_message is not None:
        version.status_message = row.status_message
    if row.run_link is not None:
        version.run_link = row.run_link
    if row.model_id is not None:
        version.model_id = row.model_id
    for key, value in tags:
        version.tags.add(key=key, value=value)
    version.aliases.extend(aliases)
    return version


def model_row(connection: sa.Connection, name: str, *, lock: bool = False) -> Any:
    """The registered model's row; unknown -> NotFound. `lock` takes a row lock on PostgreSQL
    (SQLite writers already hold the database's write lock)."""
    query = sa.select(registered_models).where(registered_models.c.name == name)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise model_not_found(name)
    return row


def version_row(connection: sa.Connection, name: str, version: int) -> Any:
    """A live version's row; unknown or deleted -> NotFound."""
    if not fits_id_column(version):
        raise version_not_found(name, version)
    row = connection.execute(
        sa.select(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version, live()
        )
    ).first()
    if row is None:
        raise version_not_found(name, version)
    return row


def _pairs_by_name(
    connection: sa.Connection, table: sa.Table, names: Sequence[str], first: str, second: str
) -> dict[str, list[tuple[Any, Any]]]:
    """(first, second) column pairs of `table` per registered model name, ordered by `first`."""
    found: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for chunk in chunks(names):
        rows = connection.execute(
            sa.select(table.c.name, table.c[first], table.c[second])
            .where(table.c.name.in_(chunk))
            .order_by(table.c.name, table.c[first])
        )
        for name, left, right in rows:
            found[name].append((left, right))
    return found


def model_tags(connection: sa.Connection, names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    return _pairs_by_name(connection, registered_model_tags, names, "key", "value")


def model_aliases(connection: sa.Connection, names: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
    return _pairs_by_name(connection, registered_model_aliases, names, "alias", "version")


def version_tags(
    connection: sa.Connection, keys: Sequence[VersionKey]
) -> dict[VersionKey, list[tuple[str, str]]]:
    found: dict[VersionKey, list[tuple[str, str]]] = defaultdict(list)
    table = model_version_tags
    wanted = set(keys)
    for names in chunks(sorted({name for name, _ in keys})):
        rows = connection.execute(
            sa.select(table.c.name, table.c.version, table.c.key, table.c.value)
            .where(table.c.name.in_(names))
            .order_by(table.c.name, table.c.version, table.c.key)
        )
        for name, version, key, value in rows:
            if (name, version) in wanted:
                found[(name, version)].append((key, value))
    return found


def version_aliases(connection: sa.Connection, keys: Sequence[VersionKey]) -> dict[VersionKey, list[str]]:
    found: dict[VersionKey, list[str]] = defaultdict(list)
    for name, aliases in model_aliases(connection, sorted({name for name, _ in keys})).items():
        for alias, version in aliases:
            found[(name, version)].append(alias)
    return found


def versions_of_rows(
    connection: sa.Connection, rows: Sequence[Any], *, with_aliases: bool
) -> list[rpb.ModelVersion]:
    keys = [(row.name, row.version) for row in rows]
    tags = version_tags(connection, keys)
    aliases = version_aliases(connection, keys) if with_aliases else {}
    return [
        version_message(row, tags[key], aliases.get(key, ())) for row, key in zip(rows, keys, strict=True)
    ]


def load_version(connection: sa.Connection, name: str, version: int) -> rpb.ModelVersion:
    """A live version with its tags and aliases."""
    return versions_of_rows(connection, [version_row(connection, name, version)], with_aliases=True)[0]


def latest_version_rows(connection: sa.Connection, names: Sequence[str]) -> dict[str, list[Any]]:
    """For each model, the rows of its highest live version in each stage, by version."""
    found: dict[str, list[Any]] = defaultdict(list)
    for chunk in chunks(names):
        highest = (
            sa.select(
                model_versions.c.name,
                model_versions.c.current_stage,
                sa.func.max(model_versions.c.version).label("version"),
            )
            .where(model_versions.c.name.in_(chunk), live())
            .group_by(model_versions.c.name, model_versions.c.current_stage)
            .subquery()
        )
        rows = connection.execute(
            sa.select(model_versions)
            .join(
                highest,
                sa.and_(
                    model_versions.c.name == highest.c.name, model_versions.c.version == highest.c.version
                ),
            )
            .order_by(model_versions.c.name, model_versions.c.version)
        )
        for row in rows:
            found[row.name].append(row)
    return found


def models_of_rows(connection: sa.Connection, rows: Sequence[Any]) -> list[rpb.RegisteredModel]:
    names = [row.name for row in rows]
    tags = model_tags(connection, names)
    aliases = model_aliases(connection, names)
    latest = latest_version_rows(connection, names)
    latest_messages = versions_of_rows(
        connection, [row for name in names for row in latest[name]], with_aliases=False
    )
    by_model: dict[str, list[rpb.ModelVersion]] = defaultdict(list)
    for message in latest_messages:
        by_model[message.name].append(message)
    models = []
    for row in rows:
        model = rpb.RegisteredModel(
            name=row.name,
            creation_timestamp=row.creation_timestamp,
            last_updated_timestamp=row.last_updated_timestamp,
        )
        if row.description is not None:
            model.description = row.description
        if row.deployment_job_id is not None:
            model.deployment_job_id = row.deployment_job_id
        model.latest_versions.extend(by_model[row.name])
        for key, value in tags[row.name]:
            model.tags.add(key=key, value=value)
        for alias, version in aliases[row.name]:
            model.aliases.add(alias=alias, version=str(version))
        models.append(model)
    return models


def load_model(connection: sa.Connection, name: str) -> rpb.RegisteredModel:
    return models_of_rows(connection, [model_row(connection, name)])[0]
