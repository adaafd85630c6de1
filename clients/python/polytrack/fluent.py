"""The fluent tracking API: MLflow's module-level functions, so `import polytrack as mlflow` works.

    import polytrack
    polytrack.set_experiment("my_experiment")
    with polytrack.start_run(run_name="baseline"):
        polytrack.log_param("learning_rate", 0.01)
        polytrack.log_metric("train_loss", 0.25, step=1)

Metrics, params and tags logged to a run go through a background queue (`_logging_queue`) and are
sent in batches: logging never waits for the server, and nothing is lost — data that cannot be
delivered is retried, then spooled to disk for `polytrack sync`. Problems surface at the next
`flush()` or `end_run()`. Pass `synchronous=True` to send one call at once and get its error
immediately. Reads (`get_run`, `search_runs`) first wait for the queue, so they see what was logged.

Semantics follow MLflow's fluent API; see `_run_context` for the per-thread run stacks.
"""

from __future__ import annotations

import importlib
import itertools
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from polytrack._batches import END, PARAM, TAG, Item, plan_requests, send
from polytrack._context_tags import context_tags
from polytrack._inputs import dataset_input, metric_item, metric_items, model_input
from polytrack._run_context import ActiveRun, Connection, state
from polytrack._search_frame import runs_to_frame
from polytrack.client import SEARCH_MAX_RESULTS_DEFAULT
from polytrack.entities import DatasetInput, Experiment, Run, RunStatus, ViewType
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2

