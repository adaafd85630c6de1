"""Compatibility scenarios for a tracking server, driven by the official `mlflow` Python client.

This file runs INSIDE the virtualenv that holds `mlflow` (it pins a protobuf that conflicts with
polytrack's), so it imports nothing from polytrack. Each scenario takes the tracking URI, talks to
the server only through `mlflow` (fluent API and `mlflow.MlflowClient`) and checks behaviour with
plain asserts. Scenarios name everything they create after themselves plus a random token, so they
can share one server (and a server can be reused between invocations).

    python mlflow_scenarios.py --list
    python mlflow_scenarios.py --tracking-uri http://127.0.0.1:5000 [--only NAME ...] [--output FILE]

The run prints (or writes to FILE) one JSON document: {name: {"ok": bool, "error": str | null,
"skipped": str | null, "seconds": float}}. `--list` prints a JSON list of names without importing
mlflow, so any Python 3.11 can answer it quickly.

Client retries are switched off (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 unless set) so that a server
error surfaces at once instead of after minutes of back-off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

SCENARIOS: dict[str, Callable[[Context], None]] = {}

# Filled in by _import_mlflow(): importing mlflow takes seconds, and `--list` must stay fast.
mlflow: Any = None
MlflowClient: Any = None
MlflowException: Any = None
ViewType: Any = None
Metric: Any = None
Param: Any = None
RunTag: Any = None
RestStore: Any = None

FLOAT_MAX = sys.float_info.max


class ScenarioSkipped(Exception):
    """Raised when a scenario cannot run in this environment (e.g. an optional package is missing)."""


def scenario(function: Callable[[Context], None]) -> Callable[[Context], None]:
    SCENARIOS[function.__name__] = function
    return function


def _import_mlflow() -> None:
    global mlflow, MlflowClient, MlflowException, ViewType, Metric, Param, RunTag, RestStore
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow as mlflow_module
    from mlflow.entities import Metric as MetricEntity
    from mlflow.entities import Param as ParamEntity
    from mlflow.entities import RunTag as RunTagEntity
    from mlflow.entities import ViewType as ViewTypeEntity
    from mlflow.exceptions import MlflowException as MlflowExceptionClass
    from mlflow.store.tracking.rest_store import RestStore as RestStoreClass

    mlflow = mlflow_module
    MlflowClient = mlflow_module.MlflowClient
    MlflowException = MlflowExceptionClass
    ViewType = ViewTypeEntity
    Metric = MetricEntity
    Param = ParamEntity
    RunTag = RunTagEntity
    RestStore = RestStoreClass


# --------------------------------------------------------------------------------------------------
# Helpers


class Context:
    """Per-scenario state: the tracking URI, a client, and a unique name prefix."""

    def __init__(self, tracking_uri: str, scenario_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.prefix = f"e2e-{scenario_name.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        mlflow.set_tracking_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self._counter = 0

    def name(self, label: str = "") -> str:
        self._counter += 1
        return f"{self.prefix}-{label or 'x'}{self._counter}"

    def new_experiment(self, label: str = "exp", tags: dict[str, str] | None = None) -> str:
        return self.client.create_experiment(self.name(label), tags=tags)

    def fluent_experiment(self, label: str = "fluent") -> str:
        """Make a fresh experiment the fluent API's active one; returns its id."""
        experiment = mlflow.set_experiment(self.name(label))
        return experiment.experiment_id

    def create_run(self, experiment_id: str, **kwargs: Any) -> str:
        return self.client.create_run(experiment_id, **kwargs).info.run_id


def now_ms() -> int:
    return int(time.time() * 1000)


