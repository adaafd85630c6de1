"""`polytrack.Client` against real tracking services: the same tests over REST and gRPC (to a live
`polytrack server`) and over the embedded store (SQLite, and PostgreSQL when available).

Every transport must give the same results and the same error codes and HTTP statuses.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pytest

from polytrack.client import Client, batch_chunks
from polytrack.entities import Dataset, DatasetInput, InputTag, Metric, Param, Run, RunTag, ViewType
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2 as pb

Unique = Callable[[str], str]


def error_of(call: Callable[[], object]) -> PolytrackException:
    with pytest.raises(PolytrackException) as caught:
        call()
    return caught.value


def new_run(client: Client, unique: Unique, **kwargs: object) -> tuple[str, Run]:
    experiment_id = client.create_experiment(unique("exp"))
    return experiment_id, client.create_run(experiment_id, **kwargs)


# --- experiments ---------------------------------------------------------------------------------
def test_experiment_lifecycle(client: Client, unique: Unique) -> None:
    name = unique("lifecycle")
    experiment_id = client.create_experiment(name, tags={"team": "vision", "level": 3})
    experiment = client.get_experiment(experiment_id)
    assert experiment.experiment_id == experiment_id
    assert experiment.name == name
    assert experiment.lifecycle_stage == "active"
    assert experiment.tags == {"team": "vision", "level": "3"}
    assert experiment.artifact_location.endswith(f"/{experiment_id}")
    assert experiment.creation_time is not None and experiment.creation_time > 0

    assert client.get_experiment_by_name(name) == experiment
    assert client.get_experiment_by_name(unique("missing")) is None

    client.set_experiment_tag(experiment_id, "team", "audio")
    client.delete_experiment_tag(experiment_id, "level")
    assert client.get_experiment(experiment_id).tags == {"team": "audio"}

    new_name = unique("renamed")
    client.rename_experiment(experiment_id, new_name)
    assert client.get_experiment(experiment_id).name == new_name

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    active = client.search_experiments(filter_string=f"name = '{new_name}'")
    deleted = client.search_experiments(ViewType.DELETED_ONLY, filter_string=f"name = '{new_name}'")
    assert [e.experiment_id for e in active] == []
    assert [e.experiment_id for e in deleted] == [experiment_id]

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_search_experiments_pages_and_iterates(client: Client, unique: Unique) -> None:
    prefix = unique("paged")
    ids = [client.create_experiment(f"{prefix}-{i}") for i in range(5)]
    query = f"name LIKE '{prefix}-%'"

    first = client.search_experiments(max_results=2, filter_string=query, order_by=["name ASC"])
    assert [e.experiment_id for e in first] == ids[:2]
    assert first.token is not None
    second = client.search_experiments(
        max_results=2, filter_string=query, order_by=["name ASC"], page_token=first.token
    )
    assert [e.experiment_id for e in second] == ids[2:4]

    everything = list(client.iter_experiments(filter_string=query, order_by=["name DESC"], page_size=2))
    assert [e.experiment_id for e in everything] == ids[::-1]
    last = client.search_experiments(max_results=10, filter_string=query)
    assert len(last) == 5 and last.token is None

    assert list(client.iter_experiments("deleted_only", filter_string=query)) == []


# --- runs ----------------------------------------------------------------------------------------
def test_run_has_mlflow_shapes(client: Client, unique: Unique) -> None:
    start = int(time.time() * 1000) - 5000
    experiment_id, run = new_run(
        client, unique, run_name="baseline", start_time=start, tags={"mlflow.user": "ada", "stage": 1}
    )
    info = run.info
    assert len(info.run_id) == 32 and info.run_uuid == info.run_id
    assert info.experiment_id == experiment_id
    assert info.run_name == "baseline"
    assert info.status == "RUNNING"
    assert info.lifecycle_stage == "active"
    assert info.user_id == "ada"
    assert info.start_time == start
    assert info.end_time is None
    assert info.artifact_uri.endswith(f"/{info.run_id}/artifacts")
    assert run.data.tags == {"mlflow.user": "ada", "stage": "1", "mlflow.runName": "baseline"}
    assert run.data.metrics == {} and run.data.params == {}

    assert client.get_run(info.run_id).info == info


def test_logging_and_reading_back(client: Client, unique: Unique) -> None:
    _, run = new_run(client, unique)
    run_id = run.info.run_id
    client.log_metric(run_id, "loss", 0.5, timestamp=1000, step=1)
    client.log_metric(run_id, "loss", 0.25, timestamp=2000, step=2)
    client.log_metric(run_id, "nan", math.nan, timestamp=1000)
    client.log_metric(run_id, "inf", math.inf, timestamp=1000)
    client.log_param(run_id, "lr", 0.01)
    client.log_param(run_id, "lr", "0.01")  # the same value again is a no-op
    client.set_tag(run_id, "note", "first")
    client.set_tag(run_id, "note", "second")
    client.set_tag(run_id, "doomed", "x")
    client.delete_tag(run_id, "doomed")

    data = client.get_run(run_id).data
    assert data.metrics["loss"] == 0.25
    assert math.isnan(data.metrics["nan"])
    assert data.metrics["inf"] == pytest.approx(1.7976931348623157e308)
    assert data.params == {"lr": "0.01"}
    assert data.tags["note"] == "second" and "doomed" not in data.tags
    latest = {m.key: m for m in data.latest_metrics}
    assert (latest["loss"].step, latest["loss"].timestamp) == (2, 2000)

    history = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.timestamp, m.step) for m in history] == [(0.5, 1000, 1), (0.25, 2000, 2)]
    assert client.get_metric_history(run_id, "never-logged") == []


def test_log_batch_splits_large_batches(client: Client, unique: Unique) -> None:
    _, run = new_run(client, unique)
    run_id = run.info.run_id
    metrics = [Metric("loss", i / 100, 1_000 + i, i) for i in range(2_500)]
    # Entities and polytrack.v1 messages mix freely.
    params: list[Param | pb.Param] = [Param(f"p{i}", str(i)) for i in range(150)]
    params += [pb.Param(key=f"q{i}", value="v") for i in range(100)]
    tags = [RunTag(f"t{i}", "x") for i in range(120)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    data = client.get_run(run_id).data
    assert len(data.params) == 250 and data.params["p149"] == "149"
    assert {f"t{i}" for i in range(120)} <= data.tags.keys()
    assert data.metrics["loss"] == 24.99
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(2_500))

    # Re-sending the same batch (as a retry would) neither fails nor duplicates anything.
    client.log_batch(run_id, metrics=metrics[:10], params=params[:10])
    assert len(client.get_metric_history(run_id, "loss")) == 2_500

    client.log_batch(run_id)  # nothing to log: no request, no error


def test_batch_chunks_respect_the_server_limits() -> None:
    metrics = [pb.Metric(key="m", value=1.0, timestamp=i) for i in range(2_050)]
    params = [pb.Param(key=f"p{i}", value="v") for i in range(230)]
    tags = [pb.RunTag(key=f"t{i}", value="v") for i in range(40)]
    chunks = list(batch_chunks(metrics, params, tags))
    for chunk_metrics, chunk_params, chunk_tags in chunks:
        assert len(chunk_metrics) <= 1000 and len(chunk_params) <= 100 and len(chunk_tags) <= 100
        assert len(chunk_metrics) + len(chunk_params) + len(chunk_tags) <= 1000
    assert [m for chunk in chunks for m in chunk[0]] == metrics
    assert [p for chunk in chunks for p in chunk[1]] == params
    assert [t for chunk in chunks for t in chunk[2]] == tags
    assert len(chunks) == 3


def test_asynchronous_writes_return_futures(client: Client, unique: Unique) -> None:
    _, run = new_run(client, unique)
    run_id = run.info.run_id
    futures = [client.log_metric(run_id, "acc", i / 10, step=i, synchronous=False) for i in range(5)]
    futures.append(client.log_param(run_id, "seed", 7, synchronous=False))
    futures.append(client.set_tag(run_id, "async", "yes", synchronous=False))
    futures.append(client.log_batch(run_id, params=[Param("batch", "1")], synchronous=False))
    for future in futures:
        assert future is not None
        assert future.result(timeout=30) is None
    data = client.get_run(run_id).data
    assert data.metrics["acc"] == 0.4
    assert data.params == {"seed": "7", "batch": "1"}
    assert data.tags["async"] == "yes"

    failing = client.log_param(run_id, "seed", 8, synchronous=False)
    assert failing is not None
    with pytest.raises(PolytrackException) as caught:
        failing.result(timeout=30)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_update_terminate_delete_restore(client: Client, unique: Unique) -> None:
    _, run = new_run(client, unique, run_name="before")
    run_id = run.info.run_id
    client.update_run(run_id, name="after")
    renamed = client.get_run(run_id)
    assert renamed.info.run_name == "after" and renamed.data.tags["mlflow.runName"] == "after"
    client.update_run(run_id, status="scheduled")
    assert client.get_run(run_id).info.status == "SCHEDULED"

    client.set_terminated(run_id, "FAILED", end_time=run.info.start_time + 1234)
    ended = client.get_run(run_id).info
    assert ended.status == "FAILED" and ended.end_time == ended.start_time + 1234
    client.set_terminated(run_id)
    finished = client.get_run(run_id).info
    assert finished.status == "FINISHED" and finished.end_time is not None

    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"

    with pytest.raises(ValueError, match="Unknown run status"):
        client.update_run(run_id, status="DONE")


def test_search_runs(client: Client, unique: Unique) -> None:
    experiment_id = client.create_experiment(unique("search"))
    run_ids = []
    for index in range(5):
        run = client.create_run(experiment_id, start_time=1_000 + index, run_name=f"r{index}")
        client.log_metric(run.info.run_id, "rmse", float(index), timestamp=1)
        client.log_param(run.info.run_id, "model", "gbm" if index % 2 else "linear")
        run_ids.append(run.info.run_id)

    good = client.search_runs([experiment_id], "metrics.rmse < 3 AND params.model = 'gbm'")
    assert [r.info.run_id for r in good] == [run_ids[1]]
    ordered = client.search_runs(experiment_id, order_by=["metrics.rmse DESC"], max_results=2)
    assert [r.info.run_id for r in ordered] == [run_ids[4], run_ids[3]]
    assert ordered.token is not None
    rest = client.search_runs(experiment_id, order_by=["metrics.rmse DESC"], page_token=ordered.token)
    assert [r.info.run_id for r in rest] == [run_ids[2], run_ids[1], run_ids[0]] and rest.token is None

    client.delete_run(run_ids[0])
    assert len(client.search_runs([experiment_id])) == 4
    deleted = client.search_runs([experiment_id], run_view_type="DELETED_ONLY")
    assert [r.info.run_id for r in deleted] == [run_ids[0]]
    everything = list(client.iter_runs([experiment_id], run_view_type=ViewType.ALL, page_size=2))
    assert [r.info.run_id for r in everything] == run_ids[::-1]  # newest start_time first
    assert [r.data.params["model"] for r in everything[:2]] == ["linear", "gbm"]
    assert client.search_runs([]) == []


def test_log_inputs_and_bulk_history(client: Client, unique: Unique) -> None:
    _, run = new_run(client, unique)
    run_id = run.info.run_id
    dataset = Dataset("train", "abc123", "local", "/data/train.csv", schema='{"cols": 2}')
    client.log_inputs(
        run_id, datasets=[DatasetInput(dataset, (InputTag("mlflow.data.context", "training"),))]
    )
    client.log_inputs(
        run_id, datasets=[DatasetInput(dataset, (InputTag("mlflow.data.context", "training"),))]
    )
    inputs = client.get_run(run_id).inputs
    assert len(inputs.dataset_inputs) == 1
    assert inputs.dataset_inputs[0].dataset == dataset
    assert inputs.dataset_inputs[0].tags == (InputTag("mlflow.data.context", "training"),)

    client.log_batch(run_id, metrics=[Metric("acc", step / 100, 1_000 + step, step) for step in range(100)])
    sampled = client.get_metric_history_bulk_interval([run_id], "acc", max_results=5)
    assert [m.step for m in sampled] == [0, 24, 49, 74, 99]
    assert {m.run_id for m in sampled} == {run_id}
    window = client.get_metric_history_bulk_interval([run_id], "acc", start_step=10, end_step=12)
    assert [(m.step, m.value) for m in window] == [(10, 0.1), (11, 0.11), (12, 0.12)]


# --- errors --------------------------------------------------------------------------------------
def test_error_codes_are_the_same_on_every_transport(client: Client, unique: Unique) -> None:
    experiment_id, run = new_run(client, unique)
    run_id = run.info.run_id
    client.log_param(run_id, "lr", "0.1")
    deleted_experiment = client.create_experiment(unique("deleted"))
    client.delete_experiment(deleted_experiment)
    taken = client.get_experiment(experiment_id).name

    cases: dict[str, Callable[[], object]] = {
        "missing run": lambda: client.get_run("0" * 32),
        "missing experiment": lambda: client.get_experiment("987654321"),
        "duplicate experiment": lambda: client.create_experiment(taken),
        "param changed": lambda: client.log_param(run_id, "lr", "0.2"),
        "missing tag": lambda: client.delete_tag(run_id, "absent"),
        "rename deleted": lambda: client.rename_experiment(deleted_experiment, unique("x")),
        "bad page size": lambda: client.search_experiments(max_results=0),
        "bad filter": lambda: client.search_runs([experiment_id], "metrics.rmse <<< 1"),
    }
    seen = {label: (e.error_code, e.http_status) for label, e in ((k, error_of(c)) for k, c in cases.items())}
    assert seen == {
        "missing run": ("RESOURCE_DOES_NOT_EXIST", 404),
        "missing experiment": ("RESOURCE_DOES_NOT_EXIST", 404),
        "duplicate experiment": ("RESOURCE_ALREADY_EXISTS", 400),
        "param changed": ("INVALID_PARAMETER_VALUE", 400),
        "missing tag": ("RESOURCE_DOES_NOT_EXIST", 404),
        "rename deleted": ("INVALID_PARAMETER_VALUE", 400),
        "bad page size": ("INVALID_PARAMETER_VALUE", 400),
        "bad filter": ("INVALID_PARAMETER_VALUE", 400),
    }
    message = error_of(cases["missing run"]).message
    assert "0" * 32 in message
    assert str(error_of(cases["missing run"])).startswith("RESOURCE_DOES_NOT_EXIST: ")


def test_client_opens_its_transport_lazily_and_closes(tracking_uri: str) -> None:
    client = Client(tracking_uri)
    assert client.tracking_uri == tracking_uri
    assert client.get_experiment("0").name == "Default"
    client.close()
    error = error_of(lambda: client.get_experiment("0"))
    assert (error.error_code, error.message) == ("INVALID_STATE", "The client is closed")


def test_unreachable_server_fails_only_when_called() -> None:
    from polytrack._transport.base import RetryPolicy
    from polytrack._transport.rest import RestTransport

    client = Client(
        "http://127.0.0.1:1", transport=RestTransport("http://127.0.0.1:1", retry=RetryPolicy.never())
    )
    error = error_of(lambda: client.get_experiment("0"))
    assert error.error_code == "TEMPORARILY_UNAVAILABLE" and error.http_status is None
    assert "127.0.0.1:1" in error.message
    client.close()
