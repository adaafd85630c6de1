"""Experiments: creation, lookup, search, rename, soft delete with its runs, and tags."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import AlreadyExists, BadRequest, InvalidParameter, NotFound
from polytrack_server.store.database import Database, chunks, fits_id_column, now_ms, parse_experiment_id
from polytrack_server.store.interface import ACTIVE, DELETED, Page
from polytrack_server.store.messages import experiment_message
from polytrack_server.store.schema import experiment_tags, experiments, runs
from polytrack_server.store.search import (
    decode_page_token,
    encode_page_token,
    experiment_filter_conditions,
    experiment_order_terms,
)

DEFAULT_EXPERIMENT_ID: Final = 0
DEFAULT_EXPERIMENT_NAME: Final = "Default"


def artifact_path_join(root: str, *parts: str) -> str:
    """`root/part/...` without doubling the separator when root ends with one."""
    return (root if root.endswith("/") else root + "/") + "/".join(parts)


def lifecycle_stages(view_type: int) -> tuple[str, ...]:
    """Stages a search returns: 2 DELETED_ONLY, 3 ALL, anything else ACTIVE_ONLY."""
    if view_type == pb.DELETED_ONLY:
        return (DELETED,)
    if view_type == pb.ALL:
        return (ACTIVE, DELETED)
    return (ACTIVE,)


def _not_found(experiment_id: object) -> NotFound:
    return NotFound(f"No experiment with id {experiment_id} exists")


def not_active(what: str, identifier: object) -> InvalidParameter:
    return InvalidParameter(
        f"The {what} {identifier} must be in the 'active' state to be changed; it is 'deleted'"
    )


def _latest_tags(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Tags by key, the last value winning when a key repeats."""
    return dict(tags)


