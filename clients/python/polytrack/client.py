"""`polytrack.Client`: the explicit tracking API, with `MlflowClient`'s method names and semantics.

    client = polytrack.Client("http://localhost:5000")      # or grpc://..., sqlite:///..., None
    experiment_id = client.create_experiment("churn")
    run = client.create_run(experiment_id, run_name="baseline")
    client.log_batch(run.info.run_id, metrics=[Metric("loss", 0.3, now_ms, step=1)])
    client.set_terminated(run.info.run_id)

Every method is one request or a short, documented sequence of them; failures raise
`PolytrackException` with the same error codes whatever the transport. The client is thread-safe
and opens its transport on first use, so creating one is cheap and never fails on connectivity.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from google.protobuf.message import Message

from polytrack._artifacts_client import ArtifactMethods
from polytrack._registry_client import RegistryMethods
from polytrack._transport import Transport, resolve_tracking_uri, transport_for
from polytrack.entities import (
    DatasetInput,
    Experiment,
    LoggedModelInput,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api

__all__ = ["SEARCH_MAX_RESULTS_DEFAULT", "Client"]

# Page size of searches when none is given (MLflow's default).
SEARCH_MAX_RESULTS_DEFAULT = 1000
# Page size used to read a whole metric history (MLflow's clients use the same).
METRIC_HISTORY_PAGE_SIZE = 25_000
# The server's LogBatch limits; log_batch splits larger batches into requests within them.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTRIES_PER_BATCH = 1000

USER_TAG = "mlflow.user"

ResponseT = TypeVar("ResponseT", bound=Message)
MetricLike = Metric | pb.Metric
ParamLike = Param | pb.Param
TagLike = RunTag | pb.RunTag


def _now_ms() -> int:
    return int(time.time() * 1000)


def _view(value: int | str) -> int:
    return int(ViewType.coerce(value))


def _metric_message(metric: MetricLike) -> pb.Metric:
    return metric if isinstance(metric, pb.Metric) else metric.to_proto()


def _param_message(param: ParamLike) -> pb.Param:
    return param if isinstance(param, pb.Param) else param.to_proto()


def _tag_message(tag: TagLike) -> pb.RunTag:
    return tag if isinstance(tag, pb.RunTag) else tag.to_proto()


def batch_chunks(
    metrics: Sequence[pb.Metric], params: Sequence[pb.Param], tags: Sequence[pb.RunTag]
) -> Iterator[tuple[list[pb.Metric], list[pb.Param], list[pb.RunTag]]]:
    """Split a batch into requests within the server's LogBatch limits, params and tags first."""
    m = p = t = 0
    while m < len(metrics) or p < len(params) or t < len(tags):
        chunk_params = list(params[p : p + MAX_PARAMS_PER_BATCH])
        chunk_tags = list(tags[t : t + MAX_TAGS_PER_BATCH])
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTRIES_PER_BATCH - len(chunk_params) - len(chunk_tags))
        chunk_metrics = list(metrics[m : m + room])
        p, t, m = p + len(chunk_params), t + len(chunk_tags), m + len(chunk_metrics)
        yield chunk_metrics, chunk_params, chunk_tags


