"""TrackingServicer over a real SQLite store: request rules, defaults and what reaches storage."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.services.tracking import TrackingServicer
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.migrations import upgrade_database
from polytrack_server.store.tracking import SqlTrackingStore


@pytest.fixture
def servicer(tmp_path: Path) -> Iterator[TrackingServicer]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade_database(engine)
    yield TrackingServicer(SqlTrackingStore(engine, "mlflow-artifacts:/"))
    engine.dispose()


def _experiment(servicer: TrackingServicer, name: str = "exp") -> str:
    return servicer.create_experiment(api.CreateExperimentRequest(name=name)).experiment_id


def _run(servicer: TrackingServicer, **fields: object) -> pb.Run:
    experiment_id = _experiment(servicer, f"exp-{uuid.uuid4().hex}")
    return servicer.create_run(api.CreateRunRequest(experiment_id=experiment_id, **fields)).run


def test_experiment_gets_default_artifact_location(servicer: TrackingServicer) -> None:
    experiment_id = _experiment(servicer)
    experiment = servicer.get_experiment(api.GetExperimentRequest(experiment_id=experiment_id)).experiment
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert experiment.lifecycle_stage == "active"


def test_blank_experiment_name_is_rejected(servicer: TrackingServicer) -> None:
    with pytest.raises(InvalidParameter, match="'name'"):
        servicer.create_experiment(api.CreateExperimentRequest(name=""))
    with pytest.raises(InvalidParameter, match="blank"):
        servicer.create_experiment(api.CreateExperimentRequest(name="   "))


def test_search_experiments_requires_max_results(servicer: TrackingServicer) -> None:
    with pytest.raises(InvalidParameter, match="max_results"):
        servicer.search_experiments(api.SearchExperimentsRequest())
    with pytest.raises(InvalidParameter, match="between 1 and 50000"):
        servicer.search_experiments(api.SearchExperimentsRequest(max_results=50001))
    found = servicer.search_experiments(api.SearchExperimentsRequest(max_results=10)).experiments
    assert [e.name for e in found] == ["Default"]


def test_run_name_comes_from_request_then_tag_then_generator(servicer: TrackingServicer) -> None:
    assert _run(servicer, run_name="given").info.run_name == "given"
    tagged = _run(servicer, tags=[pb.RunTag(key="mlflow.runName", value="from-tag")])
    assert tagged.info.run_name == "from-tag"
    generated = _run(servicer)
    assert generated.info.run_name.count("-") == 2
    tags = {t.key: t.value for t in generated.data.tags}
    assert tags["mlflow.runName"] == generated.info.run_name


def test_conflicting_run_name_and_tag_are_rejected(servicer: TrackingServicer) -> None:
    with pytest.raises(InvalidParameter, match="different values"):
        _run(servicer, run_name="a", tags=[pb.RunTag(key="mlflow.runName", value="b")])


def test_create_run_requires_an_experiment(servicer: TrackingServicer) -> None:
    with pytest.raises(InvalidParameter, match="experiment_id"):
        servicer.create_run(api.CreateRunRequest())
    with pytest.raises(NotFound):
        servicer.create_run(api.CreateRunRequest(experiment_id="424242"))


def test_log_metric_requires_value_and_timestamp(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    with pytest.raises(InvalidParameter, match="'value'"):
        servicer.log_metric(api.LogMetricRequest(run_id=run_id, key="m", timestamp=1))
    with pytest.raises(InvalidParameter, match="'timestamp'"):
        servicer.log_metric(api.LogMetricRequest(run_id=run_id, key="m", value=1.0))
    with pytest.raises(InvalidParameter, match="negative"):
        servicer.log_metric(api.LogMetricRequest(run_id=run_id, key="m", value=1.0, timestamp=-5))


def test_run_uuid_is_accepted_as_run_id(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    servicer.log_metric(api.LogMetricRequest(run_uuid=run_id, key="m", value=2.0, timestamp=5, step=1))
    run = servicer.get_run(api.GetRunRequest(run_uuid=run_id)).run
    assert [(m.key, m.value, m.step) for m in run.data.metrics] == [("m", 2.0, 1)]


def test_infinite_metrics_are_clamped_and_nan_kept(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    for key, value in (("inf", math.inf), ("ninf", -math.inf), ("nan", math.nan)):
        servicer.log_metric(api.LogMetricRequest(run_id=run_id, key=key, value=value, timestamp=1))
    metrics = {m.key: m.value for m in servicer.get_run(api.GetRunRequest(run_id=run_id)).run.data.metrics}
    assert metrics["inf"] == 1.7976931348623157e308
    assert metrics["ninf"] == -1.7976931348623157e308
    assert math.isnan(metrics["nan"])


def test_long_param_and_tag_values_are_truncated(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    servicer.log_param(api.LogParamRequest(run_id=run_id, key="p", value="x" * 7000))
    servicer.set_tag(api.SetTagRequest(run_id=run_id, key="t", value="y" * 9000))
    run = servicer.get_run(api.GetRunRequest(run_id=run_id)).run
    assert [len(p.value) for p in run.data.params] == [6000]
    assert len({t.key: t.value for t in run.data.tags}["t"]) == 8000


def test_missing_param_value_means_empty(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    servicer.log_param(api.LogParamRequest(run_id=run_id, key="p"))
    run = servicer.get_run(api.GetRunRequest(run_id=run_id)).run
    assert [(p.key, p.value) for p in run.data.params] == [("p", "")]


def test_log_batch_limits_and_duplicates_write_nothing(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    too_many = [pb.Metric(key="m", value=1.0, timestamp=1, step=i) for i in range(1001)]
    with pytest.raises(InvalidParameter, match="at most 1000 metrics"):
        servicer.log_batch(api.LogBatchRequest(run_id=run_id, metrics=too_many))
    duplicate = [pb.Param(key="p", value="1"), pb.Param(key="p", value="2")]
    with pytest.raises(InvalidParameter, match="Duplicate param keys"):
        servicer.log_batch(api.LogBatchRequest(run_id=run_id, metrics=too_many[:5], params=duplicate))
    run = servicer.get_run(api.GetRunRequest(run_id=run_id)).run
    assert list(run.data.metrics) == []
    assert list(run.data.params) == []


def test_log_batch_rejects_malformed_run_id(servicer: TrackingServicer) -> None:
    with pytest.raises(InvalidParameter, match="run_id"):
        servicer.log_batch(api.LogBatchRequest(run_id="../../etc"))


def test_update_run_changes_only_given_fields(servicer: TrackingServicer) -> None:
    run = _run(servicer, run_name="before", start_time=10)
    info = servicer.update_run(api.UpdateRunRequest(run_id=run.info.run_id, status=pb.FINISHED)).run_info
    assert info.status == pb.FINISHED
    assert info.run_name == "before"
    assert not info.HasField("end_time")
    info = servicer.update_run(api.UpdateRunRequest(run_id=run.info.run_id, end_time=20, run_name="after"))
    assert (info.run_info.end_time, info.run_info.run_name) == (20, "after")
    tags = {t.key: t.value for t in servicer.get_run(api.GetRunRequest(run_id=run.info.run_id)).run.data.tags}
    assert tags["mlflow.runName"] == "after"


def test_search_runs_without_experiments_is_empty(servicer: TrackingServicer) -> None:
    _run(servicer)
    assert list(servicer.search_runs(api.SearchRunsRequest()).runs) == []
    with pytest.raises(InvalidParameter, match="max_results"):
        servicer.search_runs(api.SearchRunsRequest(experiment_ids=["0"], max_results=0))


def test_metric_history_paging_arguments(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    for step in range(5):
        servicer.log_metric(
            api.LogMetricRequest(run_id=run_id, key="m", value=step, timestamp=step, step=step)
        )
    whole = servicer.get_metric_history(api.GetMetricHistoryRequest(run_id=run_id, metric_key="m"))
    assert [m.step for m in whole.metrics] == [0, 1, 2, 3, 4]
    assert not whole.HasField("next_page_token")
    first = servicer.get_metric_history(
        api.GetMetricHistoryRequest(run_id=run_id, metric_key="m", max_results=3)
    )
    assert [m.step for m in first.metrics] == [0, 1, 2]
    rest = servicer.get_metric_history(
        api.GetMetricHistoryRequest(
            run_id=run_id, metric_key="m", max_results=3, page_token=first.next_page_token
        )
    )
    assert [m.step for m in rest.metrics] == [3, 4]
    with pytest.raises(InvalidParameter, match="max_results"):
        servicer.get_metric_history(api.GetMetricHistoryRequest(run_id=run_id, metric_key="m", max_results=0))


def test_bulk_interval_argument_rules(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    request = api.GetMetricHistoryBulkIntervalRequest
    with pytest.raises(InvalidParameter, match="run_ids"):
        servicer.get_metric_history_bulk_interval(request(metric_key="m"))
    with pytest.raises(InvalidParameter, match="at most 100"):
        servicer.get_metric_history_bulk_interval(request(run_ids=["a"] * 101, metric_key="m"))
    with pytest.raises(InvalidParameter, match="or neither"):
        servicer.get_metric_history_bulk_interval(request(run_ids=[run_id], metric_key="m", start_step=1))
    with pytest.raises(InvalidParameter, match="greater than or equal"):
        servicer.get_metric_history_bulk_interval(
            request(run_ids=[run_id], metric_key="m", start_step=5, end_step=1)
        )
    with pytest.raises(InvalidParameter, match="between 1 and 2500"):
        servicer.get_metric_history_bulk_interval(request(run_ids=[run_id], metric_key="m", max_results=2501))
    for step in range(10):
        servicer.log_metric(api.LogMetricRequest(run_id=run_id, key="m", value=step, timestamp=1, step=step))
    points = servicer.get_metric_history_bulk_interval(
        request(run_ids=[run_id], metric_key="m", start_step=2, end_step=6)
    ).metrics
    assert [p.step for p in points] == [2, 3, 4, 5, 6]
    assert {p.run_id for p in points} == {run_id}


def test_experiment_tag_value_limit(servicer: TrackingServicer) -> None:
    experiment_id = _experiment(servicer)
    with pytest.raises(InvalidParameter, match="20000"):
        servicer.set_experiment_tag(
            api.SetExperimentTagRequest(experiment_id=experiment_id, key="k", value="v" * 20001)
        )


def test_log_inputs_validates_dataset_fields(servicer: TrackingServicer) -> None:
    run_id = _run(servicer).info.run_id
    dataset = pb.DatasetInput(dataset=pb.Dataset(name="d", digest="x" * 37, source_type="local", source="{}"))
    with pytest.raises(InvalidParameter, match="digest"):
        servicer.log_inputs(api.LogInputsRequest(run_id=run_id, datasets=[dataset]))
    dataset.dataset.digest = "abc"
    dataset.tags.add(key="mlflow.data.context", value="training")
    servicer.log_inputs(api.LogInputsRequest(run_id=run_id, datasets=[dataset]))
    inputs = servicer.get_run(api.GetRunRequest(run_id=run_id)).run.inputs
    assert [d.dataset.name for d in inputs.dataset_inputs] == ["d"]
