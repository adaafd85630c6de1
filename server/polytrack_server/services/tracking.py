"""The servicer of `polytrack.v1.TrackingService`: validates requests, applies defaults, calls the store.

One method per RPC, named in snake_case; the REST gateway and the gRPC edge both call these, so the
two transports cannot drift apart. Stored state (existence, lifecycle, uniqueness, cascades) is
the store's business; this layer owns what can be decided from the request alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from operator import attrgetter, itemgetter
from typing import cast

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.artifacts.roots import ArtifactRoots
from polytrack_server.errors import ErrorCode, InvalidParameter, PolytrackError
from polytrack_server.rpc import PlainResponse
from polytrack_server.services import validation as v
from polytrack_server.services.artifacts import list_run_artifacts
from polytrack_server.services.paging import paged
from polytrack_server.services.run_names import generate_run_name
from polytrack_server.store.interface import MetricColumns, MetricPoint, TrackingStore

RUN_NAME_TAG = "mlflow.runName"
DEFAULT_RUNS_PAGE = 1000
DEFAULT_BULK_POINTS = v.MAX_BULK_POINTS
_MAX_DOUBLE = sys.float_info.max
_METRIC_FIELDS = attrgetter("key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest")


def _view_type(value: int) -> int:
    return value or pb.ACTIVE_ONLY


class TrackingServicer:
    """Implements every RPC of TrackingService over a `TrackingStore`."""

    def __init__(self, store: TrackingStore, artifact_roots: ArtifactRoots | None = None) -> None:
        self._store = store
        self._artifact_roots = artifact_roots

    # --- experiments -------------------------------------------------------------------------
    def create_experiment(self, request: api.CreateExperimentRequest) -> api.CreateExperimentResponse:
        name = v.validate_experiment_name(request.name)
        location = request.artifact_location or None
        if location is not None:
            v.validate_artifact_location(location)
        tags = [self._experiment_tag(t.key, t.value) for t in request.tags]
        experiment_id = self._store.create_experiment(name, location, tags)
        return api.CreateExperimentResponse(experiment_id=experiment_id)

    def get_experiment(self, request: api.GetExperimentRequest) -> api.GetExperimentResponse:
        experiment = self._store.get_experiment(v.require(request.experiment_id, "experiment_id"))
        return api.GetExperimentResponse(experiment=experiment)

    def get_experiment_by_name(
        self, request: api.GetExperimentByNameRequest
    ) -> api.GetExperimentByNameResponse:
        name = v.require(request.experiment_name, "experiment_name")
        return api.GetExperimentByNameResponse(experiment=self._store.get_experiment_by_name(name))

    def search_experiments(self, request: api.SearchExperimentsRequest) -> api.SearchExperimentsResponse:
        if not request.max_results:
            raise InvalidParameter(
                "Missing value for required parameter 'max_results': give a page size between 1 and "
                f"{v.MAX_RESULTS_SEARCH}."
            )
        max_results = v.validate_max_results(request.max_results, "max_results", v.MAX_RESULTS_SEARCH)
        page = self._store.search_experiments(
            _view_type(request.view_type),
            max_results,
            request.filter or None,
            list(request.order_by),
            request.page_token or None,
        )
        return paged(api.SearchExperimentsResponse(experiments=page.items), page)

    def update_experiment(self, request: api.UpdateExperimentRequest) -> api.UpdateExperimentResponse:
        experiment_id = v.require(request.experiment_id, "experiment_id")
        new_name = v.validate_experiment_name(request.new_name, "new_name")
        self._store.rename_experiment(experiment_id, new_name)
        return api.UpdateExperimentResponse()

    def delete_experiment(self, request: api.DeleteExperimentRequest) -> api.DeleteExperimentResponse:
        self._store.delete_experiment(v.require(request.experiment_id, "experiment_id"))
        return api.DeleteExperimentResponse()

    def restore_experiment(self, request: api.RestoreExperimentRequest) -> api.RestoreExperimentResponse:
        self._store.restore_experiment(v.require(request.experiment_id, "experiment_id"))
        return api.RestoreExperimentResponse()

    def set_experiment_tag(self, request: api.SetExperimentTagRequest) -> api.SetExperimentTagResponse:
        experiment_id = v.require(request.experiment_id, "experiment_id")
        key, value = self._experiment_tag(request.key, request.value)
        self._store.set_experiment_tag(experiment_id, key, value)
        return api.SetExperimentTagResponse()

    def delete_experiment_tag(
        self, request: api.DeleteExperimentTagRequest
    ) -> api.DeleteExperimentTagResponse:
        experiment_id = v.require(request.experiment_id, "experiment_id")
        self._store.delete_experiment_tag(experiment_id, v.require(request.key, "key"))
        return api.DeleteExperimentTagResponse()

    @staticmethod
    def _experiment_tag(key: str, value: str) -> tuple[str, str]:
        v.validate_key(key, "experiment tag")
        v.check_length(value, v.MAX_EXPERIMENT_TAG_VALUE_LENGTH, f"The value of experiment tag '{key}'")
        return key, value

    # --- runs ----------------------------------------------------------------------------------
    def create_run(self, request: api.CreateRunRequest) -> api.CreateRunResponse:
        experiment_id = v.require(request.experiment_id, "experiment_id")
        tags = [self._run_tag(t.key, t.value) for t in request.tags]
        tag_name = next((value for key, value in reversed(tags) if key == RUN_NAME_TAG), None)
        if request.run_name and tag_name is not None and tag_name != request.run_name:
            raise InvalidParameter(
                f"Both 'run_name' ({request.run_name!r}) and the '{RUN_NAME_TAG}' tag ({tag_name!r}) were "
                "given with different values; give one, or the same value in both."
            )
        run_name = request.run_name or tag_name or generate_run_name()
        tags = [(k, val) for k, val in tags if k != RUN_NAME_TAG]
        start_time = v.validate_timestamp(request.start_time, "the run's start_time")
        run = self._store.create_run(experiment_id, request.user_id, run_name, start_time, tags)
        return api.CreateRunResponse(run=run)

    def update_run(self, request: api.UpdateRunRequest) -> api.UpdateRunResponse:
        run_id = v.run_id_of(request)
        status = request.status if request.HasField("status") and request.status else None
        end_time = request.end_time if request.HasField("end_time") else None
        run_name = request.run_name if request.HasField("run_name") and request.run_name else None
        if end_time is not None:
            v.validate_timestamp(end_time, "the run's end_time")
        info = self._store.update_run(run_id, status, end_time, run_name)
        return api.UpdateRunResponse(run_info=info)

    def delete_run(self, request: api.DeleteRunRequest) -> api.DeleteRunResponse:
        self._store.delete_run(v.require(request.run_id, "run_id"))
        return api.DeleteRunResponse()

    def restore_run(self, request: api.RestoreRunRequest) -> api.RestoreRunResponse:
        self._store.restore_run(v.require(request.run_id, "run_id"))
        return api.RestoreRunResponse()

    def get_run(self, request: api.GetRunRequest) -> api.GetRunResponse:
        return api.GetRunResponse(run=self._store.get_run(v.run_id_of(request)))

    def search_runs(self, request: api.SearchRunsRequest) -> api.SearchRunsResponse:
        return cast(api.SearchRunsResponse, self.search_runs_plain(request).materialize())

    def search_runs_plain(self, request: api.SearchRunsRequest) -> PlainResponse:
        """The page with its runs as plain values (see `PlainResponse`): the REST gateway's form."""
        max_results = request.max_results if request.HasField("max_results") else DEFAULT_RUNS_PAGE
        v.validate_max_results(max_results, "max_results", v.MAX_RESULTS_SEARCH)
        if not request.experiment_ids:
            return PlainResponse(api.SearchRunsResponse(), "runs", [])
        page = self._store.search_runs(
            list(request.experiment_ids),
            request.filter or None,
            _view_type(request.run_view_type),
            max_results,
            list(request.order_by),
            request.page_token or None,
        )
        return PlainResponse(paged(api.SearchRunsResponse(), page), "runs", page.items)

    @staticmethod
    def _run_tag(key: str, value: str) -> tuple[str, str]:
        v.validate_key(key, "tag")
        return key, v.truncate(value, v.MAX_RUN_TAG_VALUE_LENGTH)

    @staticmethod
    def _param(key: str, value: str) -> tuple[str, str]:
        v.validate_key(key, "param")
        return key, v.truncate(value, v.MAX_PARAM_VALUE_LENGTH)

    @staticmethod
    def _metric(
        metric: pb.Metric | api.LogMetricRequest, checked_keys: set[str] | None = None
    ) -> MetricPoint:
        key = metric.key
        if checked_keys is None or key not in checked_keys:
            v.validate_key(key, "metric")
            if checked_keys is not None:
                checked_keys.add(key)
        if not metric.HasField("value"):
            raise InvalidParameter(f"Missing value for required parameter 'value' of metric '{key}'.")
        if not metric.HasField("timestamp"):
            raise InvalidParameter(f"Missing value for required parameter 'timestamp' of metric '{key}'.")
        value = metric.value
        timestamp = metric.timestamp
        if timestamp < 0:
            v.validate_timestamp(timestamp, f"metric '{key}'")
        return MetricPoint(
            key,
            value if -_MAX_DOUBLE <= value <= _MAX_DOUBLE or value != value else v.finite_or_clamped(value),
            timestamp,
            metric.step,
            metric.model_id or None,
            metric.dataset_name or None,
            metric.dataset_digest or None,
        )

    @classmethod
    def _batch_metrics(cls, metrics: Sequence[pb.Metric]) -> list[MetricPoint]:
        """`_metric` for each of a batch's metrics, in bulk: this runs for every point logged, and
        reading fields through `attrgetter` in C costs half of a Python loop over the messages."""
        # Plain tuples in MetricPoint's field order (empty strings for no model or dataset).
        points = cast(list[MetricPoint], list(map(_METRIC_FIELDS, metrics)))
        for key in {point[0] for point in points}:
            v.validate_key(key, "metric")
        # Zero may mean "not set" (value and timestamp are required): those points, and negative
        # timestamps, get the full check.
        for index, point in enumerate(points):
            if not point[1] or point[2] <= 0:
                points[index] = cls._metric(metrics[index])
        return points

    @staticmethod
    def _metric_columns(columns: pb.MetricColumns) -> MetricColumns:
        """The points of a `MetricColumns`, checked: columns of one length, key positions inside
        `keys`, valid keys, timestamps not negative. Each check runs in C over a whole column."""
        count = len(columns.values)
        for name in ("key_indexes", "timestamps", "steps"):
            if len(getattr(columns, name)) != count:
                raise InvalidParameter(
                    f"metric_columns.{name} has {len(getattr(columns, name))} entries but "
                    f"metric_columns.values has {count}: every column needs one entry per point"
                )
        keys = list(columns.keys)
        for key in keys:
            v.validate_key(key, "metric")
        if not count:
            return MetricColumns((), (), (), ())
        key_indexes = list(columns.key_indexes)
        if max(key_indexes) >= len(keys):
            raise InvalidParameter(
                f"metric_columns.key_indexes refers to key position {max(key_indexes)}, but "
                f"metric_columns.keys has {len(keys)} keys"
            )
        timestamps = list(columns.timestamps)
        if min(timestamps) < 0:
            v.validate_timestamp(min(timestamps), "metric_columns")
        values = list(columns.values)
        point_keys = itemgetter(*key_indexes)(keys) if count > 1 else (keys[key_indexes[0]],)
        return MetricColumns(point_keys, values, timestamps, list(columns.steps))

    # --- logging -------------------------------------------------------------------------------
    def set_tag(self, request: api.SetTagRequest) -> api.SetTagResponse:
        run_id = v.run_id_of(request)
        self._store.set_tag(run_id, *self._run_tag(request.key, request.value))
        return api.SetTagResponse()

    def delete_tag(self, request: api.DeleteTagRequest) -> api.DeleteTagResponse:
        run_id = v.require(request.run_id, "run_id")
        self._store.delete_tag(run_id, v.require(request.key, "key"))
        return api.DeleteTagResponse()

    def log_metric(self, request: api.LogMetricRequest) -> api.LogMetricResponse:
        run_id = v.run_id_of(request)
        self._store.log_batch(run_id, [self._metric(request)], (), ())
        return api.LogMetricResponse()

    def log_param(self, request: api.LogParamRequest) -> api.LogParamResponse:
        run_id = v.run_id_of(request)
        self._store.log_batch(run_id, (), [self._param(request.key, request.value)], ())
        return api.LogParamResponse()

    def log_batch(self, request: api.LogBatchRequest) -> api.LogBatchResponse:
        run_id = v.validate_run_id_format(v.require(request.run_id, "run_id"))
        columns = request.metric_columns
        column_count = len(columns.values)
        v.validate_batch_sizes(len(request.metrics) + column_count, len(request.params), len(request.tags))
        metrics = self._batch_metrics(request.metrics) if request.metrics else []
        metric_columns = self._metric_columns(columns) if column_count or columns.keys else None
        params = [self._param(p.key, p.value) for p in request.params]
        v.reject_duplicate_keys([key for key, _ in params], "param")
        tags = [self._run_tag(t.key, t.value) for t in request.tags]
        # Even an empty batch goes to the store: it is where the run's existence and state are checked.
        self._store.log_batch(run_id, metrics, params, tags, metric_columns)
        return api.LogBatchResponse()

    def log_inputs(self, request: api.LogInputsRequest) -> api.LogInputsResponse:
        run_id = v.validate_run_id_format(v.require(request.run_id, "run_id"))
        for dataset_input in request.datasets:
            _validate_dataset_input(dataset_input)
        model_ids = [v.require(m.model_id, "models.model_id") for m in request.models]
        self._store.log_inputs(run_id, list(request.datasets), model_ids)
        return api.LogInputsResponse()

    # --- metric history ------------------------------------------------------------------------
    def get_metric_history(self, request: api.GetMetricHistoryRequest) -> api.GetMetricHistoryResponse:
        return cast(api.GetMetricHistoryResponse, self.get_metric_history_plain(request).materialize())

    def get_metric_history_plain(self, request: api.GetMetricHistoryRequest) -> PlainResponse:
        """The history with its points as plain values (see `PlainResponse`): the REST gateway's form."""
        run_id = v.run_id_of(request)
        key = v.require(request.metric_key, "metric_key")
        max_results = None
        if request.HasField("max_results"):
            max_results = v.validate_max_results(request.max_results, "max_results", 2**31 - 1)
        page = self._store.get_metric_history(run_id, key, max_results, request.page_token or None)
        return PlainResponse(paged(api.GetMetricHistoryResponse(), page), "metrics", page.items)

    def get_metric_history_bulk_interval(
        self, request: api.GetMetricHistoryBulkIntervalRequest
    ) -> api.GetMetricHistoryBulkIntervalResponse:
        run_ids = list(request.run_ids)
        if not run_ids:
            raise InvalidParameter("Missing value for required parameter 'run_ids'.")
        if len(run_ids) > v.MAX_BULK_RUN_IDS:
            raise InvalidParameter(
                f"GetMetricHistoryBulkInterval accepts at most {v.MAX_BULK_RUN_IDS} run_ids; "
                f"got {len(run_ids)}."
            )
        key = v.require(request.metric_key, "metric_key")
        has_start, has_end = request.HasField("start_step"), request.HasField("end_step")
        if has_start != has_end:
            raise InvalidParameter("Give both 'start_step' and 'end_step', or neither.")
        if has_start and request.start_step > request.end_step:
            raise InvalidParameter(
                f"'end_step' ({request.end_step}) must be greater than or equal to 'start_step' "
                f"({request.start_step})."
            )
        max_results = DEFAULT_BULK_POINTS
        if request.HasField("max_results"):
            max_results = v.validate_max_results(request.max_results, "max_results", v.MAX_BULK_POINTS)
        points = self._store.get_metric_history_bulk_interval(
            run_ids,
            key,
            request.start_step if has_start else None,
            request.end_step if has_end else None,
            max_results,
        )
        return api.GetMetricHistoryBulkIntervalResponse(metrics=points)

    # --- artifacts -----------------------------------------------------------------------------
    def search_logged_models(self, request: api.SearchLoggedModelsRequest) -> api.SearchLoggedModelsResponse:
        # No RPC creates logged models, so there is never one to find.
        return api.SearchLoggedModelsResponse()

    def list_artifacts(self, request: api.ListArtifactsRequest) -> api.ListArtifactsResponse:
        if self._artifact_roots is None:
            raise PolytrackError("This server has no artifact storage to list.", ErrorCode.NOT_IMPLEMENTED)
        return list_run_artifacts(self._store, self._artifact_roots, request)


def _validate_dataset_input(dataset_input: pb.DatasetInput) -> None:
    dataset = dataset_input.dataset
    for value, limit, what in (
        (dataset.name, v.MAX_DATASET_NAME_LENGTH, "Dataset name"),
        (dataset.digest, v.MAX_DATASET_DIGEST_LENGTH, "Dataset digest"),
        (dataset.source, v.MAX_DATASET_SOURCE_LENGTH, "Dataset source"),
        (dataset.schema, v.MAX_DATASET_SCHEMA_LENGTH, "Dataset schema"),
        (dataset.profile, v.MAX_DATASET_PROFILE_LENGTH, "Dataset profile"),
    ):
        v.check_length(value, limit, what)
    for tag in dataset_input.tags:
        v.require(tag.key, "datasets.tags.key")
        v.check_length(tag.key, v.MAX_INPUT_TAG_KEY_LENGTH, "Input tag key")
        v.check_length(tag.value, v.MAX_INPUT_TAG_VALUE_LENGTH, f"The value of input tag '{tag.key}'")
