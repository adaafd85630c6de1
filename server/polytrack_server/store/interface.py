"""The contract between the tracking service and storage.

The service validates requests (names, lengths, limits, required fields) and applies defaults;
the store owns everything that needs stored state: existence and lifecycle checks, uniqueness,
cascades, param immutability, the run-name/tag mirror, latest-metric bookkeeping, search and paging.
Stores return the API's own entity messages (`polytrack.v1.tracking_pb2`) so that nothing is
converted twice on the hot paths. Every method is synchronous and runs its own transaction: on
any exception nothing it did is kept.

Errors are `polytrack_server.errors` exceptions: NotFound, AlreadyExists, InvalidParameter,
InvalidState, BadRequest, Unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from polytrack.v1 import tracking_pb2 as pb

T = TypeVar("T")

ACTIVE = "active"
DELETED = "deleted"


class MetricColumns(NamedTuple):
    """Metric measurements as columns, one entry per point in each: the bulk form of MetricPoint
    (no model or dataset). Values may be NaN or +/-inf."""

    keys: Sequence[str]
    values: Sequence[float]
    timestamps: Sequence[int]
    steps: Sequence[int]


class MetricPoint(NamedTuple):
    """One metric measurement to store. `value` may be NaN or +/-inf (stored as +/-max double);
    an empty model id or dataset name or digest means none.

    A named tuple rather than a dataclass: batches build thousands of these per request.
    """

    key: str
    value: float
    timestamp: int
    step: int
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of results and the opaque token of the next page (None on the last page)."""

    items: list[T]
    next_page_token: str | None


# A message as plain values: the fields that are set, by name, as the message's constructor takes
# them (see `polytrack_server.rpc.PlainResponse`). Runs read in bulk come as these.
Plain = dict[str, Any]


class TrackingStore(Protocol):
    """Experiments, runs, and what runs log."""

    # --- experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[tuple[str, str]]
    ) -> str:
        """Insert an active experiment and return its id (a decimal string).

        artifact_location None -> `<default artifact root>/<id>`. A name used by any experiment,
        active or deleted -> AlreadyExists.
        """
        ...

    def get_experiment(self, experiment_id: str) -> pb.Experiment:
        """Active or deleted. Non-integer id -> InvalidParameter; unknown -> NotFound."""
        ...

    def get_experiment_by_name(self, name: str) -> pb.Experiment:
        """Active or deleted; unknown -> NotFound."""
        ...

    def search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[pb.Experiment]:
        """Filter/order grammar of experiments; bad grammar or token -> InvalidParameter."""
        ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Deleted experiment -> InvalidParameter; name taken -> BadRequest (as MLflow does).

        MLflow answers a rename of a deleted experiment with INVALID_STATE and HTTP 500; a client's
        mistake is never a server error here, so it is INVALID_PARAMETER_VALUE (400).
        """
        ...

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark deleted with all its runs; already deleted or unknown -> NotFound."""
        ...

    def restore_experiment(self, experiment_id: str) -> None:
        """Mark active with all its runs; not deleted or unknown -> NotFound."""
        ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Upsert. Deleted experiment -> InvalidParameter; unknown -> NotFound."""
        ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Deleted experiment -> InvalidParameter; unknown experiment or tag -> NotFound."""
        ...

    # --- runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        run_name: str,
        start_time: int,
        tags: Sequence[tuple[str, str]],
    ) -> pb.Run:
        """Insert a RUNNING run (id uuid4 hex) and its tags, including `mlflow.runName`=run_name.

        The service has already resolved run_name. Unknown experiment -> NotFound; deleted ->
        InvalidParameter. artifact_uri = `<experiment artifact_location>/<run_id>/artifacts`.
        """
        ...

    def get_run(self, run_id: str) -> pb.Run:
        """Active or deleted run with latest metrics, params, tags, inputs; unknown -> NotFound."""
        ...

    def update_run(
        self, run_id: str, status: int | None, end_time: int | None, run_name: str | None
    ) -> pb.RunInfo:
        """Change only the given fields; run_name also rewrites the `mlflow.runName` tag.

        Deleted run -> InvalidParameter; unknown -> NotFound.
        """
        ...

    def delete_run(self, run_id: str) -> None:
        """Idempotent soft delete; unknown -> NotFound."""
        ...

    def restore_run(self, run_id: str) -> None:
        """Idempotent restore; unknown -> NotFound."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None,
        view_type: int,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[Plain]:
        """Plain `Run` values (pages run to a thousand runs). Search grammar of runs; bad grammar,
        ids or token -> InvalidParameter."""
        ...

    # --- logging (each: unknown run -> NotFound, deleted run -> InvalidParameter) ----------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[MetricPoint],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
        metric_columns: MetricColumns | None = None,
    ) -> None:
        """Atomically log metrics (`metrics` and `metric_columns` alike; exact duplicates ignored),
        params and tags.

        A param already stored with a different value -> InvalidParameter, and nothing is written.
        A `mlflow.runName` tag also renames the run. Latest metrics follow max (step, timestamp,
        value) with NaN lower than any number.
        """
        ...

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        """Upsert one tag (same rules as in log_batch)."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None:
        """Tag absent -> NotFound."""
        ...

    def log_inputs(self, run_id: str, datasets: Sequence[pb.DatasetInput], model_ids: Sequence[str]) -> None:
        """Record dataset inputs (datasets deduplicated per experiment by name and digest)."""
        ...

    # --- metric history --------------------------------------------------------------------------
    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None,
        page_token: str | None,
    ) -> Page[Plain]:
        """Plain `Metric` values ordered by timestamp, step, value: a page can hold hundreds of
        thousands. Unknown run or key -> empty page (not NotFound)."""
        ...

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        key: str,
        start_step: int | None,
        end_step: int | None,
        max_results: int,
    ) -> list[pb.MetricWithRunId]:
        """Per run in request order: up to max_results points evenly sampled over rows ordered by
        (step, timestamp, value), keeping the first and the last (only the last if max_results=1).
        """
        ...
