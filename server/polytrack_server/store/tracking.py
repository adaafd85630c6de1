"""`SqlTrackingStore`: the `TrackingStore` contract over SQLite or PostgreSQL (SQLAlchemy Core).

The store composes one repository per concern (experiments, runs, run data, metric histories);
each public method is one transaction. The schema must be current (`upgrade_database`) before
the store is built; building it creates the `Default` experiment when missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.store.database import Database
from polytrack_server.store.experiments import ExperimentRepository
from polytrack_server.store.interface import MetricColumns, MetricPoint, Page, Plain
from polytrack_server.store.metrics import MetricRepository
from polytrack_server.store.run_data import RunDataRepository
from polytrack_server.store.runs import RunRepository


class SqlTrackingStore:
    """Experiments, runs and what they log, in a SQL database reached through `engine`."""

    def __init__(self, engine: sa.Engine, default_artifact_root: str) -> None:
        database = Database(engine)
        self.engine = engine
        self._experiments = ExperimentRepository(database, default_artifact_root)
        self._runs = RunRepository(database)
        self._metrics = MetricRepository(database)
        self._run_data = RunDataRepository(database, self._runs, self._metrics)
        self._experiments.ensure_default_experiment()

    # --- experiments -----------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str:
        return self._experiments.create(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> pb.Experiment:
        return self._experiments.get(experiment_id)

    def get_experiment_by_name(self, name: str) -> pb.Experiment:
        return self._experiments.get_by_name(name)

    def search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[pb.Experiment]:
        return self._experiments.search(view_type, max_results, filter_string, order_by, page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._experiments.rename(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._experiments.delete(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._experiments.restore(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self._experiments.set_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._experiments.delete_tag(experiment_id, key)

    # --- runs ------------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        run_name: str,
        start_time: int,
        tags: Sequence[tuple[str, str]],
    ) -> pb.Run:
        return self._runs.create(experiment_id, user_id, run_name, start_time, tags)

    def get_run(self, run_id: str) -> pb.Run:
        return self._runs.get(run_id)

    def update_run(
        self, run_id: str, status: int | None, end_time: int | None, run_name: str | None
    ) -> pb.RunInfo:
        return self._runs.update(run_id, status, end_time, run_name)

    def delete_run(self, run_id: str) -> None:
        self._runs.delete(run_id)

    def restore_run(self, run_id: str) -> None:
        self._runs.restore(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: int,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[Plain]:
        return self._runs.search(experiment_ids, filter_string, view_type, max_results, order_by, page_token)

    # --- logging ---------------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[MetricPoint],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
        metric_columns: MetricColumns | None = None,
    ) -> None:
        self._run_data.log_batch(run_id, metrics, params, tags, metric_columns)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._run_data.set_tag(run_id, key, value)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._run_data.delete_tag(run_id, key)

    def log_inputs(self, run_id: str, datasets: Sequence[pb.DatasetInput], model_ids: Sequence[str]) -> None:
        self._run_data.log_inputs(run_id, datasets, model_ids)

    # --- metric history --------------------------------------------------------------------------
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None,
        page_token: str | None,
    ) -> Page[Plain]:
        return self._metrics.history(run_id, key, max_results, page_token)

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[pb.MetricWithRunId]:
        return self._metrics.bulk_interval(run_ids, key, start_step, end_step, max_results)