class Client(ArtifactMethods, RegistryMethods):
    """A client of one tracking service, named by `tracking_uri`.

    `tracking_uri`: `http(s)://host:port[/prefix]` (REST), `grpc(s)://host:port` (gRPC),
    `sqlite:///path` or `postgresql://...` (no server: the store runs in this process). None reads
    $POLYTRACK_TRACKING_URI, then $MLFLOW_TRACKING_URI, else uses `sqlite:///polytrack.db`.
    `transport` replaces the transport the URI would select (any object with `call` and `close`).
    """

    def __init__(self, tracking_uri: str | None = None, *, transport: Transport | None = None) -> None:
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self._transport = transport
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        _live_clients.add(self)

    def _after_fork_in_child(self) -> None:
        # The parent's writer thread does not exist here, and the lock may have been held by
        # another of its threads: start afresh (the transport resets itself).
        self._lock = threading.Lock()
        self._executor = None

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        """The transport in use, opened on first access."""
        if self._closed:
            raise PolytrackException("The client is closed", "INVALID_STATE")
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._closed:
                    raise PolytrackException("The client is closed", "INVALID_STATE")
                if self._transport is None:
                    self._transport = transport_for(self.tracking_uri)
                transport = self._transport
        return transport

    def _call(self, rpc: str, request: Message, response_type: type[ResponseT]) -> ResponseT:
        response = self.transport.call(rpc, request)
        if not isinstance(response, response_type):
            raise TypeError(f"{rpc} answered a {type(response).__name__}, expected {response_type.__name__}")
        return response

    def _submit(self, work: Callable[..., None], *args: Any) -> Future[None]:
        with self._lock:
            if self._closed:
                raise PolytrackException("The client is closed", "INVALID_STATE")
            if self._executor is None:
                # One worker: asynchronous writes reach the server in the order they were made.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="polytrack-client")
            return self._executor.submit(work, *args)

    def close(self) -> None:
        """Wait for asynchronous writes, then release the transport. The client cannot be reused."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.tracking_uri!r})"

    # --- experiments ---------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment and return its id. RESOURCE_ALREADY_EXISTS if the name is taken."""
        request = api.CreateExperimentRequest(
            name=name,
            artifact_location=artifact_location,
            tags=[pb.ExperimentTag(key=k, value=str(v)) for k, v in (tags or {}).items()],
        )
        return self._call("CreateExperiment", request, api.CreateExperimentResponse).experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id, active or deleted; RESOURCE_DOES_NOT_EXIST if none."""
        request = api.GetExperimentRequest(experiment_id=str(experiment_id))
        return Experiment.from_proto(
            self._call("GetExperiment", request, api.GetExperimentResponse).experiment
        )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, active or deleted, or None if there is none."""
        request = api.GetExperimentByNameRequest(experiment_name=name)
        try:
            response = self._call("GetExperimentByName", request, api.GetExperimentByNameResponse)
        except PolytrackException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return Experiment.from_proto(response.experiment)

    def search_experiments(
        self,
        view_type: int | str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """One page of experiments matching `filter_string` (e.g. `name LIKE 'prod-%'`).

        Pass the returned list's `token` as `page_token` for the next page (None on the last).
        """
        request = api.SearchExperimentsRequest(
            max_results=max_results,
            page_token=page_token or None,
            filter=filter_string or None,
            order_by=list(order_by or ()),
            view_type=pb.ViewType.Name(_view(view_type)),
        )
        response = self._call("SearchExperiments", request, api.SearchExperimentsResponse)
        token = response.next_page_token if response.HasField("next_page_token") else None
        return PagedList([Experiment.from_proto(e) for e in response.experiments], token or None)

    def iter_experiments(
        self,
        view_type: int | str = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = SEARCH_MAX_RESULTS_DEFAULT,
    ) -> Iterator[Experiment]:
        """Every experiment matching `filter_string`, fetching pages of `page_size` as needed."""
        token: str | None = None
        while True:
            page = self.search_experiments(view_type, page_size, filter_string, order_by, token)
            yield from page
            if not page.token:
                return
            token = page.token

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an active experiment a new, unused name."""
        request = api.UpdateExperimentRequest(experiment_id=str(experiment_id), new_name=new_name)
        self._call("UpdateExperiment", request, api.UpdateExperimentResponse)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment and all its runs deleted (restorable with `restore_experiment`)."""
        request = api.DeleteExperimentRequest(experiment_id=str(experiment_id))
        self._call("DeleteExperiment", request, api.DeleteExperimentResponse)

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment and all its runs."""
        request = api.RestoreExperimentRequest(experiment_id=str(experiment_id))
        self._call("RestoreExperiment", request, api.RestoreExperimentResponse)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set (insert or overwrite) a tag on an experiment; the value is stored as a string."""
        request = api.SetExperimentTagRequest(experiment_id=str(experiment_id), key=key, value=str(value))
        self._call("SetExperimentTag", request, api.SetExperimentTagResponse)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Delete a tag from an experiment; RESOURCE_DOES_NOT_EXIST if it has no such tag."""
        request = api.DeleteExperimentTagRequest(experiment_id=str(experiment_id), key=key)
        self._call("DeleteExperimentTag", request, api.DeleteExperimentTagResponse)

    # --- runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run in an active experiment and return it.

        `start_time` defaults to now (ms since the epoch). The run's user is the `mlflow.user` tag
        when given, else "unknown" (as with MlflowClient). Without `run_name` (or an
        `mlflow.runName` tag) the server picks a readable name.
        """
        tag_values = {key: str(value) for key, value in (tags or {}).items()}
        request = api.CreateRunRequest(
            experiment_id=str(experiment_id),
            user_id=tag_values.get(USER_TAG, "unknown"),
            run_name=run_name or None,
            start_time=_now_ms() if start_time is None else start_time,
            tags=[pb.RunTag(key=k, value=v) for k, v in tag_values.items()],
        )
        return Run.from_proto(self._call("CreateRun", request, api.CreateRunResponse).run)

    def get_run(self, run_id: str) -> Run:
        """The run with this id (active or deleted) with its latest metrics, params, tags and inputs."""
        request = api.GetRunRequest(run_id=run_id)
        return Run.from_proto(self._call("GetRun", request, api.GetRunResponse).run)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status (a RunStatus name) and/or name; what is None stays unchanged."""
        request = api.UpdateRunRequest(
            run_id=run_id,
            status=RunStatus.coerce(status).value if status is not None else None,
            run_name=name or None,
        )
        self._call("UpdateRun", request, api.UpdateRunResponse)

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        """End a run: set its status (FINISHED by default) and end time (now by default, in ms)."""
        request = api.UpdateRunRequest(
            run_id=run_id,
            status=RunStatus.coerce(status).value,
            end_time=_now_ms() if end_time is None else end_time,
        )
        self._call("UpdateRun", request, api.UpdateRunResponse)

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (restorable with `restore_run`)."""
        self._call("DeleteRun", api.DeleteRunRequest(run_id=run_id), api.DeleteRunResponse)

    def restore_run(self, run_id: str) -> None:
        """Restore a deleted run."""
        self._call("RestoreRun", api.RestoreRunRequest(run_id=run_id), api.RestoreRunResponse)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int | str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """One page of the runs of `experiment_ids` matching `filter_string`
        (e.g. `metrics.rmse < 1 AND params.model = 'gbm'`), ordered by `order_by`
        (e.g. `["metrics.rmse ASC"]`). Pass the returned list's `token` as `page_token` for the
        next page (None on the last)."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else [str(i) for i in experiment_ids]
        request = api.SearchRunsRequest(
            experiment_ids=ids,
            filter=filter_string or None,
            run_view_type=pb.ViewType.Name(_view(run_view_type)),
            max_results=max_results,
            order_by=list(order_by or ()),
            page_token=page_token or None,
        )
        response = self._call("SearchRuns", request, api.SearchRunsResponse)
        token = response.next_page_token if response.HasField("next_page_token") else None
        return PagedList([Run.from_proto(run) for run in response.runs], token or None)

    def iter_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int | str = ViewType.ACTIVE_ONLY,
        order_by: Sequence[str] | None = None,
        page_size: int = SEARCH_MAX_RESULTS_DEFAULT,
    ) -> Iterator[Run]:
        """Every run matching the search, fetching pages of `page_size` as needed."""
        token: str | None = None
        while True:
            page = self.search_runs(experiment_ids, filter_string, run_view_type, page_size, order_by, token)
            yield from page
            if not page.token:
                return
            token = page.token

    # --- logging -------------------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool = True,
        *,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
    ) -> Future[None] | None:
        """Log one measurement of a metric (timestamp defaults to now in ms, step to 0).

        With `synchronous=False` the request is sent by a background thread, in call order, and
        a Future is returned (its `result()` raises what the request raised).
        """
        request = api.LogMetricRequest(
            run_id=run_id,
            key=key,
            value=float(value),
            timestamp=_now_ms() if timestamp is None else timestamp,
            step=step or 0,
            dataset_name=dataset_name,
            dataset_digest=dataset_digest,
            model_id=model_id,
        )
        return self._write("LogMetric", request, api.LogMetricResponse, synchronous)

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool = True) -> Future[None] | None:
        """Log a param (stored as a string). Re-logging the same value is a no-op; a different
        value fails with INVALID_PARAMETER_VALUE. See `log_metric` for `synchronous`."""
        request = api.LogParamRequest(run_id=run_id, key=key, value=str(value))
        return self._write("LogParam", request, api.LogParamResponse, synchronous)

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool = True) -> Future[None] | None:
        """Set (insert or overwrite) a tag on a run. See `log_metric` for `synchronous`."""
        request = api.SetTagRequest(run_id=run_id, key=key, value=str(value))
        return self._write("SetTag", request, api.SetTagResponse, synchronous)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag from a run; RESOURCE_DOES_NOT_EXIST if it has no such tag."""
        self._call("DeleteTag", api.DeleteTagRequest(run_id=run_id, key=key), api.DeleteTagResponse)

    def _write(
        self, rpc: str, request: Message, response_type: type[Message], synchronous: bool
    ) -> Future[None] | None:
        if synchronous:
            self._call(rpc, request, response_type)
            return None

        def send() -> None:
            self._call(rpc, request, response_type)

        return self._submit(send)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[MetricLike] = (),
        params: Iterable[ParamLike] = (),
        tags: Iterable[TagLike] = (),
        synchronous: bool = True,
    ) -> Future[None] | None:
        """Log metrics, params and tags (entities or `polytrack.v1` messages) to a run.

        A batch within the server's limits (1000 metrics, 100 params, 100 tags, 1000 in all) is one
        atomic request; a larger one is sent as several requests, in order, each atomic.
        See `log_metric` for `synchronous`.
        """
        metric_messages = [_metric_message(m) for m in metrics]
        param_messages = [_param_message(p) for p in params]
        tag_messages = [_tag_message(t) for t in tags]
        if synchronous:
            self._log_batch(run_id, metric_messages, param_messages, tag_messages)
            return None
        return self._submit(self._log_batch, run_id, metric_messages, param_messages, tag_messages)

    @property
    def accepts_metric_columns(self) -> bool:
        """Whether LogBatch may carry `metric_columns` here (gRPC and embedded: certainly polytrack)."""
        return bool(getattr(self.transport, "speaks_polytrack_extensions", False))

    def send_log_batch(self, request: api.LogBatchRequest) -> None:
        """Send one prepared LogBatch request as it is (within the server's limits: not split)."""
        self._call("LogBatch", request, api.LogBatchResponse)

    def _log_batch(
        self, run_id: str, metrics: list[pb.Metric], params: list[pb.Param], tags: list[pb.RunTag]
    ) -> None:
        for chunk_metrics, chunk_params, chunk_tags in batch_chunks(metrics, params, tags):
            request = api.LogBatchRequest(
                run_id=run_id, metrics=chunk_metrics, params=chunk_params, tags=chunk_tags
            )
            self._call("LogBatch", request, api.LogBatchResponse)

    def log_inputs(
        self,
        run_id: str,
        datasets: Sequence[DatasetInput] | None = None,
        models: Sequence[LoggedModelInput] | None = None,
    ) -> None:
        """Record the datasets and logged models a run used (each linked at most once)."""
        request = api.LogInputsRequest(
            run_id=run_id,
            datasets=[d.to_proto() for d in datasets or ()],
            models=[m.to_proto() for m in models or ()],
        )
        self._call("LogInputs", request, api.LogInputsResponse)

    # --- metric history ------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every measurement of a run's metric, ordered by timestamp, step and value (all pages)."""
        points: list[Metric] = []
        token: str | None = None
        while True:
            request = api.GetMetricHistoryRequest(
                run_id=run_id, metric_key=key, max_results=METRIC_HISTORY_PAGE_SIZE, page_token=token
            )
            response = self._call("GetMetricHistory", request, api.GetMetricHistoryResponse)
            points.extend(Metric.from_proto(metric) for metric in response.metrics)
            token = response.next_page_token if response.HasField("next_page_token") else None
            if not token:
                return points

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        metric_key: str,
        start_step: int | None = None,
        end_step: int | None = None,
        max_results: int | None = None,
    ) -> list[Metric]:
        """Up to `max_results` (default 2500) measurements per run, evenly sampled by step, for up
        to 100 runs; each point's `run_id` says which run it belongs to. Give both `start_step`
        and `end_step` (inclusive) to sample only that interval."""
        request = api.GetMetricHistoryBulkIntervalRequest(
            run_ids=list(run_ids),
            metric_key=metric_key,
            start_step=start_step,
            end_step=end_step,
            max_results=max_results,
        )
        response = self._call(
            "GetMetricHistoryBulkInterval", request, api.GetMetricHistoryBulkIntervalResponse
        )
        return [Metric.from_proto(metric) for metric in response.metrics]


# Every Client of this process that is still referenced, for resetting after os.fork().
_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _reset_clients_in_child() -> None:
    for client in list(_live_clients):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_clients_in_child)
