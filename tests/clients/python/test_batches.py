"""LogBatch requests built from queued items: the columnar form sent to servers known to be
polytrack, and which transports may receive it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from polytrack._batches import METRIC, PARAM, TAG, Item, LogRequest, columnar_request
from polytrack.client import Client


def test_points_go_to_columns_keyed_by_first_appearance_and_linked_points_stay_messages() -> None:
    request = LogRequest(
        "r1",
        metrics=[
            Item("r1", METRIC, "loss", 0.5, 1000, 1),
            Item("r1", METRIC, "acc", 0.25, 1001, 1),
            Item("r1", METRIC, "loss", math.nan, 1002, -(2**40)),
            Item("r1", METRIC, "loss", 0.1, 1003, 3, model_id="m-1"),
            Item("r1", METRIC, "acc", math.inf, 1004, 4, dataset_name="d", dataset_digest="x1"),
        ],
        params=[Item("r1", PARAM, "alpha", "0.5")],
        tags=[Item("r1", TAG, "team", "ml")],
    )
    built = columnar_request(request)
    assert built.run_id == "r1"
    columns = built.metric_columns
    assert list(columns.keys) == ["loss", "acc"]
    assert list(columns.key_indexes) == [0, 1, 0]
    assert columns.values[:2] == [0.5, 0.25] and math.isnan(columns.values[2])
    assert list(columns.timestamps) == [1000, 1001, 1002]
    assert list(columns.steps) == [1, 1, -(2**40)]
    assert [(m.key, m.step, m.model_id, m.dataset_name) for m in built.metrics] == [
        ("loss", 3, "m-1", ""),
        ("acc", 4, "", "d"),
    ]
    assert [(p.key, p.value) for p in built.params] == [("alpha", "0.5")]
    assert [(t.key, t.value) for t in built.tags] == [("team", "ml")]


def test_a_request_without_plain_points_has_no_columns() -> None:
    built = columnar_request(LogRequest("r1", params=[Item("r1", PARAM, "a", "1")]))
    assert not built.HasField("metric_columns") and not built.metrics


def test_only_transports_certain_to_reach_polytrack_accept_columns(tmp_path: Path) -> None:
    # REST may be talking to MLflow, which would drop a field it does not know: never columns.
    assert Client("http://127.0.0.1:9").accepts_metric_columns is False
    assert Client("grpc://127.0.0.1:9").accepts_metric_columns is True
    with Client(f"sqlite:///{tmp_path}/t.db") as embedded:
        assert embedded.accepts_metric_columns is True


@pytest.mark.parametrize("transport_name", ["grpc", "embedded-sqlite"])
def test_queued_points_sent_as_columns_read_back_exactly(tracking_uri: str) -> None:
    with Client(tracking_uri) as client:
        run_id = client.create_run(
            client.create_experiment(f"columns-{tracking_uri[-12:]}-{id(client)}")
        ).info.run_id
        request = LogRequest(
            run_id,
            metrics=[
                Item(run_id, METRIC, "loss", 1 / (step + 1), 1_700_000_000_000 + step, step)
                for step in range(5)
            ]
            + [Item(run_id, METRIC, "loss", 9.0, 1_700_000_000_999, 9, model_id=None)],
            params=[Item(run_id, PARAM, "alpha", "0.5")],
        )
        client.send_log_batch(columnar_request(request))
        history = client.get_metric_history(run_id, "loss")
        assert [(m.step, m.value, m.timestamp) for m in history] == [
            (step, 1 / (step + 1), 1_700_000_000_000 + step) for step in range(5)
        ] + [(9, 9.0, 1_700_000_000_999)]
        assert client.get_run(run_id).data.params == {"alpha": "0.5"}