def expect_error(code: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `function`, which must raise MlflowException with `error_code == code`; returns it."""
    try:
        result = function(*args, **kwargs)
    except MlflowException as error:
        call = f"{getattr(function, '__name__', function)}(*{args!r}, **{kwargs!r})"
        assert error.error_code == code, (
            f"{call[:300]} raised error_code {error.error_code!r}, expected {code!r}; "
            f"message: {error.message}"
        )
        assert error.message, "error without a message"
        return error
    call = f"{getattr(function, '__name__', function)}(*{args!r}, **{kwargs!r})"
    raise AssertionError(f"{call[:300]} succeeded (returned {result!r}), expected {code}")


def run_ids(runs: Any) -> list[str]:
    return [run.info.run_id for run in runs]


def metrics_of(run: Any) -> dict[str, float]:
    return dict(run.data.metrics)


@contextlib.contextmanager
def count_calls(owner: Any, attribute: str) -> Iterator[list[tuple[Any, Any]]]:
    """Record the calls made to `owner.attribute` (a method), passing them through."""
    original = getattr(owner, attribute)
    calls: list[tuple[Any, Any]] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    setattr(owner, attribute, wrapper)
    try:
        yield calls
    finally:
        setattr(owner, attribute, original)


def search_all_runs(client: Any, experiment_ids: list[str], filter_string: str = "", **kwargs: Any) -> list:
    return list(client.search_runs(experiment_ids, filter_string, **kwargs))


def filtered_ids(client: Any, experiment_id: str, filter_string: str) -> set[str]:
    return set(run_ids(client.search_runs([experiment_id], filter_string)))


# --------------------------------------------------------------------------------------------------
# Experiments


@scenario
def experiment_create_and_get(ctx: Context) -> None:
    name = ctx.name("exp")
    before = now_ms()
    experiment_id = ctx.client.create_experiment(name, tags={"team": "vision", "note": "first"})
    assert isinstance(experiment_id, str) and experiment_id.isdigit(), experiment_id
    experiment = ctx.client.get_experiment(experiment_id)
    assert experiment.experiment_id == experiment_id
    assert experiment.name == name
    assert experiment.lifecycle_stage == "active"
    assert experiment.tags == {"team": "vision", "note": "first"}, experiment.tags
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}", experiment.artifact_location
    assert isinstance(experiment.creation_time, int), experiment.creation_time
    assert before - 60_000 <= experiment.creation_time <= now_ms() + 60_000, experiment.creation_time
    assert experiment.last_update_time >= experiment.creation_time
    # The fluent helpers read the same experiment.
    assert mlflow.get_experiment(experiment_id).name == name
    default = ctx.client.get_experiment("0")
    assert default.name == "Default", default.name


@scenario
def experiment_get_by_name(ctx: Context) -> None:
    name = ctx.name("exp")
    experiment_id = ctx.client.create_experiment(name)
    found = ctx.client.get_experiment_by_name(name)
    assert found is not None and found.experiment_id == experiment_id, found
    assert mlflow.get_experiment_by_name(name).experiment_id == experiment_id
    # The client maps the server's RESOURCE_DOES_NOT_EXIST to None.
    assert ctx.client.get_experiment_by_name(ctx.name("missing")) is None
    # Names are case-sensitive.
    assert ctx.client.get_experiment_by_name(name.upper()) is None
    # Deleted experiments are still found by name.
    ctx.client.delete_experiment(experiment_id)
    deleted = ctx.client.get_experiment_by_name(name)
    assert deleted is not None and deleted.lifecycle_stage == "deleted", deleted


@scenario
def experiment_fluent_set_experiment(ctx: Context) -> None:
    name = ctx.name("fluent")
    created = mlflow.set_experiment(name)
    assert created.name == name and created.lifecycle_stage == "active"
    again = mlflow.set_experiment(name)
    assert again.experiment_id == created.experiment_id
    by_id = mlflow.set_experiment(experiment_id=created.experiment_id)
    assert by_id.name == name
    with mlflow.start_run() as run:
        assert run.info.experiment_id == created.experiment_id
    mlflow.set_experiment_tag("stage", "dev")
    mlflow.set_experiment_tags({"owner": "me", "stage": "prod"})
    tags = ctx.client.get_experiment(created.experiment_id).tags
    assert tags == {"stage": "prod", "owner": "me"}, tags


@scenario
def search_experiments_filter_name(ctx: Context) -> None:
    names = [ctx.name("alpha"), ctx.name("alpha"), ctx.name("beta")]
    ids = [ctx.client.create_experiment(name) for name in names]

    def found(filter_string: str) -> set[str]:
        return {e.experiment_id for e in ctx.client.search_experiments(filter_string=filter_string)}

    assert found(f"name LIKE '{ctx.prefix}-%'") == set(ids)
    assert found(f"name LIKE '{ctx.prefix}-alpha%'") == set(ids[:2])
    # Experiment search accepts `attribute.` (singular) or a bare name; MLflow 3.17.2 rejects
    # `attributes.` there even though run search accepts it.
    assert found(f"attribute.name = '{names[2]}'") == {ids[2]}
    assert found(f"name LIKE '{ctx.prefix}-%' AND name != '{names[0]}'") == set(ids[1:])
    # LIKE is case-sensitive, ILIKE is not.
    assert found(f"name LIKE '{ctx.prefix.upper()}-%'") == set()
    assert found(f"name ILIKE '{ctx.prefix.upper()}-%'") == set(ids)
    fluent = mlflow.search_experiments(filter_string=f"name LIKE '{ctx.prefix}-%'")
    assert {e.experiment_id for e in fluent} == set(ids)


@scenario
def search_experiments_filter_tags(ctx: Context) -> None:
    first = ctx.new_experiment(tags={"team": "vision", "tier": "gold"})
    second = ctx.new_experiment(tags={"team": "nlp"})
    third = ctx.new_experiment()
    scope = f"name LIKE '{ctx.prefix}-%'"

    def found(clause: str) -> set[str]:
        return {e.experiment_id for e in ctx.client.search_experiments(filter_string=f"{scope} AND {clause}")}

    assert found("tags.team = 'vision'") == {first}
    assert found("tags.team != 'vision'") == {second}
    assert found("tags.team LIKE 'n%'") == {second}
    assert found("tags.team ILIKE 'VIS%'") == {first}
    assert found("tags.`tier` = 'gold'") == {first}
    assert found("tags.team = 'vision' AND tags.tier = 'gold'") == {first}
    assert found("tags.team = 'audio'") == set()
    assert third not in found("tags.team LIKE '%'")


@scenario
def search_experiments_order_by(ctx: Context) -> None:
    names = [ctx.name("c"), ctx.name("a"), ctx.name("b")]
    ids = []
    for name in names:
        ids.append(ctx.client.create_experiment(name))
        time.sleep(0.01)
    scope = f"name LIKE '{ctx.prefix}-%'"

    def ordered(order_by: list[str] | None) -> list[str]:
        return [e.name for e in ctx.client.search_experiments(filter_string=scope, order_by=order_by)]

    assert ordered(["name ASC"]) == sorted(names)
    assert ordered(["name DESC"]) == sorted(names, reverse=True)
    assert ordered(["name"]) == sorted(names)
    # Default order: newest first.
    assert ordered(None) == list(reversed(names)), ordered(None)
    assert ordered(["creation_time ASC"]) == names
    by_id = [
        e.experiment_id
        for e in ctx.client.search_experiments(filter_string=scope, order_by=["experiment_id DESC"])
    ]
    assert by_id == sorted(ids, key=int, reverse=True), by_id


@scenario
def search_experiments_paging(ctx: Context) -> None:
    ids = {ctx.new_experiment() for _ in range(5)}
    scope = f"name LIKE '{ctx.prefix}-%'"
    seen: list[str] = []
    sizes: list[int] = []
    token = None
    while True:
        page = ctx.client.search_experiments(max_results=2, filter_string=scope, page_token=token)
        sizes.append(len(page))
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
        assert len(sizes) < 10, "paging does not terminate"
    assert sizes == [2, 2, 1], sizes
    assert len(seen) == len(set(seen)) and set(seen) == ids, (seen, ids)
    everything = ctx.client.search_experiments(max_results=10, filter_string=scope)
    assert len(everything) == 5 and not everything.token


@scenario
def search_experiments_view_type(ctx: Context) -> None:
    kept = ctx.new_experiment()
    dropped = ctx.new_experiment()
    ctx.client.delete_experiment(dropped)
    scope = f"name LIKE '{ctx.prefix}-%'"

    def found(view_type: int) -> set[str]:
        return {
            e.experiment_id for e in ctx.client.search_experiments(view_type=view_type, filter_string=scope)
        }

    assert found(ViewType.ACTIVE_ONLY) == {kept}
    assert found(ViewType.DELETED_ONLY) == {dropped}
    assert found(ViewType.ALL) == {kept, dropped}
    fluent = mlflow.search_experiments(view_type=ViewType.ALL, filter_string=scope)
    assert {e.experiment_id for e in fluent} == {kept, dropped}


@scenario
def experiment_rename(ctx: Context) -> None:
    old_name, new_name = ctx.name("old"), ctx.name("new")
    experiment_id = ctx.client.create_experiment(old_name)
    ctx.client.rename_experiment(experiment_id, new_name)
    assert ctx.client.get_experiment(experiment_id).name == new_name
    assert ctx.client.get_experiment_by_name(old_name) is None
    assert ctx.client.get_experiment_by_name(new_name).experiment_id == experiment_id
    # The old name is free again.
    reused = ctx.client.create_experiment(old_name)
    assert reused != experiment_id


@scenario
def experiment_delete_restore_cascades_runs(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    first = ctx.create_run(experiment_id)
    second = ctx.create_run(experiment_id)
    ctx.client.delete_experiment(experiment_id)
    experiment = ctx.client.get_experiment(experiment_id)
    assert experiment.lifecycle_stage == "deleted"
    assert search_all_runs(ctx.client, [experiment_id]) == []
    deleted = search_all_runs(ctx.client, [experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert set(run_ids(deleted)) == {first, second}
    assert ctx.client.get_run(first).info.lifecycle_stage == "deleted"
    # Deleting again is an error: the experiment is no longer active.
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_experiment, experiment_id)
    # No new runs in a deleted experiment.
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.create_run, experiment_id)

    ctx.client.restore_experiment(experiment_id)
    assert ctx.client.get_experiment(experiment_id).lifecycle_stage == "active"
    active = search_all_runs(ctx.client, [experiment_id])
    assert set(run_ids(active)) == {first, second}
    assert ctx.client.get_run(second).info.lifecycle_stage == "active"
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.restore_experiment, experiment_id)


@scenario
def experiment_tags_set_and_delete(ctx: Context) -> None:
    experiment_id = ctx.new_experiment(tags={"a": "1"})
    ctx.client.set_experiment_tag(experiment_id, "b", "2")
    ctx.client.set_experiment_tag(experiment_id, "a", "one")
    ctx.client.set_experiment_tag(experiment_id, "mlflow.note.content", "experiment notes\nline 2")
    tags = ctx.client.get_experiment(experiment_id).tags
    assert tags == {"a": "one", "b": "2", "mlflow.note.content": "experiment notes\nline 2"}, tags
    ctx.client.delete_experiment_tag(experiment_id, "b")
    assert ctx.client.get_experiment(experiment_id).tags == {
        "a": "one",
        "mlflow.note.content": "experiment notes\nline 2",
    }
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_experiment_tag, experiment_id, "b")


# --------------------------------------------------------------------------------------------------
# Runs: fluent API


@scenario
def fluent_start_run_context(ctx: Context) -> None:
    experiment_id = ctx.fluent_experiment()
    run_name = ctx.name("run")
    with mlflow.start_run(run_name=run_name, tags={"kind": "train"}, description="a **note**") as run:
        run_id = run.info.run_id
        assert mlflow.active_run().info.run_id == run_id
        assert run.info.status == "RUNNING"
        assert run.info.experiment_id == experiment_id
        live = ctx.client.get_run(run_id)
        assert live.info.status == "RUNNING" and live.info.end_time is None, live.info
    assert mlflow.active_run() is None
    finished = ctx.client.get_run(run_id)
    info, tags = finished.info, finished.data.tags
    assert info.status == "FINISHED", info.status
    assert info.run_name == run_name
    assert info.end_time is not None and info.end_time >= info.start_time
    assert tags["kind"] == "train"
    assert tags["mlflow.runName"] == run_name
    assert tags["mlflow.note.content"] == "a **note**"
    assert tags.get("mlflow.user"), tags
    assert tags.get("mlflow.source.name"), tags
    assert tags.get("mlflow.source.type") == "LOCAL", tags
    assert mlflow.last_active_run().info.run_id == run_id


@scenario
def fluent_generated_run_name(ctx: Context) -> None:
    ctx.fluent_experiment()
    with mlflow.start_run() as run:
        pass
    stored = ctx.client.get_run(run.info.run_id)
    assert stored.info.run_name, "server did not generate a run name"
    assert stored.data.tags["mlflow.runName"] == stored.info.run_name


@scenario
def fluent_nested_runs(ctx: Context) -> None:
    experiment_id = ctx.fluent_experiment()
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child-1", nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
        with mlflow.start_run(run_name="child-2", nested=True) as child2:
            pass
        assert mlflow.active_run().info.run_id == parent.info.run_id
    parent_id = parent.info.run_id
    for child_run in (child, child2):
        stored = ctx.client.get_run(child_run.info.run_id)
        assert stored.data.tags.get("mlflow.parentRunId") == parent_id, stored.data.tags
        assert stored.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in ctx.client.get_run(parent_id).data.tags
    children = filtered_ids(ctx.client, experiment_id, f"tags.mlflow.parentRunId = '{parent_id}'")
    assert children == {child.info.run_id, child2.info.run_id}, children
    roots = filtered_ids(ctx.client, experiment_id, "tags.mlflow.parentRunId IS NULL")
    assert roots == {parent_id}, roots


@scenario
def fluent_log_params(ctx: Context) -> None:
    ctx.fluent_experiment()
    with mlflow.start_run() as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_param("layers", 3)
        mlflow.log_params(
            {"optimizer": "adam", "dropout": None, "empty": "", "path/with.dots-and space": "x y"}
        )
        # Re-logging an identical value is allowed.
        mlflow.log_param("lr", 0.01)
    params = ctx.client.get_run(run.info.run_id).data.params
    assert params == {
        "lr": "0.01",
        "layers": "3",
        "optimizer": "adam",
        "dropout": "None",
        "empty": "",
        "path/with.dots-and space": "x y",
    }, params


@scenario
def fluent_log_metrics_steps_timestamps(ctx: Context) -> None:
    ctx.fluent_experiment()
    t0 = now_ms() - 10_000
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0, step=0, timestamp=t0)
        mlflow.log_metric("loss", 0.5, step=1, timestamp=t0 + 1)
        mlflow.log_metric("loss", 0.25, step=2, timestamp=t0 + 2)
        mlflow.log_metrics({"acc": 0.7, "f1": 0.6}, step=7, timestamp=t0 + 3)
        mlflow.log_metric("no_step", 42)
        mlflow.log_metric("negative_step", -1.5, step=-3, timestamp=t0 + 4)
        mlflow.log_metric("int_value", 3)
    stored = ctx.client.get_run(run.info.run_id)
    metrics = metrics_of(stored)
    assert metrics == {
        "loss": 0.25,
        "acc": 0.7,
        "f1": 0.6,
        "no_step": 42.0,
        "negative_step": -1.5,
        "int_value": 3.0,
    }
    history = ctx.client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, t0, 1.0),
        (1, t0 + 1, 0.5),
        (2, t0 + 2, 0.25),
    ]
    assert all(m.key == "loss" for m in history)
    (acc,) = ctx.client.get_metric_history(run.info.run_id, "acc")
    assert (acc.step, acc.timestamp, acc.value) == (7, t0 + 3, 0.7)
    (no_step,) = ctx.client.get_metric_history(run.info.run_id, "no_step")
    assert no_step.step == 0 and abs(no_step.timestamp - now_ms()) < 600_000, no_step
    assert ctx.client.get_metric_history(run.info.run_id, "never_logged") == []


@scenario
def latest_metric_max_step_wins(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    # Logged out of order: the latest value is the one with the greatest step, not the last logged.
    ctx.client.log_metric(run_id, "m", 10.0, timestamp=t0, step=5)
    ctx.client.log_metric(run_id, "m", 20.0, timestamp=t0 + 1000, step=2)
    # Same step: the greater timestamp wins.
    ctx.client.log_metric(run_id, "s", 1.0, timestamp=t0 + 200, step=3)
    ctx.client.log_metric(run_id, "s", 2.0, timestamp=t0 + 100, step=3)
    # Same step and timestamp: the greater value wins.
    ctx.client.log_metric(run_id, "v", 1.0, timestamp=t0, step=1)
    ctx.client.log_metric(run_id, "v", 3.0, timestamp=t0, step=1)
    ctx.client.log_metric(run_id, "v", 2.0, timestamp=t0, step=1)
    metrics = metrics_of(ctx.client.get_run(run_id))
    assert metrics == {"m": 10.0, "s": 1.0, "v": 3.0}, metrics
    # search_runs compares the latest value.
    assert filtered_ids(ctx.client, experiment_id, "metrics.m = 10") == {run_id}
    assert filtered_ids(ctx.client, experiment_id, "metrics.m = 20") == set()


@scenario
def metric_history_ordering(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    points = [(t0 + 30, 0, 3.0), (t0 + 10, 2, 1.0), (t0 + 20, 1, 2.0), (t0 + 10, 1, 5.0), (t0 + 10, 1, 4.0)]
    for timestamp, step, value in points:
        ctx.client.log_metric(run_id, "h", value, timestamp=timestamp, step=step)
    history = ctx.client.get_metric_history(run_id, "h")
    got = [(m.timestamp, m.step, m.value) for m in history]
    assert got == sorted(points), got


@scenario
def metric_history_30000_points_paged(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms() - 100_000
    count = 30_000
    metrics = [Metric("big", float(i) * 0.5, t0 + i, i) for i in range(count)]
    ctx.client.log_batch(run_id, metrics=metrics)
    with count_calls(RestStore, "get_metric_history") as calls:
        history = ctx.client.get_metric_history(run_id, "big")
    assert len(history) == count, len(history)
    assert [m.step for m in history] == list(range(count)), "history out of order or incomplete"
    assert all(m.value == i * 0.5 and m.timestamp == t0 + i for i, m in enumerate(history))
    # The client pages with 25,000 per request, so the server must have handed out a page token.
    assert len(calls) >= 2, f"expected the client to page, made {len(calls)} call(s)"
    assert metrics_of(ctx.client.get_run(run_id)) == {"big": (count - 1) * 0.5}


@scenario
def log_batch_client_splits_large_batches(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    metrics = [Metric(f"k{i % 5}", float(i), t0 + i, i // 5) for i in range(2500)]
    params = [Param(f"p{i:03d}", str(i)) for i in range(150)]
    tags = [RunTag(f"t{i:03d}", f"v{i}") for i in range(120)]
    with count_calls(RestStore, "log_batch") as calls:
        ctx.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    assert len(calls) >= 3, f"expected the client to split the batch, made {len(calls)} request(s)"
    run = ctx.client.get_run(run_id)
    assert run.data.params == {f"p{i:03d}": str(i) for i in range(150)}
    for i in range(120):
        assert run.data.tags[f"t{i:03d}"] == f"v{i}"
    assert metrics_of(run) == {f"k{j}": float(2495 + j) for j in range(5)}, metrics_of(run)
    history = ctx.client.get_metric_history(run_id, "k3")
    assert [m.value for m in history] == [float(i) for i in range(3, 2500, 5)]


@scenario
def log_batch_mixed_small(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    ctx.client.log_batch(
        run_id,
        metrics=[Metric("a", 1.0, t0, 0), Metric("a", 2.0, t0 + 1, 1), Metric("b", -7.25, t0, 3)],
        params=[Param("x", "1"), Param("y", "two")],
        tags=[RunTag("stage", "dev"), RunTag("mlflow.runName", "renamed-by-batch")],
    )
    ctx.client.log_batch(run_id)  # An empty batch is a no-op.
    run = ctx.client.get_run(run_id)
    assert metrics_of(run) == {"a": 2.0, "b": -7.25}
    assert run.data.params == {"x": "1", "y": "two"}
    assert run.data.tags["stage"] == "dev"
    # Setting the mlflow.runName tag renames the run.
    assert run.info.run_name == "renamed-by-batch", run.info.run_name
    # The same param value again is fine; a different one is not.
    ctx.client.log_batch(run_id, params=[Param("x", "1")])
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_batch, run_id, params=[Param("x", "2")])


@scenario
def tags_set_and_delete(ctx: Context) -> None:
    ctx.fluent_experiment()
    with mlflow.start_run() as run:
        mlflow.set_tag("a", "1")
        mlflow.set_tags({"b": 2, "c": "three"})
        mlflow.set_tag("a", "overwritten")
        mlflow.set_tag("multi", "line1\nline2 ünïcødé")
        mlflow.delete_tag("c")
    run_id = run.info.run_id
    ctx.client.set_tag(run_id, "d", "4")
    ctx.client.delete_tag(run_id, "b")
    tags = ctx.client.get_run(run_id).data.tags
    assert tags["a"] == "overwritten" and tags["d"] == "4" and tags["multi"] == "line1\nline2 ünïcødé", tags
    assert "b" not in tags and "c" not in tags, tags
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_tag, run_id, "b")


@scenario
def end_run_statuses(ctx: Context) -> None:
    ctx.fluent_experiment()
    with mlflow.start_run() as finished:
        pass
    try:
        with mlflow.start_run() as failed:
            raise ValueError("training blew up")
    except ValueError:
        pass
    killed = mlflow.start_run()
    mlflow.end_run()  # Leave the fluent stack clean; then override via the client.
    ctx.client.set_terminated(killed.info.run_id, status="KILLED")
    explicit = mlflow.start_run()
    mlflow.end_run(status="FAILED")
    expected = {
        finished.info.run_id: "FINISHED",
        failed.info.run_id: "FAILED",
        killed.info.run_id: "KILLED",
        explicit.info.run_id: "FAILED",
    }
    for run_id, status in expected.items():
        info = ctx.client.get_run(run_id).info
        assert info.status == status, (run_id, info.status, status)
        assert info.end_time is not None and info.end_time >= info.start_time


@scenario
def client_create_run_and_update(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    start = now_ms() - 5000
    run = ctx.client.create_run(experiment_id, start_time=start, tags={"k": "v"}, run_name="first-name")
    run_id = run.info.run_id
    assert run.info.status == "RUNNING" and run.info.start_time == start and run.info.end_time is None
    assert run.info.run_name == "first-name" and run.data.tags["k"] == "v"
    assert len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id), run_id
    ctx.client.update_run(run_id, name="second-name")
    renamed = ctx.client.get_run(run_id)
    assert renamed.info.run_name == "second-name"
    assert renamed.data.tags["mlflow.runName"] == "second-name"
    assert renamed.info.status == "RUNNING"
    ctx.client.update_run(run_id, status="FINISHED")
    assert ctx.client.get_run(run_id).info.status == "FINISHED"
    end = now_ms()
    ctx.client.set_terminated(run_id, end_time=end)
    info = ctx.client.get_run(run_id).info
    assert info.status == "FINISHED" and info.end_time == end, info


@scenario
def get_run_contents(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    t0 = now_ms()
    run = ctx.client.create_run(experiment_id, start_time=t0, run_name="shape")
    run_id = run.info.run_id
    ctx.client.log_param(run_id, "p", "v")
    ctx.client.log_metric(run_id, "m", 1.5, timestamp=t0, step=1)
    ctx.client.set_tag(run_id, "t", "x")
    ctx.client.set_terminated(run_id, end_time=t0 + 10)
    stored = ctx.client.get_run(run_id)
    info = stored.info
    assert info.run_id == run_id
    assert info.experiment_id == experiment_id
    assert info.run_name == "shape"
    assert info.status == "FINISHED"
    assert info.lifecycle_stage == "active"
    assert info.start_time == t0 and info.end_time == t0 + 10
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts", info.artifact_uri
    assert isinstance(info.user_id, str)
    assert stored.data.params == {"p": "v"}
    assert stored.data.metrics == {"m": 1.5}
    assert stored.data.tags["t"] == "x" and stored.data.tags["mlflow.runName"] == "shape"
    assert stored.inputs is not None and list(stored.inputs.dataset_inputs) == []
    # The fluent getter agrees.
    assert mlflow.get_run(run_id).info.run_id == run_id
    # log_metric timestamps may be omitted by the client.
    (metric,) = ctx.client.get_metric_history(run_id, "m")
    assert (metric.key, metric.value, metric.timestamp, metric.step) == ("m", 1.5, t0, 1)


@scenario
def nan_and_infinite_metrics(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    ctx.client.log_metric(run_id, "nan", float("nan"), timestamp=t0, step=0)
    ctx.client.log_metric(run_id, "pinf", float("inf"), timestamp=t0, step=0)
    ctx.client.log_metric(run_id, "ninf", float("-inf"), timestamp=t0, step=0)
    ctx.client.log_batch(
        run_id, metrics=[Metric("batch_nan", float("nan"), t0, 0), Metric("batch_nan", 1.0, t0, 1)]
    )
    metrics = metrics_of(ctx.client.get_run(run_id))
    assert math.isnan(metrics["nan"]), metrics
    # MLflow stores +/-inf as +/-max float; an exact infinity is equally fine for clients.
    assert metrics["pinf"] >= FLOAT_MAX, metrics
    assert metrics["ninf"] <= -FLOAT_MAX, metrics
    assert metrics["batch_nan"] == 1.0
    (nan_point,) = ctx.client.get_metric_history(run_id, "nan")
    assert math.isnan(nan_point.value)
    history = ctx.client.get_metric_history(run_id, "batch_nan")
    assert math.isnan(history[0].value) and history[1].value == 1.0, history
    assert filtered_ids(ctx.client, experiment_id, "metrics.pinf > 1e300") == {run_id}
    assert filtered_ids(ctx.client, experiment_id, "metrics.ninf < -1e300") == {run_id}


# --------------------------------------------------------------------------------------------------
# Search runs


def _make_search_fixture(ctx: Context) -> tuple[str, list[str]]:
    """Five finished runs with metric m = 1..5 (run 5 has none), params and tags."""
    experiment_id = ctx.new_experiment()
    ids = []
    start = now_ms() - 100_000
    for i in range(5):
        run = ctx.client.create_run(
            experiment_id,
            start_time=start + i * 1000,
            run_name=f"run-{i}",
            tags={"group": "even" if i % 2 == 0 else "odd"},
        )
        run_id = run.info.run_id
        if i < 4:
            ctx.client.log_metric(run_id, "m", float(i + 1), timestamp=start, step=0)
        ctx.client.log_metric(run_id, "other", float(10 - i), timestamp=start, step=0)
        ctx.client.log_param(run_id, "model", ["Linear", "linear-v2", "tree", "Forest", "tree"][i])
        if i == 0:
            ctx.client.set_tag(run_id, "special", "yes")
        ctx.client.set_terminated(
            run_id, status="FINISHED" if i != 4 else "FAILED", end_time=start + i * 1000 + 500
        )
        ids.append(run_id)
    return experiment_id, ids


@scenario
def search_runs_pandas_dataframe(ctx: Context) -> None:
    try:
        import pandas  # noqa: F401
    except ImportError as error:
        raise ScenarioSkipped(f"pandas is not installed in the mlflow venv ({error})") from error
    experiment_id, ids = _make_search_fixture(ctx)
    frame = mlflow.search_runs(experiment_ids=[experiment_id])
    assert len(frame) == 5, len(frame)
    for column in (
        "run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
        "metrics.m", "metrics.other", "params.model", "tags.group", "tags.special", "tags.mlflow.runName",
    ):  # fmt: skip
        assert column in frame.columns, (column, list(frame.columns))
    rows = {row["run_id"]: row for _, row in frame.iterrows()}
    assert set(rows) == set(ids)
    assert rows[ids[2]]["metrics.m"] == 3.0 and rows[ids[2]]["params.model"] == "tree"
    assert rows[ids[0]]["tags.special"] == "yes" and rows[ids[0]]["tags.group"] == "even"
    assert rows[ids[4]]["status"] == "FAILED" and rows[ids[1]]["tags.mlflow.runName"] == "run-1"
    assert math.isnan(rows[ids[4]]["metrics.m"])
    # Default order: newest start_time first.
    assert list(frame["run_id"]) == list(reversed(ids)), list(frame["run_id"])
    filtered = mlflow.search_runs(
        experiment_names=[ctx.client.get_experiment(experiment_id).name],
        filter_string="metrics.m >= 2",
        order_by=["metrics.m ASC"],
    )
    assert list(filtered["run_id"]) == ids[1:4], list(filtered["run_id"])
    as_list = mlflow.search_runs(experiment_ids=[experiment_id], output_format="list", max_results=2)
    assert run_ids(as_list) == [ids[4], ids[3]]


@scenario
def search_runs_metric_filters(ctx: Context) -> None:
    experiment_id, ids = _make_search_fixture(ctx)

    def found(filter_string: str) -> set[str]:
        return filtered_ids(ctx.client, experiment_id, filter_string)

    assert found("metrics.m > 2") == set(ids[2:4])
    assert found("metrics.m >= 2") == set(ids[1:4])
    assert found("metrics.m < 2") == {ids[0]}
    assert found("metrics.m <= 2") == set(ids[0:2])
    assert found("metrics.m = 3") == {ids[2]}
    assert found("metrics.m = 3.0") == {ids[2]}
    assert found("metrics.m != 3") == {ids[0], ids[1], ids[3]}
    assert found("metric.m > 1.5 AND metrics.other > 7") == {ids[1], ids[2]}
    assert found("metrics.m > 1 and metrics.m < 4") == {ids[1], ids[2]}
    assert found("metrics.m > 100") == set()
    assert found("metrics.m >= -1e10") == set(ids[0:4])
    assert found("metrics.missing > 0") == set()


@scenario
def search_runs_param_and_tag_filters(ctx: Context) -> None:
    experiment_id, ids = _make_search_fixture(ctx)

    def found(filter_string: str) -> set[str]:
        return filtered_ids(ctx.client, experiment_id, filter_string)

    assert found("params.model = 'tree'") == {ids[2], ids[4]}
    assert found('params.model = "tree"') == {ids[2], ids[4]}
    assert found("params.model != 'tree'") == {ids[0], ids[1], ids[3]}
    assert found("params.model LIKE 'linear%'") == {ids[1]}
    assert found("params.model LIKE '%e%'") == {ids[0], ids[1], ids[2], ids[3], ids[4]}
    assert found("params.model ILIKE 'linear%'") == {ids[0], ids[1]}
    assert found("params.model LIKE 'Linea_'") == {ids[0]}
    assert found("param.model = 'Forest' AND tags.group = 'odd'") == {ids[3]}
    assert found("tags.group = 'even'") == {ids[0], ids[2], ids[4]}
    assert found("tags.group != 'even'") == {ids[1], ids[3]}
    assert found("tags.special IS NULL") == set(ids[1:])
    assert found("tags.special IS NOT NULL") == {ids[0]}
    assert found("params.missing IS NULL") == set(ids)
    assert found("params.model IS NOT NULL") == set(ids)
    assert found("tags.group ILIKE 'EV%'") == {ids[0], ids[2], ids[4]}
    assert found("tags.`group` = 'odd'") == {ids[1], ids[3]}


@scenario
def search_runs_attribute_filters(ctx: Context) -> None:
    experiment_id, ids = _make_search_fixture(ctx)
    runs = {run_id: ctx.client.get_run(run_id) for run_id in ids}

    def found(filter_string: str) -> set[str]:
        return filtered_ids(ctx.client, experiment_id, filter_string)

    assert found("attributes.status = 'FINISHED'") == set(ids[:4])
    assert found("attributes.status != 'FINISHED'") == {ids[4]}
    assert found("status = 'FAILED'") == {ids[4]}
    assert found("attributes.run_name = 'run-3'") == {ids[3]}
    assert found("run_name LIKE 'run-%'") == set(ids)
    assert found("attributes.run_name ILIKE 'RUN-1'") == {ids[1]}
    assert found("tags.mlflow.runName = 'run-2'") == {ids[2]}
    start_2 = runs[ids[2]].info.start_time
    assert found(f"attributes.start_time > {start_2}") == set(ids[3:])
    assert found(f"attributes.start_time >= {start_2}") == set(ids[2:])
    assert found(f"attributes.start_time < {start_2} AND attributes.start_time >= {start_2 - 1000}") == {
        ids[1]
    }
    assert found(f"attributes.end_time = {runs[ids[0]].info.end_time}") == {ids[0]}
    assert found(f"attributes.run_id IN ('{ids[0]}', '{ids[3]}')") == {ids[0], ids[3]}
    assert found(f"attributes.run_id NOT IN ('{ids[0]}', '{ids[3]}')") == {ids[1], ids[2], ids[4]}
    assert found(f"attributes.run_id = '{ids[1]}'") == {ids[1]}
    assert found(f"attributes.artifact_uri = '{runs[ids[2]].info.artifact_uri}'") == {ids[2]}


@scenario
def search_runs_order_by(ctx: Context) -> None:
    experiment_id, ids = _make_search_fixture(ctx)

    def ordered(*order_by: str) -> list[str]:
        return run_ids(ctx.client.search_runs([experiment_id], order_by=list(order_by)))

    # ids[4] has no metric "m": it sorts last in either direction.
    assert ordered("metrics.m DESC") == [ids[3], ids[2], ids[1], ids[0], ids[4]]
    assert ordered("metrics.m ASC") == [ids[0], ids[1], ids[2], ids[3], ids[4]]
    assert ordered("metrics.m") == ordered("metrics.m ASC")
    assert ordered("metrics.other ASC") == [ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert ordered("attributes.start_time ASC") == ids
    assert ordered("attributes.start_time DESC") == list(reversed(ids))
    assert ordered() == list(reversed(ids)), "default order is start_time DESC"
    assert ordered("attributes.run_name DESC") == list(reversed(ids))
    # params.model: Forest, Linear, linear-v2, tree, tree (ties broken by start_time DESC).
    assert ordered("params.model ASC") == [ids[3], ids[0], ids[1], ids[4], ids[2]]
    assert ordered("tags.group ASC", "metrics.other DESC") == [ids[0], ids[2], ids[4], ids[1], ids[3]]
    assert ordered("tags.special DESC")[0] == ids[0]


@scenario
def search_runs_paging(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    start = now_ms() - 100_000
    ids = [ctx.create_run(experiment_id, start_time=start + i) for i in range(7)]
    seen: list[str] = []
    sizes: list[int] = []
    token = None
    while True:
        page = ctx.client.search_runs([experiment_id], max_results=3, page_token=token)
        sizes.append(len(page))
        seen.extend(run_ids(page))
        token = page.token
        if not token:
            break
        assert len(sizes) < 10, "paging does not terminate"
    assert sizes == [3, 3, 1], sizes
    assert seen == list(reversed(ids)), "pages must follow start_time DESC without gaps or repeats"
    filtered = ctx.client.search_runs([experiment_id], f"attributes.start_time >= {start + 2}", max_results=2)
    assert len(filtered) == 2 and filtered.token
    rest = ctx.client.search_runs(
        [experiment_id], f"attributes.start_time >= {start + 2}", max_results=10, page_token=filtered.token
    )
    assert run_ids(filtered) + run_ids(rest) == list(reversed(ids[2:]))
    assert not rest.token


@scenario
def search_runs_view_types_and_experiments(ctx: Context) -> None:
    first_experiment = ctx.new_experiment()
    second_experiment = ctx.new_experiment()
    a = ctx.create_run(first_experiment)
    b = ctx.create_run(first_experiment)
    c = ctx.create_run(second_experiment)
    ctx.client.delete_run(b)

    def found(experiment_ids: list[str], view_type: int = ViewType.ACTIVE_ONLY) -> set[str]:
        return set(run_ids(ctx.client.search_runs(experiment_ids, run_view_type=view_type)))

    assert found([first_experiment]) == {a}
    assert found([first_experiment], ViewType.DELETED_ONLY) == {b}
    assert found([first_experiment], ViewType.ALL) == {a, b}
    assert found([first_experiment, second_experiment]) == {a, c}
    assert found([first_experiment, second_experiment], ViewType.ALL) == {a, b, c}


@scenario
def search_runs_quoted_keys(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    other = ctx.create_run(experiment_id)
    t0 = now_ms()
    ctx.client.log_metric(run_id, "my metric", 2.0, timestamp=t0)
    ctx.client.log_param(run_id, "a b", "c d")
    ctx.client.set_tag(run_id, "with.dots", "ok")
    ctx.client.set_tag(other, "with.dots", "no")
    assert filtered_ids(ctx.client, experiment_id, "metrics.`my metric` > 1") == {run_id}
    assert filtered_ids(ctx.client, experiment_id, "params.\"a b\" = 'c d'") == {run_id}
    assert filtered_ids(ctx.client, experiment_id, "tags.with.dots = 'ok'") == {run_id}
    assert filtered_ids(ctx.client, experiment_id, "tags.`with.dots` = 'no'") == {other}
    ordered = run_ids(ctx.client.search_runs([experiment_id], order_by=["metrics.`my metric` DESC"]))
    assert ordered == [run_id, other]


@scenario
def delete_and_restore_run(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    ctx.client.log_param(run_id, "kept", "yes")
    ctx.client.delete_run(run_id)
    deleted = ctx.client.get_run(run_id)
    assert deleted.info.lifecycle_stage == "deleted"
    assert deleted.data.params == {"kept": "yes"}, "data must survive a soft delete"
    assert filtered_ids(ctx.client, experiment_id, "") == set()
    ctx.client.restore_run(run_id)
    restored = ctx.client.get_run(run_id)
    assert restored.info.lifecycle_stage == "active"
    assert filtered_ids(ctx.client, experiment_id, "") == {run_id}
    ctx.client.log_param(run_id, "after", "restore")
    # Fluent delete works too.
    mlflow.delete_run(run_id)
    assert ctx.client.get_run(run_id).info.lifecycle_stage == "deleted"


# --------------------------------------------------------------------------------------------------
# Datasets


@scenario
def log_input_pandas_dataset(ctx: Context) -> None:
    try:
        import pandas as pd
    except ImportError as error:
        raise ScenarioSkipped(f"pandas is not installed in the mlflow venv ({error})") from error
    ctx.fluent_experiment()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, targets="y", name="toy-frame")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    inputs = ctx.client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1, inputs
    stored = inputs[0].dataset
    assert stored.name == "toy-frame"
    assert stored.digest == dataset.digest
    assert stored.source_type == dataset.source._get_source_type()
    assert json.loads(stored.schema) == json.loads(dataset._to_mlflow_entity().schema)
    assert json.loads(stored.profile)["num_rows"] == 3
    tags = {tag.key: tag.value for tag in inputs[0].tags}
    assert tags == {"mlflow.data.context": "training", "split": "train"}, tags


@scenario
def log_input_numpy_dataset(ctx: Context) -> None:
    try:
        import numpy as np
    except ImportError as error:
        raise ScenarioSkipped(f"numpy is not installed in the mlflow venv ({error})") from error
    experiment_id = ctx.fluent_experiment()
    dataset = mlflow.data.from_numpy(np.arange(12, dtype="float64").reshape(4, 3), name="toy-array")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="eval")
        # Logging the same dataset twice keeps one input.
        mlflow.log_input(dataset, context="eval")
    inputs = ctx.client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["toy-array"], inputs
    assert inputs[0].dataset.digest == dataset.digest
    assert run.info.run_id in filtered_ids(ctx.client, experiment_id, "datasets.name = 'toy-array'")
    assert filtered_ids(ctx.client, experiment_id, "datasets.context = 'training'") == set()
    assert filtered_ids(ctx.client, experiment_id, f"datasets.digest = '{dataset.digest}'") == {
        run.info.run_id
    }


# --------------------------------------------------------------------------------------------------
# Errors


@scenario
def error_unknown_run_id(ctx: Context) -> None:
    missing = uuid.uuid4().hex
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_run, missing)
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.log_metric, missing, "m", 1.0)
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.log_param, missing, "p", "v")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.set_tag, missing, "t", "v")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_run, missing)
    expect_error(
        "RESOURCE_DOES_NOT_EXIST", ctx.client.log_batch, missing, metrics=[Metric("m", 1.0, now_ms(), 0)]
    )
    # Metric history of an unknown run is simply empty.
    assert ctx.client.get_metric_history(missing, "m") == []


@scenario
def error_unknown_experiment_id(ctx: Context) -> None:
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_experiment, "987654321")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_experiment, "987654321")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.create_run, "987654321")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.set_experiment_tag, "987654321", "k", "v")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.get_experiment, "not-a-number")
    # Searching unknown experiments finds nothing rather than failing.
    assert list(ctx.client.search_runs(["987654321"])) == []


@scenario
def error_duplicate_experiment_name(ctx: Context) -> None:
    name = ctx.name("dup")
    experiment_id = ctx.client.create_experiment(name)
    expect_error("RESOURCE_ALREADY_EXISTS", ctx.client.create_experiment, name)
    # Names of deleted experiments stay reserved.
    ctx.client.delete_experiment(experiment_id)
    expect_error("RESOURCE_ALREADY_EXISTS", ctx.client.create_experiment, name)
    # Invalid names.
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.create_experiment, "")


@scenario
def error_change_param_value(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    ctx.client.log_param(run_id, "lr", "0.1")
    ctx.client.log_param(run_id, "lr", "0.1")
    error = expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_param, run_id, "lr", "0.2")
    assert "lr" in error.message, error.message
    assert ctx.client.get_run(run_id).data.params == {"lr": "0.1"}
    ctx.fluent_experiment()
    with mlflow.start_run():
        mlflow.log_param("alpha", 1)
        expect_error("INVALID_PARAMETER_VALUE", mlflow.log_param, "alpha", 2)


@scenario
def error_bad_filter_syntax(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    ctx.create_run(experiment_id)
    bad_filters = [
        "metrics.m >> 1",
        "metrics.m > 1 OR metrics.m < 0",
        "params.p = unquoted",
        "metrics.m > 'text'",
        "nonsense.key = 'x'",
        "attributes.unknown_attribute = 'x'",
        "metrics.m",
    ]
    for bad in bad_filters:
        expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_runs, [experiment_id], bad)
    expect_error(
        "INVALID_PARAMETER_VALUE", ctx.client.search_runs, [experiment_id], order_by=["metrics.m SIDEWAYS"]
    )
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_experiments, filter_string="name === 'x'")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_experiments, filter_string="metrics.m > 1")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_runs, [experiment_id], page_token="not-a-token")


@scenario
def error_log_to_deleted_run(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    ctx.client.delete_run(run_id)
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_metric, run_id, "m", 1.0)
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_param, run_id, "p", "v")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.set_tag, run_id, "t", "v")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_batch, run_id, params=[Param("p", "v")])
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.update_run, run_id, status="FINISHED")
    assert ctx.client.get_run(run_id).data.params == {}


@scenario
def error_invalid_keys_and_values(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    t0 = now_ms()
    for bad_key in ("../escape", "/absolute", "bad*char", "a//b"):
        expect_error(
            "INVALID_PARAMETER_VALUE", ctx.client.log_batch, run_id, metrics=[Metric(bad_key, 1.0, t0, 0)]
        )
    expect_error(
        "INVALID_PARAMETER_VALUE",
        ctx.client.log_batch,
        run_id,
        params=[Param("same", "1"), Param("same", "2")],
    )
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_runs, [experiment_id], max_results=50_001)
    run = ctx.client.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}


@scenario
def long_values_truncated_or_rejected(ctx: Context) -> None:
    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    # Over-long param (6000) and run tag (8000) values are truncated, not refused.
    ctx.client.log_param(run_id, "long", "x" * 7000)
    ctx.client.set_tag(run_id, "long", "y" * 9000)
    run = ctx.client.get_run(run_id)
    assert run.data.params["long"] == "x" * 6000, len(run.data.params["long"])
    assert run.data.tags["long"] == "y" * 8000, len(run.data.tags["long"])
    # Re-logging the same over-long value matches the truncated one.
    ctx.client.log_param(run_id, "long", "x" * 7000)
    # Experiment tag values over 20000 characters and keys over 250 are refused.
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.set_experiment_tag, experiment_id, "big", "z" * 20_001)
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.log_metric, run_id, "k" * 251, 1.0)
    ctx.client.log_metric(run_id, "k" * 250, 1.0)
    assert metrics_of(ctx.client.get_run(run_id)) == {"k" * 250: 1.0}


# --------------------------------------------------------------------------------------------------
# Model registry


def _registered(ctx: Context, label: str = "model", **kwargs: Any) -> str:
    name = ctx.name(label)
    ctx.client.create_registered_model(name, **kwargs)
    return name


def _run_with_model(ctx: Context) -> str:
    """A run to register versions from (the files need not exist for registration)."""
    return ctx.create_run(ctx.new_experiment())


@scenario
def registry_registered_model_lifecycle(ctx: Context) -> None:
    name = ctx.name("model")
    before = now_ms()
    created = ctx.client.create_registered_model(name, tags={"team": "growth"}, description="churn model")
    assert created.name == name and created.description == "churn model", created
    assert created.tags == {"team": "growth"}, created.tags
    assert before - 60_000 <= created.creation_timestamp <= now_ms() + 60_000, created.creation_timestamp
    fetched = ctx.client.get_registered_model(name)
    assert fetched.name == name and fetched.latest_versions == [] and fetched.aliases == {}
    expect_error("RESOURCE_ALREADY_EXISTS", ctx.client.create_registered_model, name)
    updated = ctx.client.update_registered_model(name, description="better")
    assert updated.description == "better", updated.description
    new_name = ctx.name("renamed")
    ctx.client.rename_registered_model(name, new_name)
    assert ctx.client.get_registered_model(new_name).name == new_name
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_registered_model, name)
    assert ctx.client.get_registered_model(new_name).tags == {"team": "growth"}
    other = _registered(ctx)
    expect_error("RESOURCE_ALREADY_EXISTS", ctx.client.rename_registered_model, other, new_name)
    ctx.client.delete_registered_model(new_name)
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_registered_model, new_name)
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.delete_registered_model, new_name)


@scenario
def registry_model_version_from_run(ctx: Context) -> None:
    run_id = _run_with_model(ctx)
    artifact_uri = ctx.client.get_run(run_id).info.artifact_uri
    name = _registered(ctx)
    version = ctx.client.create_model_version(
        name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"}, description="first"
    )
    assert version.version == "1" and version.status == "READY", version
    assert version.current_stage == "None" and version.run_id == run_id, version
    assert version.tags == {"k": "v"} and version.description == "first", version
    # MLflow answers the runs:/ source itself; polytrack the location it resolves to. Clients
    # download from either.
    download_uri = ctx.client.get_model_version_download_uri(name, "1")
    assert download_uri in (f"runs:/{run_id}/model", f"{artifact_uri}/model"), download_uri
    fetched = ctx.client.get_model_version(name, "1")
    assert fetched.source == version.source and fetched.creation_timestamp == version.creation_timestamp
    updated = ctx.client.update_model_version(name, "1", description="changed")
    assert updated.description == "changed"
    latest = ctx.client.get_registered_model(name).latest_versions
    assert [(v.version, v.current_stage) for v in latest] == [("1", "None")], latest
    second = ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    assert second.version == "2"
    ctx.client.delete_model_version(name, "2")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_model_version, name, "2")
    # Numbers of deleted versions are never reused.
    assert ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version == "3"
    # The run of a runs:/ source must match run_id.
    other_run = _run_with_model(ctx)
    expect_error(
        "INVALID_PARAMETER_VALUE", ctx.client.create_model_version, name, f"runs:/{run_id}/model", other_run
    )


@scenario
def registry_aliases(ctx: Context) -> None:
    run_id = _run_with_model(ctx)
    name = _registered(ctx)
    for _ in range(2):
        ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    ctx.client.set_registered_model_alias(name, "champion", "1")
    ctx.client.set_registered_model_alias(name, "challenger", "2")
    assert ctx.client.get_model_version_by_alias(name, "champion").version == "1"
    assert ctx.client.get_model_version(name, "1").aliases == ["champion"]
    assert ctx.client.get_registered_model(name).aliases == {"champion": "1", "challenger": "2"}
    # Setting an alias again moves it.
    ctx.client.set_registered_model_alias(name, "champion", "2")
    assert sorted(ctx.client.get_model_version(name, "2").aliases) == ["challenger", "champion"]
    ctx.client.delete_registered_model_alias(name, "challenger")
    ctx.client.delete_registered_model_alias(name, "never-set")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.get_model_version_by_alias, name, "challenger")
    for reserved in ("latest", "v1", "V2"):
        expect_error("INVALID_PARAMETER_VALUE", ctx.client.set_registered_model_alias, name, reserved, "1")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.set_registered_model_alias, name, "later", "99")
    # Deleting a version removes the aliases pointing to it.
    ctx.client.delete_model_version(name, "2")
    assert ctx.client.get_registered_model(name).aliases == {}


@scenario
def registry_tags(ctx: Context) -> None:
    run_id = _run_with_model(ctx)
    name = _registered(ctx, tags={"a": "1"})
    ctx.client.set_registered_model_tag(name, "a", "2")
    ctx.client.set_registered_model_tag(name, "b", "3")
    ctx.client.delete_registered_model_tag(name, "b")
    ctx.client.delete_registered_model_tag(name, "absent")
    assert ctx.client.get_registered_model(name).tags == {"a": "2"}
    ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    ctx.client.set_model_version_tag(name, "1", "validated", "yes")
    ctx.client.set_model_version_tag(name, "1", "owner", "me")
    ctx.client.delete_model_version_tag(name, "1", "owner")
    ctx.client.delete_model_version_tag(name, "1", "absent")
    assert ctx.client.get_model_version(name, "1").tags == {"validated": "yes"}
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.set_model_version_tag, name, "9", "k", "v")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.set_registered_model_tag, ctx.name("none"), "k", "v")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.set_registered_model_tag, name, "../bad", "v")


@scenario
def registry_stages_and_latest_versions(ctx: Context) -> None:
    import warnings

    run_id = _run_with_model(ctx)
    name = _registered(ctx)
    for _ in range(3):
        ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stages are deprecated in MLflow
        moved = ctx.client.transition_model_version_stage(name, "1", "production")
        assert moved.current_stage == "Production", moved.current_stage
        ctx.client.transition_model_version_stage(name, "2", "Staging")
        ctx.client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
        assert ctx.client.get_model_version(name, "1").current_stage == "Archived"
        latest = ctx.client.get_latest_versions(name)
        assert sorted((v.version, v.current_stage) for v in latest) == [
            ("1", "Archived"),
            ("2", "Staging"),
            ("3", "Production"),
        ], latest
        production = ctx.client.get_latest_versions(name, stages=["Production"])
        assert [v.version for v in production] == ["3"]
        expect_error("INVALID_PARAMETER_VALUE", ctx.client.transition_model_version_stage, name, "1", "Prod")


@scenario
def registry_search(ctx: Context) -> None:
    run_id = _run_with_model(ctx)
    names = [_registered(ctx, tags={"group": ctx.prefix}) for _ in range(3)]
    for name in names[:2]:
        ctx.client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    found = ctx.client.search_registered_models(f"name LIKE '{ctx.prefix}%'", order_by=["name DESC"])
    assert [m.name for m in found] == sorted(names, reverse=True), [m.name for m in found]
    by_tag = ctx.client.search_registered_models(f"tags.group = '{ctx.prefix}'", max_results=2)
    assert [m.name for m in by_tag] == sorted(names)[:2] and by_tag.token
    rest = ctx.client.search_registered_models(
        f"tags.group = '{ctx.prefix}'", max_results=2, page_token=by_tag.token
    )
    assert [m.name for m in rest] == sorted(names)[2:] and not rest.token
    versions = ctx.client.search_model_versions(f"name = '{names[0]}'")
    assert [(v.name, v.version) for v in versions] == [(names[0], "1")]
    by_run = ctx.client.search_model_versions(f"run_id = '{run_id}'")
    assert sorted(v.name for v in by_run) == sorted(names[:2])
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_registered_models, "name = 'a' OR name = 'b'")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.search_model_versions, "bogus = 'x'")


@scenario
def registry_error_codes(ctx: Context) -> None:
    name = _registered(ctx)
    missing = ctx.name("missing")
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_registered_model, missing)
    expect_error("RESOURCE_DOES_NOT_EXIST", ctx.client.get_model_version, name, "1")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.get_model_version, name, "one")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.get_model_version_by_alias, name, "nope")
    expect_error("INVALID_PARAMETER_VALUE", ctx.client.create_registered_model, "")
    run_id = _run_with_model(ctx)
    expect_error(
        "RESOURCE_DOES_NOT_EXIST", ctx.client.create_model_version, missing, f"runs:/{run_id}/model", run_id
    )
    for source in (
        "file:///etc/",
        "../../../etc",
        "//proc/self/root/etc",
        "mlflow-artifacts:/%2e%2e/%2e%2e/x",
    ):
        expect_error(
            "INVALID_PARAMETER_VALUE",
            ctx.client.create_model_version,
            name,
            source,
            tags={"mlflow.prompt.is_prompt": "true"},
        )


# --------------------------------------------------------------------------------------------------
# Artifacts


def _artifact_tree(base: str) -> str:
    source = os.path.join(base, "source")
    os.makedirs(os.path.join(source, "nested", "deeper"))
    with open(os.path.join(source, "binary.bin"), "wb") as handle:
        handle.write(bytes(range(256)) * 4099)
    open(os.path.join(source, "empty.txt"), "wb").close()
    with open(os.path.join(source, "nested", "résumé.txt"), "w", encoding="utf-8") as handle:
        handle.write("unicode ✓")
    with open(os.path.join(source, "nested", "deeper", "leaf.txt"), "w", encoding="utf-8") as handle:
        handle.write("leaf")
    return source


@scenario
def artifacts_log_list_download(ctx: Context) -> None:
    import filecmp
    import tempfile

    mlflow.set_experiment(ctx.name("artifacts"))
    with tempfile.TemporaryDirectory() as scratch:
        source = _artifact_tree(scratch)
        with mlflow.start_run() as run:
            mlflow.log_artifact(os.path.join(source, "binary.bin"))
            mlflow.log_artifact(os.path.join(source, "empty.txt"), "single")
            mlflow.log_artifacts(source, "tree")
        run_id = run.info.run_id
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
        top = ctx.client.list_artifacts(run_id)
        expected_top = [("binary.bin", False), ("single", True), ("tree", True)]
        assert [(f.path, f.is_dir) for f in top] == expected_top, top
        nested = ctx.client.list_artifacts(run_id, "tree/nested")
        assert [(f.path, f.is_dir, f.file_size) for f in nested] == [
            ("tree/nested/deeper", True, None),
            ("tree/nested/résumé.txt", False, len("unicode ✓".encode())),
        ], nested
        assert ctx.client.list_artifacts(run_id, "missing") == []
        out = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="tree", dst_path=os.path.join(scratch, "out")
        )
        comparison = filecmp.dircmp(source, out)
        differences = comparison.diff_files + comparison.left_only + comparison.right_only
        assert not differences, differences
        single = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="binary.bin", dst_path=os.path.join(scratch, "one")
        )
        with open(single, "rb") as handle:
            assert handle.read() == bytes(range(256)) * 4099


@scenario
def artifacts_log_text_and_dict(ctx: Context) -> None:
    mlflow.set_experiment(ctx.name("artifacts"))
    with mlflow.start_run() as run:
        mlflow.log_text("hello ✓", "notes/hello.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        mlflow.log_dict({"lr": 0.1}, "config.yaml")
    root = run.info.artifact_uri
    assert mlflow.artifacts.load_text(f"{root}/notes/hello.txt") == "hello ✓"
    assert mlflow.artifacts.load_dict(f"{root}/config.json") == {"a": 1, "b": [1, 2]}
    # mlflow's load_dict parses JSON only; the YAML file is checked as text.
    assert mlflow.artifacts.load_text(f"{root}/config.yaml").strip() == "lr: 0.1"
    names = sorted(f.path for f in ctx.client.list_artifacts(run.info.run_id))
    assert names == ["config.json", "config.yaml", "notes"], names


@scenario
def artifacts_overwrite_and_empty_run(ctx: Context) -> None:
    import tempfile

    experiment_id = ctx.new_experiment()
    run_id = ctx.create_run(experiment_id)
    assert ctx.client.list_artifacts(run_id) == []
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "data.txt")
        for content in ("first", "second"):
            with open(path, "w") as handle:
                handle.write(content)
            ctx.client.log_artifact(run_id, path)
        local = ctx.client.download_artifacts(run_id, "data.txt", scratch + "/dl")
        with open(local) as handle:
            assert handle.read() == "second"


# --------------------------------------------------------------------------------------------------
# Runner


def run_scenarios(tracking_uri: str, names: list[str]) -> dict[str, dict[str, Any]]:
    _import_mlflow()
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        started = time.monotonic()
        result: dict[str, Any] = {"ok": False, "error": None, "skipped": None}
        # Anything the client prints goes to stderr, keeping stdout for the JSON document.
        with contextlib.redirect_stdout(sys.stderr):
            try:
                SCENARIOS[name](Context(tracking_uri, name))
                result["ok"] = True
            except ScenarioSkipped as skipped:
                result.update(ok=True, skipped=str(skipped))
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt):
                    raise
                result["error"] = traceback.format_exc()
            finally:
                _reset_fluent_state()
        result["seconds"] = round(time.monotonic() - started, 3)
        results[name] = result
        status = "ok" if result["ok"] else "FAILED"
        print(f"[scenario] {name}: {status} ({result['seconds']} s)", file=sys.stderr, flush=True)
    return results


def _reset_fluent_state() -> None:
    """Leave no active run behind for the next scenario."""
    for _ in range(20):
        if mlflow.active_run() is None:
            break
        try:
            mlflow.end_run(status="KILLED")
        except Exception:  # The server may have failed; drop the run locally anyway.
            mlflow.tracking.fluent._active_run_stack.get().pop()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", help="server URL, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--only", nargs="+", action="extend", default=[], metavar="NAME", help="run these only"
    )
    parser.add_argument("--list", action="store_true", help="print the scenario names as a JSON list")
    parser.add_argument("--output", help="write the JSON results here instead of stdout")
    args = parser.parse_args(argv)
    if args.list:
        print(json.dumps(list(SCENARIOS)))
        return 0
    if not args.tracking_uri:
        parser.error("--tracking-uri is required")
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    results = run_scenarios(args.tracking_uri, args.only or list(SCENARIOS))
    document = json.dumps(results, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(document)
    else:
        print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
