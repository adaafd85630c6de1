"""LogBatch's `metric_columns`: the packed form of metric points, checked and stored exactly like
`metrics`."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from polytrack.v1 import tracking_pb2 as pb
from polytrack.v1 import tracking_service_pb2 as api
from polytrack_server.errors import InvalidParameter
from polytrack_server.services.tracking import TrackingServicer
from polytrack_server.store.engine import create_engine_for
from polytrack_server.store.migrations import upgrade_database
from polytrack_server.store.tracking import SqlTrackingStore

MAX_DOUBLE = 1.7976931348623157e308


@pytest.fixture
def servicer(tmp_path: Path) -> Iterator[TrackingServicer]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade_database(engine)
    yield TrackingServicer(SqlTrackingStore(engine, "mlflow-artifacts:/"))
    engine.dispose()


@pytest.fixture
def run_id(servicer: TrackingServicer) -> str:
    experiment_id = servicer.create_experiment(
        api.CreateExperimentRequest(name=uuid.uuid4().hex)
    ).experiment_id
    return servicer.create_run(api.CreateRunRequest(experiment_id=experiment_id)).run.info.run_id


def _history(servicer: TrackingServicer, run_id: str, key: str) -> list[tuple[float, int, int]]:
    response = servicer.get_metric_history(api.GetMetricHistoryRequest(run_id=run_id, metric_key=key))
    return [(metric.value, metric.timestamp, metric.step) for metric in response.metrics]


def _columns(**fields: object) -> pb.MetricColumns:
    return pb.MetricColumns(**fields)  # type: ignore[arg-type]


def test_columns_are_logged_like_metric_messages(servicer: TrackingServicer, run_id: str) -> None:
    columns = _columns(
        keys=["loss", "acc"],
        key_indexes=[0, 1, 0, 1, 0],
        values=[0.9, 0.1, 0.5, 0.6, 0.25],
        timestamps=[10, 10, 20, 20, 30],
        steps=[0, 0, 1, 1, 2],
    )
    servicer.log_batch(api.LogBatchRequest(run_id=run_id, metric_columns=columns))
    assert _history(servicer, run_id, "loss") == [(0.9, 10, 0), (0.5, 20, 1), (0.25, 30, 2)]
    assert _history(servicer, run_id, "acc") == [(0.1, 10, 0), (0.6, 20, 1)]
    latest = {m.key: m.value for m in servicer.get_run(api.GetRunRequest(run_id=run_id)).run.data.metrics}
    assert latest == {"loss": 0.25, "acc": 0.6}


def test_columns_and_messages_in_one_batch_are_both_logged(servicer: TrackingServicer, run_id: str) -> None:
    request = api.LogBatchRequest(
        run_id=run_id,
        metrics=[pb.Metric(key="m", value=1.0, timestamp=5, step=1)],
        metric_columns=_columns(
            keys=["m"], key_indexes=[0, 0], values=[2.0, 1.0], timestamps=[6, 5], steps=[2, 1]
        ),
    )
    servicer.log_batch(request)
    # The duplicate of the message's point collapses; the rest is in history order.
    assert _history(servicer, run_id, "m") == [(1.0, 5, 1), (2.0, 6, 2)]


def test_non_finite_and_unordered_column_values(servicer: TrackingServicer, run_id: str) -> None:
    columns = _columns(
        keys=["m"],
        key_indexes=[0, 0, 0, 0],
        values=[math.inf, math.nan, -math.inf, 3.0],
        timestamps=[4, 3, 2, 2],
        steps=[0, 0, 0, 0],
    )
    servicer.log_batch(api.LogBatchRequest(run_id=run_id, metric_columns=columns))
    history = _history(servicer, run_id, "m")
    assert [(t, s) for _, t, s in history] == [(2, 0), (2, 0), (3, 0), (4, 0)]
    assert [history[0][0], history[1][0], history[3][0]] == [-MAX_DOUBLE, 3.0, MAX_DOUBLE]
    assert math.isnan(history[2][0])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"keys": ["m"], "key_indexes": [0], "values": [1.0, 2.0], "timestamps": [1, 2], "steps": [0, 1]},
            "metric_columns.key_indexes has 1 entries but metric_columns.values has 2",
        ),
        (
            {"keys": ["m"], "key_indexes": [0, 0], "values": [1.0, 2.0], "timestamps": [1], "steps": [0, 1]},
            "metric_columns.timestamps has 1 entries",
        ),
        (
            {"keys": ["m"], "key_indexes": [0, 0], "values": [1.0, 2.0], "timestamps": [1, 2], "steps": []},
            "metric_columns.steps has 0 entries",
        ),
        (
            {
                "keys": ["m"],
                "key_indexes": [0, 1],
                "values": [1.0, 2.0],
                "timestamps": [1, 2],
                "steps": [0, 1],
            },
            "refers to key position 1, but metric_columns.keys has 1 keys",
        ),
        (
            {"keys": ["../up"], "key_indexes": [0], "values": [1.0], "timestamps": [1], "steps": [0]},
            "Invalid metric name",
        ),
        (
            {"keys": ["m"], "key_indexes": [0], "values": [1.0], "timestamps": [-1], "steps": [0]},
            "Invalid timestamp -1",
        ),
    ],
)
def test_bad_columns_name_the_problem_and_write_nothing(
    servicer: TrackingServicer, run_id: str, columns: dict[str, object], message: str
) -> None:
    request = api.LogBatchRequest(
        run_id=run_id,
        params=[pb.Param(key="p", value="v")],
        metric_columns=_columns(**columns),
    )
    with pytest.raises(InvalidParameter, match=message):
        servicer.log_batch(request)
    assert not servicer.get_run(api.GetRunRequest(run_id=run_id)).run.data.params


def test_column_points_count_toward_the_batch_limit(servicer: TrackingServicer, run_id: str) -> None:
    count = 600
    columns = _columns(
        keys=["m"], key_indexes=[0] * count, values=[1.0] * count, timestamps=range(count), steps=[0] * count
    )
    metrics = [pb.Metric(key="n", value=1.0, timestamp=i, step=0) for i in range(401)]
    with pytest.raises(InvalidParameter, match="at most 1000 metrics; got 1001"):
        servicer.log_batch(api.LogBatchRequest(run_id=run_id, metrics=metrics, metric_columns=columns))
    servicer.log_batch(api.LogBatchRequest(run_id=run_id, metrics=metrics[:400], metric_columns=columns))
    assert len(_history(servicer, run_id, "m")) == count


def test_empty_columns_are_nothing_to_log(servicer: TrackingServicer, run_id: str) -> None:
    servicer.log_batch(api.LogBatchRequest(run_id=run_id, metric_columns=_columns(keys=["m"])))
    assert _history(servicer, run_id, "m") == []