__all__ = [
    "active_run",
    "create_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "flush_async_logging",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

PARENT_RUN_ID_TAG = "mlflow.parentRunId"
NOTE_TAG = "mlflow.note.content"
DEFAULT_EXPERIMENT_ID = "0"
SEARCH_MAX_RESULTS_PANDAS = 100_000
_EXPERIMENT_NAME_ENV = ("POLYTRACK_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME")
_EXPERIMENT_ID_ENV = ("POLYTRACK_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_ID")
_RUN_ID_ENV = ("POLYTRACK_RUN_ID", "MLFLOW_RUN_ID")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _env(names: Sequence[str]) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


# --- tracking URI and experiments ------------------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Send everything from now on to `uri`: `http(s)://host:port`, `grpc(s)://host:port`,
    `sqlite:///path` or `postgresql://...`; a plain path means a SQLite file there. None goes back to
    $POLYTRACK_TRACKING_URI / $MLFLOW_TRACKING_URI / `sqlite:///polytrack.db`. Changing the server
    forgets the experiment chosen with `set_experiment`."""
    if uri is None:
        state.set_tracking_uri(None)
        return
    text = os.fspath(uri)
    if "://" not in text and not text.startswith(("sqlite:", "postgresql:", "postgres:")):
        text = f"sqlite:///{os.path.abspath(text)}"
    state.set_tracking_uri(text)


def get_tracking_uri() -> str:
    """The tracking URI in use (set, from the environment, or the default)."""
    return state.effective_tracking_uri()


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    """Create an experiment and return its id (RESOURCE_ALREADY_EXISTS if the name is taken)."""
    return state.connection().client.create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id (RESOURCE_DOES_NOT_EXIST if none)."""
    return state.connection().client.get_experiment(str(experiment_id))


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or None."""
    return state.connection().client.get_experiment_by_name(name)


def search_experiments(
    view_type: int | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Experiments matching `filter_string` (all pages; at most `max_results` if given)."""
    client = state.connection().client
    found = client.iter_experiments(view_type, filter_string, order_by)
    if max_results is not None:
        return list(itertools.islice(found, max_results))
    return list(found)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment the active one for new runs, by name (created if missing) or by id.

    A deleted experiment is refused (INVALID_PARAMETER_VALUE) and left deleted.
    """
    if (experiment_name is None) == (experiment_id is None):
        raise PolytrackException(
            "Must specify exactly one of: `experiment_id` or `experiment_name`.", "INVALID_PARAMETER_VALUE"
        )
    client = state.connection().client
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        assert experiment_name is not None
        experiment = _get_or_create_experiment(experiment_name)
    if experiment.lifecycle_stage == "deleted":
        raise PolytrackException(
            f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. Restore it "
            "(Client.restore_experiment) or choose another name.",
            "INVALID_PARAMETER_VALUE",
        )
    with state.lock:
        state.experiment_id = experiment.experiment_id
    return experiment


def _get_or_create_experiment(name: str) -> Experiment:
    client = state.connection().client
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment
    try:
        return client.get_experiment(client.create_experiment(name))
    except PolytrackException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    found = client.get_experiment_by_name(name)  # created concurrently by someone else
    if found is None:
        raise PolytrackException(f"Experiment {name!r} could not be created or found", "INTERNAL_ERROR")
    return found


def _active_experiment_id() -> str:
    """set_experiment's choice, else $POLYTRACK_EXPERIMENT_NAME (created if missing), else
    $POLYTRACK_EXPERIMENT_ID (MLflow's variables as fallbacks), else the default experiment "0"."""
    with state.lock:
        if state.experiment_id is not None:
            return state.experiment_id
    name = _env(_EXPERIMENT_NAME_ENV)
    if name is not None:
        return _get_or_create_experiment(name).experiment_id
    return _env(_EXPERIMENT_ID_ENV) or DEFAULT_EXPERIMENT_ID


# --- runs ------------------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run (or resume `run_id`, or $POLYTRACK_RUN_ID) and make it the active run.

    Use as a context manager to end it: FINISHED, FAILED if an exception escapes, KILLED on
    Ctrl-C. With an active run, pass `nested=True` to start a child run (tagged
    `mlflow.parentRunId`). New runs are created in `experiment_id`, else the active experiment, and
    get the automatic tags `mlflow.user`, `mlflow.source.name`, `mlflow.source.type` and
    `mlflow.source.git.commit`; `description` becomes the `mlflow.note.content` tag. Without
    `run_name` the server picks a name. `log_system_metrics` is accepted for MLflow compatibility;
    polytrack does not collect system metrics.
    """
    stack = state.stack()
    if stack and not nested:
        raise PolytrackException(
            f"Run with UUID {stack[-1].info.run_id} is already active. To start a new run, first end the "
            "current run with polytrack.end_run(). To start a nested run, call start_run with nested=True",
            "INVALID_STATE",
        )
    if log_system_metrics:
        warnings.warn(
            "polytrack does not collect system metrics; log_system_metrics is ignored", stacklevel=2
        )
    parent = parent_run_id
    if parent is None and nested and stack:
        parent = stack[-1].info.run_id
    elif parent is not None and nested and stack and stack[-1].info.run_id != parent:
        raise PolytrackException(
            f"parent_run_id {parent} is not the active run {stack[-1].info.run_id}", "INVALID_PARAMETER_VALUE"
        )
    user_tags = {key: str(value) for key, value in (tags or {}).items()}
    if parent is not None:
        user_tags[PARENT_RUN_ID_TAG] = parent
    if description is not None:
        user_tags[NOTE_TAG] = description
    connection = state.connection()
    existing = run_id or _env(_RUN_ID_ENV)
    if existing:
        run = _resume(connection, existing, experiment_id, run_name, user_tags)
    else:
        target_experiment = str(experiment_id) if experiment_id is not None else _active_experiment_id()
        run = connection.client.create_run(
            target_experiment, start_time=_now_ms(), tags={**context_tags(), **user_tags}, run_name=run_name
        )
    active = ActiveRun(run, connection)
    state.push(active)
    return active


def _resume(
    connection: Connection,
    run_id: str,
    experiment_id: str | None,
    run_name: str | None,
    tags: Mapping[str, str],
) -> Run:
    client = connection.client
    connection.queue.flush(report=False)
    run = client.get_run(run_id)
    if run.info.lifecycle_stage == "deleted":
        raise PolytrackException(
            f"Cannot start run with ID {run_id} because it is in the deleted state.",
            "INVALID_PARAMETER_VALUE",
        )
    if experiment_id is not None and str(experiment_id) != run.info.experiment_id:
        raise PolytrackException(
            f"Run {run_id} belongs to experiment {run.info.experiment_id}, not {experiment_id}",
            "INVALID_PARAMETER_VALUE",
        )
    client.update_run(run_id, status=RunStatus.RUNNING.value, name=run_name)
    if tags:
        client.log_batch(run_id, tags=[tracking_pb2.RunTag(key=k, value=v) for k, v in tags.items()])
    return client.get_run(run_id)


def active_run() -> ActiveRun | None:
    """This thread's active run, or None."""
    stack = state.stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the run this thread ended last, fetched now; None if there is none."""
    current = active_run()
    if current is not None:
        return _read_run(current.connection, current.info.run_id)
    last = state.last_run()
    if last is None:
        return None
    run_id, connection = last
    return _read_run(connection, run_id)


def end_run(status: str = RunStatus.FINISHED.value) -> None:
    """End this thread's active run (if any) with `status` after delivering what it logged.

    Raises a PolytrackException if the server refused logged items (the run is ended anyway).
    """
    current = active_run()
    if current is not None:
        _end_run_object(current, status)


def _end_run_object(run: ActiveRun, status: str) -> None:
    """End `run` (and runs nested in it that are still active in this thread)."""
    final = RunStatus.coerce(status).value
    stack = state.stack()
    if run in stack:
        while stack and stack[-1] is not run:
            _end_one(stack[-1], final)
    _end_one(run, final)


def _end_one(run: ActiveRun, status: str) -> None:
    if not state.is_active(run):
        return
    state.remove(run)
    queue = run.connection.queue
    queue.put(Item(run.info.run_id, END, status, "", _now_ms()))
    queue.flush()


def _get_or_start_run() -> ActiveRun:
    current = active_run()
    return current if current is not None else start_run()


def _target(run_id: str | None) -> tuple[str, Connection]:
    stack = state.stack()
    if run_id is None:
        current = stack[-1] if stack else _get_or_start_run()
        return current.info.run_id, current.connection
    for run in stack:
        if run.info.run_id == run_id:
            return run_id, run.connection
    return run_id, state.connection()


def get_run(run_id: str) -> Run:
    """The run with this id, including everything logged to it so far."""
    return _read_run(state.connection(), run_id)


def _read_run(connection: Connection, run_id: str) -> Run:
    connection.queue.flush(report=False)
    return connection.client.get_run(run_id)


def delete_run(run_id: str) -> None:
    """Mark a run deleted (after delivering what was logged to it)."""
    connection = state.connection()
    connection.queue.flush(report=False)
    connection.client.delete_run(run_id)


# --- logging ---------------------------------------------------------------------------------------
def _deliver(connection: Connection, items: list[Item], synchronous: bool | None) -> None:
    if not synchronous:
        connection.queue.put_many(items)
        return
    connection.queue.flush()  # keep the order with what was queued before, and report its errors
    for request in plan_requests(items):
        send(connection.client, request)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log one measurement of a metric (step 0 and now by default) to the active run or `run_id`.

    `model_id` names the logged model the measurement is about; `dataset` (any object with `name`
    and `digest`, such as a `polytrack.Dataset` or an MLflow dataset) the dataset it was computed
    on: both are stored with the point (`Metric.model_id`, `dataset_name`, `dataset_digest`).
    Queued (returns at once) unless `synchronous=True`, which sends it now and raises its error.
    """
    target, connection = _target(run_id)
    if model_id is None and dataset is None:
        item = metric_item(target, key, value, timestamp, step)
    else:
        (item,) = metric_items(target, {key: value}, timestamp, step, model_id, dataset)
    if synchronous:
        _deliver(connection, [item], True)
    else:
        connection.queue.put(item)


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> None:
    """Log several metrics at one step and timestamp, with one model and dataset (see `log_metric`)."""
    target, connection = _target(run_id)
    _deliver(connection, metric_items(target, metrics, timestamp, step, model_id, dataset), synchronous)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param (stored as a string; immutable once logged) and return `value`."""
    target, connection = _target(None)
    _deliver(connection, [Item(target, PARAM, key, str(value))], synchronous)
    return value


def log_params(params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None) -> None:
    """Log several params (see `log_param`)."""
    target, connection = _target(run_id)
    _deliver(connection, [Item(target, PARAM, key, str(value)) for key, value in params.items()], synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    """Set a tag on the active run (stored as a string; a later value replaces it)."""
    target, connection = _target(None)
    _deliver(connection, [Item(target, TAG, key, str(value))], synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags on the active run (see `set_tag`)."""
    target, connection = _target(None)
    _deliver(connection, [Item(target, TAG, key, str(value)) for key, value in tags.items()], synchronous)


def delete_tag(key: str) -> None:
    """Delete a tag from the active run (RESOURCE_DOES_NOT_EXIST if it has none); immediate."""
    target, connection = _target(None)
    connection.queue.flush()
    connection.client.delete_tag(target, key)


def log_input(
    dataset: Any = None,
    context: str | None = None,
    tags: Mapping[str, Any] | None = None,
    model: Any = None,
) -> None:
    """Record that the active run used `dataset` (a `polytrack.Dataset`, a `polytrack.v1` Dataset or
    DatasetInput, or any object with name/digest/source_type/source/schema/profile), for `context`
    (e.g. "training", stored as the input tag `mlflow.data.context`), and/or the logged `model` (a
    `polytrack.LoggedModelInput`, or anything with a `model_id`). Sent immediately."""
    if dataset is None and model is None:
        raise PolytrackException("log_input needs a dataset or a model", "INVALID_PARAMETER_VALUE")
    log_inputs(
        [dataset] if dataset is not None else None,
        [context] if dataset is not None else None,
        [tags] if dataset is not None else None,
        [model] if model is not None else None,
    )


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[Mapping[str, Any] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Record several dataset inputs (see `log_input`) and logged model inputs at once; `datasets`,
    `contexts` and `tags_list` are matched by position. `None` entries are skipped."""
    datasets = list(datasets or ())
    count = len(datasets)
    if (contexts is not None and len(contexts) != count) or (
        tags_list is not None and len(tags_list) != count
    ):
        raise PolytrackException(
            "contexts and tags_list must have as many entries as datasets", "INVALID_PARAMETER_VALUE"
        )
    inputs: list[DatasetInput] = [
        dataset_input(
            dataset,
            contexts[index] if contexts is not None else None,
            tags_list[index] if tags_list is not None else None,
        )
        for index, dataset in enumerate(datasets)
        if dataset is not None
    ]
    model_inputs = [model_input(model) for model in models or () if model is not None]
    if not inputs and not model_inputs:
        return
    target, connection = _target(None)
    connection.client.log_inputs(target, datasets=inputs, models=model_inputs)


def flush(timeout: float | None = None) -> None:
    """Wait until everything logged so far is delivered (or spooled); raise what the server refused.

    Emits a `polytrack.PolytrackSpoolWarning` naming each spool file written since the last flush.
    """
    first_error: PolytrackException | None = None
    for connection in state.connections():
        try:
            connection.queue.flush(timeout)
        except PolytrackException as error:
            first_error = first_error or error
    if first_error is not None:
        raise first_error


def flush_async_logging() -> None:
    """MLflow's name for `flush()`: wait until everything logged so far is delivered."""
    flush()


# --- search ----------------------------------------------------------------------------------------
def search_runs(
    experiment_ids: str | Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int | str = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: str | None = None,
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching `filter_string` (e.g. "metrics.loss < 0.1"), ordered by `order_by`.

    Searches `experiment_ids`, else the experiments named in `experiment_names`, else every active
    experiment if `search_all_experiments`, else the active experiment. `output_format="pandas"`
    returns a DataFrame with MLflow's columns (run_id, experiment_id, status, artifact_uri,
    start_time, end_time, metrics.*, params.*, tags.*) and needs pandas; "list" returns Run
    objects. By default: pandas when it is installed, else a list.
    """
    frame = _wants_frame(output_format)
    connection = state.connection()
    client = connection.client
    ids = _search_experiment_ids(connection, experiment_ids, experiment_names, search_all_experiments)
    connection.queue.flush(report=False)
    runs: list[Run] = []
    if ids:
        found = client.iter_runs(
            ids,
            filter_string,
            run_view_type,
            order_by,
            page_size=min(max_results, SEARCH_MAX_RESULTS_DEFAULT),
        )
        runs = list(itertools.islice(found, max_results))
    return runs_to_frame(runs) if frame else runs


def _wants_frame(output_format: str | None) -> bool:
    if output_format not in (None, "pandas", "list"):
        raise PolytrackException(
            f"Unsupported output_format {output_format!r}: use 'pandas' or 'list'", "INVALID_PARAMETER_VALUE"
        )
    if output_format == "list":
        return False
    try:
        importlib.import_module("pandas")
    except ImportError:
        if output_format == "pandas":
            raise PolytrackException(
                "search_runs(output_format='pandas') needs pandas, which is not installed: "
                "`pip install pandas`, or pass output_format='list'",
                "INVALID_PARAMETER_VALUE",
            ) from None
        return False
    return True


def _search_experiment_ids(
    connection: Connection,
    experiment_ids: str | Sequence[str] | None,
    experiment_names: Sequence[str] | None,
    search_all: bool,
) -> list[str]:
    if experiment_ids:
        return [experiment_ids] if isinstance(experiment_ids, str) else [str(i) for i in experiment_ids]
    client = connection.client
    if experiment_names:
        found = (client.get_experiment_by_name(name) for name in experiment_names)
        return [experiment.experiment_id for experiment in found if experiment is not None]
    if search_all:
        return [experiment.experiment_id for experiment in client.iter_experiments(ViewType.ACTIVE_ONLY)]
    return [_active_experiment_id()]