class ExperimentRepository:
    def __init__(self, database: Database, default_artifact_root: str) -> None:
        self._db = database
        self._default_artifact_root = default_artifact_root
        self._upsert_tag = database.upsert(experiment_tags, ("experiment_id", "key"), ("value",))

    def ensure_default_experiment(self) -> None:
        """Create the `Default` experiment (id 0) unless it exists."""
        with self._db.read() as connection:
            exists = connection.execute(
                sa.select(experiments.c.experiment_id).where(
                    experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID
                )
            ).first()
        if exists:
            return
        now = now_ms()
        location = artifact_path_join(self._default_artifact_root, str(DEFAULT_EXPERIMENT_ID))
        with self._db.write() as connection:
            connection.execute(
                self._db.insert(experiments)
                .values(
                    experiment_id=DEFAULT_EXPERIMENT_ID,
                    name=DEFAULT_EXPERIMENT_NAME,
                    artifact_location=location,
                    lifecycle_stage=ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
                .on_conflict_do_nothing()
            )

    # --- reads -----------------------------------------------------------------------------------
    def get(self, experiment_id: str) -> pb.Experiment:
        number = parse_experiment_id(experiment_id)
        if not fits_id_column(number):
            raise _not_found(number)
        with self._db.read() as connection:
            row = connection.execute(
                sa.select(experiments).where(experiments.c.experiment_id == number)
            ).first()
            if row is None:
                raise _not_found(number)
            return experiment_message(row, self._tags_of(connection, [number])[number])

    def get_by_name(self, name: str) -> pb.Experiment:
        with self._db.read() as connection:
            row = connection.execute(sa.select(experiments).where(experiments.c.name == name)).first()
            if row is None:
                raise NotFound(f"No experiment named {name!r} exists")
            return experiment_message(row, self._tags_of(connection, [row.experiment_id])[row.experiment_id])

    def search(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[pb.Experiment]:
        if max_results < 1:
            raise InvalidParameter(f"Invalid max_results {max_results}: it must be at least 1")
        conditions = experiment_filter_conditions(filter_string)
        order_terms = experiment_order_terms(order_by)
        offset = decode_page_token(page_token)
        query = (
            sa.select(experiments)
            .where(experiments.c.lifecycle_stage.in_(lifecycle_stages(view_type)), *conditions)
            .order_by(*order_terms)
            .limit(max_results + 1)
            .offset(offset)
        )
        with self._db.read() as connection:
            rows = connection.execute(query).all()
            page, more = rows[:max_results], len(rows) > max_results
            tags = self._tags_of(connection, [row.experiment_id for row in page])
        items = [experiment_message(row, tags[row.experiment_id]) for row in page]
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def _tags_of(self, connection: sa.Connection, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        found: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for chunk in chunks(ids):
            rows = connection.execute(
                sa.select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value)
                .where(experiment_tags.c.experiment_id.in_(chunk))
                .order_by(experiment_tags.c.experiment_id, experiment_tags.c.key)
            )
            for experiment_id, key, value in rows:
                found[experiment_id].append((key, value))
        return found

    # --- writes ----------------------------------------------------------------------------------
    def create(self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]) -> str:
        now = now_ms()
        with self._db.write() as connection:
            try:
                inserted = connection.execute(
                    sa.insert(experiments).values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
            except sa.exc.IntegrityError as error:
                raise AlreadyExists(f"An experiment named {name!r} already exists") from error
            primary_key = inserted.inserted_primary_key
            assert primary_key is not None
            experiment_id = int(primary_key[0])
            if artifact_location is None:
                connection.execute(
                    sa.update(experiments)
                    .where(experiments.c.experiment_id == experiment_id)
                    .values(
                        artifact_location=artifact_path_join(self._default_artifact_root, str(experiment_id))
                    )
                )
            latest = _latest_tags(tags)
            if latest:
                connection.execute(
                    sa.insert(experiment_tags),
                    [{"experiment_id": experiment_id, "key": k, "value": v} for k, v in latest.items()],
                )
        return str(experiment_id)

    def _stage_of(self, connection: sa.Connection, experiment_id: str) -> tuple[int, str]:
        """(id, lifecycle stage) of an existing experiment; unknown -> NotFound."""
        number = parse_experiment_id(experiment_id)
        if not fits_id_column(number):
            raise _not_found(number)
        stage = connection.execute(
            sa.select(experiments.c.lifecycle_stage).where(experiments.c.experiment_id == number)
        ).scalar()
        if stage is None:
            raise _not_found(number)
        return number, str(stage)

    def rename(self, experiment_id: str, new_name: str) -> None:
        with self._db.write() as connection:
            number, stage = self._stage_of(connection, experiment_id)
            if stage != ACTIVE:
                raise InvalidParameter(
                    f"Cannot rename the experiment {number}: it is deleted; restore it first"
                )
            try:
                connection.execute(
                    sa.update(experiments)
                    .where(experiments.c.experiment_id == number)
                    .values(name=new_name, last_update_time=now_ms())
                )
            except sa.exc.IntegrityError as error:
                raise BadRequest(
                    f"Cannot rename the experiment {number} to {new_name!r}: that name is taken"
                ) from error

    def delete(self, experiment_id: str) -> None:
        self._set_stage(experiment_id, DELETED)

    def restore(self, experiment_id: str) -> None:
        self._set_stage(experiment_id, ACTIVE)

    def _set_stage(self, experiment_id: str, target: str) -> None:
        """Move an experiment and all its runs to `target`; already there -> NotFound."""
        now = now_ms()
        with self._db.write() as connection:
            number, stage = self._stage_of(connection, experiment_id)
            if stage == target:
                raise NotFound(f"The experiment {number} is already {target}")
            connection.execute(
                sa.update(experiments)
                .where(experiments.c.experiment_id == number)
                .values(lifecycle_stage=target, last_update_time=now)
            )
            run_changes: dict[str, Any] = (
                {"lifecycle_stage": DELETED, "deleted_time": now}
                if target == DELETED
                else {"lifecycle_stage": ACTIVE, "deleted_time": None}
            )
            connection.execute(
                sa.update(runs)
                .where(runs.c.experiment_id == number, runs.c.lifecycle_stage != target)
                .values(**run_changes)
            )

    def set_tag(self, experiment_id: str, key: str, value: str) -> None:
        with self._db.write() as connection:
            number, stage = self._stage_of(connection, experiment_id)
            if stage != ACTIVE:
                raise not_active("experiment", number)
            connection.exec_driver_sql(
                self._upsert_tag, {"experiment_id": number, "key": key, "value": value}
            )

    def delete_tag(self, experiment_id: str, key: str) -> None:
        with self._db.write() as connection:
            number, stage = self._stage_of(connection, experiment_id)
            if stage != ACTIVE:
                raise not_active("experiment", number)
            deleted = connection.execute(
                sa.delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == number, experiment_tags.c.key == key
                )
            )
            if deleted.rowcount == 0:
                raise NotFound(f"The experiment {number} has no tag {key!r}")
