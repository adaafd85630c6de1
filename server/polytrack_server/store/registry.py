"""`SqlRegistryStore`: the `RegistryStore` contract over SQLite or PostgreSQL (SQLAlchemy Core).

Each public method is one transaction. Writes that depend on a registered model's state lock its
row first (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite every writer holds the database's
write lock from `BEGIN IMMEDIATE`), so that concurrent registrations of versions of one model get
distinct, consecutive numbers on both databases. The registry may live in another database than
the tracking store; runs are then looked up through the tracking store it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from polytrack.v1 import model_registry_pb2 as rpb
from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import AlreadyExists, InvalidParameter
from polytrack_server.store.database import Database, now_ms
from polytrack_server.store.interface import Page
from polytrack_server.store.registry_interface import (
    STAGE_ARCHIVED,
    STAGE_DELETED,
    STAGE_NONE,
    STAGES,
)
from polytrack_server.store.registry_loader import (
    live,
    load_model,
    load_version,
    model_row,
    models_of_rows,
    version_row,
    versions_of_rows,
)
from polytrack_server.store.schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)
from polytrack_server.store.search import decode_page_token, encode_page_token
from polytrack_server.store.search.registry import (
    model_version_filter_conditions,
    model_version_order_terms,
    registered_model_filter_conditions,
    registered_model_order_terms,
)

READY = rpb.ModelVersionStatus.Name(rpb.READY)
LATEST_ALIAS = "latest"


class RunLookup(Protocol):
    """What the registry needs of the tracking store."""

    def get_run(self, run_id: str) -> pb.Run: ...


def _latest_tags(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    return dict(tags)


class SqlRegistryStore:
    """Registered models and model versions in a SQL database reached through `engine`."""

    def __init__(self, engine: sa.Engine, tracking_store: RunLookup) -> None:
        self.engine = engine
        self._db = Database(engine)
        self._tracking = tracking_store
        self._upsert_model_tag = self._db.insert(registered_model_tags)
        self._upsert_version_tag = self._db.insert(model_version_tags)
        self._upsert_alias = self._db.insert(registered_model_aliases)

    # --- registered models -----------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Sequence[tuple[str, str]],
        description: str | None,
        deployment_job_id: str | None,
    ) -> rpb.RegisteredModel:
        now = now_ms()
        with self._db.write() as connection:
            try:
                connection.execute(
                    sa.insert(registered_models).values(
                        name=name,
                        creation_timestamp=now,
                        last_updated_timestamp=now,
                        description=description,
                        deployment_job_id=deployment_job_id,
                    )
                )
            except sa.exc.IntegrityError as error:
                raise AlreadyExists(f"Registered model (name={name!r}) already exists") from error
            latest = _latest_tags(tags)
            if latest:
                connection.execute(
                    sa.insert(registered_model_tags),
                    [{"name": name, "key": key, "value": value} for key, value in latest.items()],
                )
            return load_model(connection, name)

    def get_registered_model(self, name: str) -> rpb.RegisteredModel:
        with self._db.read() as connection:
            return load_model(connection, name)

    def rename_registered_model(self, name: str, new_name: str) -> rpb.RegisteredModel:
        now = now_ms()
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            if name == new_name:
                return load_model(connection, name)
            taken = connection.execute(
                sa.select(registered_models.c.name).where(registered_models.c.name == new_name)
            ).first()
            if taken is not None:
                raise AlreadyExists(f"Registered model (name={new_name!r}) already exists")
            # Tags, versions (and their tags) and aliases follow through ON UPDATE CASCADE.
            connection.execute(
                sa.update(registered_models)
                .where(registered_models.c.name == name)
                .values(name=new_name, last_updated_timestamp=now)
            )
            connection.execute(
                sa.update(model_versions)
                .where(model_versions.c.name == new_name, live())
                .values(last_updated_timestamp=now)
            )
            return load_model(connection, new_name)

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> rpb.RegisteredModel:
        changes: dict[str, Any] = {"last_updated_timestamp": now_ms()}
        if description is not None:
            changes["description"] = description
        if deployment_job_id is not None:
            changes["deployment_job_id"] = deployment_job_id
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            connection.execute(
                sa.update(registered_models).where(registered_models.c.name == name).values(**changes)
            )
            return load_model(connection, name)

    def delete_registered_model(self, name: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            # Versions, tags and aliases go with it (ON DELETE CASCADE).
            connection.execute(sa.delete(registered_models).where(registered_models.c.name == name))

    def search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
    ) -> Page[rpb.RegisteredModel]:
        conditions = registered_model_filter_conditions(filter_string)
        order_terms = registered_model_order_terms(order_by)
        offset = decode_page_token(page_token)
        query = (
            sa.select(registered_models)
            .where(*conditions)
            .order_by(*order_terms)
            .limit(max_results + 1)
            .offset(offset)
        )
        with self._db.read() as connection:
            rows = connection.execute(query).all()
            page, more = rows[:max_results], len(rows) > max_results
            items = models_of_rows(connection, page)
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def get_latest_versions(self, name: str, stages: Sequence[str]) -> list[rpb.ModelVersion]:
        wanted = list(stages) or list(STAGES)
        with self._db.read() as connection:
            model_row(connection, name)
            highest = (
                sa.select(model_versions.c.current_stage, sa.func.max(model_versions.c.version).label("v"))
                .where(model_versions.c.name == name, model_versions.c.current_stage.in_(wanted))
                .group_by(model_versions.c.current_stage)
                .subquery()
            )
            rows = connection.execute(
                sa.select(model_versions)
                .join(highest, model_versions.c.version == highest.c.v)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version)
            ).all()
            return versions_of_rows(connection, rows, with_aliases=True)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            connection.execute(
                self._upsert_model_tag.values(name=name, key=key, value=value).on_conflict_do_update(
                    index_elements=["name", "key"], set_={"value": value}
                )
            )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            connection.execute(
                sa.delete(registered_model_tags).where(
                    registered_model_tags.c.name == name, registered_model_tags.c.key == key
                )
            )

    # --- aliases ---------------------------------------------------------------------------------
    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            connection.execute(
                self._upsert_alias.values(name=name, alias=alias, version=version).on_conflict_do_update(
                    index_elements=["name", "alias"], set_={"version": version}
                )
            )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            connection.execute(
                sa.delete(registered_model_aliases).where(
                    registered_model_aliases.c.name == name, registered_model_aliases.c.alias == alias
                )
            )

    def get_model_version_by_alias(self, name: str, alias: str) -> rpb.ModelVersion:
        with self._db.read() as connection:
            model_row(connection, name)
            if alias.lower() == LATEST_ALIAS:
                version = connection.execute(
                    sa.select(sa.func.max(model_versions.c.version)).where(
                        model_versions.c.name == name, live()
                    )
                ).scalar()
                if version is None:
                    raise InvalidParameter(f"Registered model {name!r} has no versions, so no latest version")
            else:
                version = connection.execute(
                    sa.select(registered_model_aliases.c.version).where(
                        registered_model_aliases.c.name == name, registered_model_aliases.c.alias == alias
                    )
                ).scalar()
                if version is None:
                    raise InvalidParameter(f"Registered model alias {alias!r} of model {name!r} not found")
            return load_version(connection, name, int(version))

    # --- model versions --------------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        storage_location: str,
        run_id: str | None,
        tags: Sequence[tuple[str, str]],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
    ) -> rpb.ModelVersion:
        now = now_ms()
        with self._db.write() as connection:
            # The lock serialises version numbering per model (see the module docstring).
            model_row(connection, name, lock=True)
            highest = connection.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            version = int(highest or 0) + 1
            connection.execute(
                sa.insert(model_versions).values(
                    name=name,
                    version=version,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    description=description,
                    current_stage=STAGE_NONE,
                    source=source,
                    storage_location=storage_location,
                    run_id=run_id,
                    run_link=run_link,
                    status=READY,
                    model_id=model_id,
                )
            )
            latest = _latest_tags(tags)
            if latest:
                connection.execute(
                    sa.insert(model_version_tags),
                    [{"name": name, "version": version, "key": k, "value": v} for k, v in latest.items()],
                )
            connection.execute(
                sa.update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_timestamp=now)
            )
            return load_version(connection, name, version)

    def get_model_version(self, name: str, version: int) -> rpb.ModelVersion:
        with self._db.read() as connection:
            return load_version(connection, name, version)

    def update_model_version(self, name: str, version: int, description: str | None) -> rpb.ModelVersion:
        changes: dict[str, Any] = {"last_updated_timestamp": now_ms()}
        if description is not None:
            changes["description"] = description
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            connection.execute(self._version_update(name, version).values(**changes))
            return load_version(connection, name, version)

    def delete_model_version(self, name: str, version: int) -> None:
        now = now_ms()
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            # The row stays, redacted, so that its number is never handed out again.
            connection.execute(
                self._version_update(name, version).values(
                    current_stage=STAGE_DELETED,
                    last_updated_timestamp=now,
                    source="",
                    storage_location="",
                    run_id=None,
                    run_link=None,
                    description=None,
                    status_message=None,
                )
            )
            connection.execute(
                sa.delete(registered_model_aliases).where(
                    registered_model_aliases.c.name == name, registered_model_aliases.c.version == version
                )
            )
            connection.execute(
                sa.update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_timestamp=now)
            )

    def search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
    ) -> Page[rpb.ModelVersion]:
        conditions = model_version_filter_conditions(filter_string)
        order_terms = model_version_order_terms(order_by)
        offset = decode_page_token(page_token)
        query = (
            sa.select(model_versions)
            .where(live(), *conditions)
            .order_by(*order_terms)
            .limit(max_results + 1)
            .offset(offset)
        )
        with self._db.read() as connection:
            rows = connection.execute(query).all()
            page, more = rows[:max_results], len(rows) > max_results
            items = versions_of_rows(connection, page, with_aliases=False)
        return Page(items, encode_page_token(offset + max_results) if more else None)

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            connection.execute(
                self._upsert_version_tag.values(
                    name=name, version=version, key=key, value=value
                ).on_conflict_do_update(index_elements=["name", "version", "key"], set_={"value": value})
            )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            connection.execute(
                sa.delete(model_version_tags).where(
                    model_version_tags.c.name == name,
                    model_version_tags.c.version == version,
                    model_version_tags.c.key == key,
                )
            )

    def transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool
    ) -> rpb.ModelVersion:
        now = now_ms()
        with self._db.write() as connection:
            model_row(connection, name, lock=True)
            version_row(connection, name, version)
            if archive_existing_versions:
                connection.execute(
                    sa.update(model_versions)
                    .where(
                        model_versions.c.name == name,
                        model_versions.c.version != version,
                        model_versions.c.current_stage == stage,
                    )
                    .values(current_stage=STAGE_ARCHIVED, last_updated_timestamp=now)
                )
            connection.execute(
                self._version_update(name, version).values(current_stage=stage, last_updated_timestamp=now)
            )
            connection.execute(
                sa.update(registered_models)
                .where(registered_models.c.name == name)
                .values(last_updated_timestamp=now)
            )
            return load_version(connection, name, version)

    def get_model_version_download_uri(self, name: str, version: int) -> str:
        with self._db.read() as connection:
            row = version_row(connection, name, version)
        return str(row.storage_location or row.source)

    # --- runs ------------------------------------------------------------------------------------
    def run_artifact_uri(self, run_id: str) -> str:
        return self._tracking.get_run(run_id).info.artifact_uri

    @staticmethod
    def _version_update(name: str, version: int) -> sa.Update:
        return sa.update(model_versions).where(
            model_versions.c.name == name, model_versions.c.version == version
        )
