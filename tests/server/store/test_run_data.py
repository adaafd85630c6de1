from __future__ import annotations

import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.store.interface import MetricPoint

MAX = sys.float_info.max


def metric_messages(page) -> list[pb.Metric]:
    """A history page's plain values as messages."""
    return [pb.Metric(**metric) for metric in page.items]


def latest(store, run_id: str) -> dict[str, tuple[float, int, int]]:
    return {
        metric.key: (metric.value, metric.timestamp, metric.step)
        for metric in store.get_run(run_id).data.metrics
    }


def history(store, run_id: str, key: str) -> list[tuple[float, int, int]]:
    return [
        (metric.value, metric.timestamp, metric.step)
        for metric in metric_messages(store.get_metric_history(run_id, key, None, None))
    ]


def params_of(store, run_id: str) -> dict[str, str]:
    return {param.key: param.value for param in store.get_run(run_id).data.params}


def tags_of(store, run_id: str) -> dict[str, str]:
    return {tag.key: tag.value for tag in store.get_run(run_id).data.tags}


def log_metric(store, run_id: str, key: str, value: float, timestamp: int, step: int = 0) -> None:
    store.log_batch(run_id, [MetricPoint(key, value, timestamp, step)], [], [])


# --- metrics -------------------------------------------------------------------------------------
def test_exact_duplicates_are_stored_once(store, run_id):
    point = MetricPoint("m", 1.5, 10, 2)
    store.log_batch(run_id, [point, point], [], [])
    store.log_batch(run_id, [point], [], [])
    assert history(store, run_id, "m") == [(1.5, 10, 2)]


def test_points_differing_in_one_field_are_all_kept(store, run_id):
    points = [MetricPoint("m", 1.0, 10, 0), MetricPoint("m", 2.0, 10, 0), MetricPoint("m", 1.0, 11, 0)]
    store.log_batch(run_id, [*points, MetricPoint("m", 1.0, 10, 1)], [], [])
    assert len(history(store, run_id, "m")) == 4


def test_latest_follows_step_then_timestamp_then_value(store, run_id):
    log_metric(store, run_id, "m", 5.0, timestamp=100, step=2)
    log_metric(store, run_id, "m", 9.0, timestamp=200, step=1)  # earlier step: not latest
    assert latest(store, run_id)["m"] == (5.0, 100, 2)
    log_metric(store, run_id, "m", 1.0, timestamp=101, step=2)  # same step, later time
    assert latest(store, run_id)["m"] == (1.0, 101, 2)
    log_metric(store, run_id, "m", 0.5, timestamp=101, step=2)  # same step and time, lower value
    assert latest(store, run_id)["m"] == (1.0, 101, 2)
    log_metric(store, run_id, "m", 3.0, timestamp=101, step=2)  # same step and time, higher value
    assert latest(store, run_id)["m"] == (3.0, 101, 2)
    log_metric(store, run_id, "m", -7.0, timestamp=0, step=3)  # later step wins whatever else
    assert latest(store, run_id)["m"] == (-7.0, 0, 3)


def test_latest_within_one_batch_and_per_key(store, run_id):
    store.log_batch(
        run_id,
        [
            MetricPoint("a", 1.0, 5, 1),
            MetricPoint("a", 2.0, 4, 3),
            MetricPoint("a", 3.0, 6, 2),
            MetricPoint("b", 4.0, 1, 0),
        ],
        [],
        [],
    )
    assert latest(store, run_id) == {"a": (2.0, 4, 3), "b": (4.0, 1, 0)}


def test_nan_ranks_below_numbers_at_the_same_step_and_time(store, run_id):
    log_metric(store, run_id, "m", float("nan"), timestamp=10, step=1)
    value, timestamp, step = latest(store, run_id)["m"]
    assert math.isnan(value) and (timestamp, step) == (10, 1)
    log_metric(store, run_id, "m", -1e300, timestamp=10, step=1)
    assert latest(store, run_id)["m"] == (-1e300, 10, 1)
    log_metric(store, run_id, "m", float("nan"), timestamp=10, step=1)
    assert latest(store, run_id)["m"] == (-1e300, 10, 1)


def test_nan_at_a_later_step_is_latest(store, run_id):
    log_metric(store, run_id, "m", 1.0, timestamp=10, step=1)
    log_metric(store, run_id, "m", float("nan"), timestamp=10, step=2)
    assert math.isnan(latest(store, run_id)["m"][0])


def test_nan_and_zero_are_distinct_measurements(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", 0.0, 1, 0), MetricPoint("m", float("nan"), 1, 0)], [], [])
    values = [value for value, _, _ in history(store, run_id, "m")]
    assert len(values) == 2
    assert sum(math.isnan(value) for value in values) == 1
    assert 0.0 in values


def test_infinities_are_stored_as_the_largest_doubles(store, run_id):
    store.log_batch(run_id, [MetricPoint("up", math.inf, 1, 0), MetricPoint("down", -math.inf, 1, 0)], [], [])
    assert latest(store, run_id) == {"up": (MAX, 1, 0), "down": (-MAX, 1, 0)}
    assert history(store, run_id, "up") == [(MAX, 1, 0)]
    log_metric(store, run_id, "up", math.inf, 1, 0)  # the same point again: a duplicate
    assert history(store, run_id, "up") == [(MAX, 1, 0)]


def test_negative_steps_and_large_values(store, run_id):
    log_metric(store, run_id, "m", 1e-300, timestamp=2**40, step=-(2**62))
    assert history(store, run_id, "m") == [(1e-300, 2**40, -(2**62))]


def test_metric_dataset_and_model_fields_round_trip(store, run_id):
    store.log_batch(
        run_id,
        [MetricPoint("m", 1.0, 1, 0, model_id="m-1", dataset_name="train", dataset_digest="abc")],
        [],
        [],
    )
    (metric,) = metric_messages(store.get_metric_history(run_id, "m", None, None))
    assert (metric.model_id, metric.dataset_name, metric.dataset_digest) == ("m-1", "train", "abc")


# --- params --------------------------------------------------------------------------------------
def test_params_are_immutable(store, run_id):
    store.log_batch(run_id, [], [("lr", "0.1")], [])
    store.log_batch(run_id, [], [("lr", "0.1")], [])  # same value: fine
    with pytest.raises(InvalidParameter, match="Changing param values is not allowed") as error:
        store.log_batch(run_id, [], [("lr", "0.2")], [])
    assert "'lr'" in error.value.message and "'0.1'" in error.value.message and "'0.2'" in error.value.message
    assert params_of(store, run_id) == {"lr": "0.1"}


def test_param_change_inside_a_larger_batch(store, run_id):
    store.log_batch(run_id, [], [("a", "1")], [])
    with pytest.raises(InvalidParameter, match="'a'"):
        store.log_batch(run_id, [], [("b", "2"), ("a", "9"), ("c", "3")], [])
    assert params_of(store, run_id) == {"a": "1"}


def test_one_key_twice_in_a_batch(store, run_id):
    store.log_batch(run_id, [], [("a", "1"), ("a", "1")], [])
    assert params_of(store, run_id) == {"a": "1"}
    with pytest.raises(InvalidParameter, match="twice"):
        store.log_batch(run_id, [], [("b", "1"), ("b", "2")], [])


def test_empty_param_value(store, run_id):
    store.log_batch(run_id, [], [("empty", "")], [])
    assert params_of(store, run_id) == {"empty": ""}


# --- atomicity -----------------------------------------------------------------------------------
def test_a_failing_batch_writes_nothing(store, run_id):
    store.log_batch(run_id, [], [("fixed", "1")], [])
    with pytest.raises(InvalidParameter):
        store.log_batch(
            run_id,
            [MetricPoint("m", 1.0, 1, 0)],
            [("new", "x"), ("fixed", "2")],
            [("t", "v"), ("mlflow.runName", "renamed")],
        )
    run = store.get_run(run_id)
    assert list(run.data.metrics) == []
    assert params_of(store, run_id) == {"fixed": "1"}
    assert "t" not in tags_of(store, run_id)
    assert run.info.run_name != "renamed"
    assert history(store, run_id, "m") == []


# --- tags ----------------------------------------------------------------------------------------
def test_tags_upsert(store, run_id):
    store.set_tag(run_id, "t", "1")
    store.set_tag(run_id, "t", "2")
    store.log_batch(run_id, [], [], [("u", "a"), ("u", "b")])
    tags = tags_of(store, run_id)
    assert (tags["t"], tags["u"]) == ("2", "b")


def test_run_name_tag_renames_the_run(store, run_id):
    store.set_tag(run_id, "mlflow.runName", "via-set-tag")
    assert store.get_run(run_id).info.run_name == "via-set-tag"
    store.log_batch(run_id, [], [], [("x", "y"), ("mlflow.runName", "via-batch")])
    run = store.get_run(run_id)
    assert run.info.run_name == "via-batch"
    assert tags_of(store, run_id)["mlflow.runName"] == "via-batch"


def test_delete_tag(store, run_id):
    store.set_tag(run_id, "t", "v")
    store.delete_tag(run_id, "t")
    assert "t" not in tags_of(store, run_id)
    with pytest.raises(NotFound, match="'t'"):
        store.delete_tag(run_id, "t")


def test_writes_to_unknown_runs(store):
    unknown = "b" * 32
    for write in (
        lambda: store.log_batch(unknown, [MetricPoint("m", 1.0, 1, 0)], [], []),
        lambda: store.set_tag(unknown, "t", "v"),
        lambda: store.delete_tag(unknown, "t"),
        lambda: store.log_inputs(unknown, [], ["m"]),
    ):
        with pytest.raises(NotFound, match=unknown):
            write()


def test_empty_batch_still_checks_the_run(store, run_id):
    store.log_batch(run_id, [], [], [])
    with pytest.raises(NotFound):
        store.log_batch("c" * 32, [], [], [])


# --- inputs --------------------------------------------------------------------------------------
def dataset_input(name: str, digest: str, context: str | None = None, **fields: str) -> pb.DatasetInput:
    tags = [pb.InputTag(key="mlflow.data.context", value=context)] if context else []
    return pb.DatasetInput(
        dataset=pb.Dataset(name=name, digest=digest, source_type="local", source="{}", **fields), tags=tags
    )


def test_log_inputs_links_datasets_with_tags(store, run_id):
    first = dataset_input("train", "d1", "training", schema='{"a": 1}', profile='{"rows": 3}')
    second = dataset_input("eval", "d2")
    store.log_inputs(run_id, [first, second], [])
    inputs = store.get_run(run_id).inputs
    assert list(inputs.dataset_inputs) == [second, first]  # ordered by dataset name


def test_optional_dataset_fields_stay_unset(store, run_id):
    store.log_inputs(run_id, [dataset_input("d", "x")], [])
    (stored,) = store.get_run(run_id).inputs.dataset_inputs
    assert not stored.dataset.HasField("schema")
    assert not stored.dataset.HasField("profile")


def test_same_dataset_twice_is_linked_once(store, run_id):
    store.log_inputs(run_id, [dataset_input("d", "x", "training")], [])
    store.log_inputs(run_id, [dataset_input("d", "x", "eval"), dataset_input("d", "x")], [])
    (stored,) = store.get_run(run_id).inputs.dataset_inputs
    assert [(tag.key, tag.value) for tag in stored.tags] == [("mlflow.data.context", "training")]


def test_datasets_are_shared_within_an_experiment(store, engine, make_run):
    first, second = make_run().info.run_id, make_run().info.run_id
    store.log_inputs(first, [dataset_input("d", "x", "training")], [])
    store.log_inputs(second, [dataset_input("d", "x", "eval"), dataset_input("d", "y")], [])
    with engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM datasets").scalar()
    assert count == 2
    contexts = [
        [(tag.value) for tag in stored.tags] for stored in store.get_run(second).inputs.dataset_inputs
    ]
    assert contexts == [["eval"], []]


def test_model_inputs_are_deduplicated(store, run_id):
    store.log_inputs(run_id, [], ["m-1", "m-2", "m-1"])
    store.log_inputs(run_id, [], ["m-2"])
    models = sorted(model.model_id for model in store.get_run(run_id).inputs.model_inputs)
    assert models == ["m-1", "m-2"]


# --- the latest-metric rule, on random histories -------------------------------------------------
@pytest.fixture(scope="module")
def module_experiment(module_store):
    return module_store, module_store.create_experiment("random-histories", None, [])


values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, float("nan"), math.inf, -math.inf, MAX]),
)
points = st.builds(
    MetricPoint,
    key=st.sampled_from(["a", "b"]),
    value=values,
    timestamp=st.integers(0, 3),
    step=st.integers(-1, 2),
    model_id=st.none(),
    dataset_name=st.none(),
    dataset_digest=st.none(),
)


def stored(value: float) -> tuple[float, bool]:
    if math.isnan(value):
        return 0.0, True
    return max(-MAX, min(MAX, value)), False


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.lists(points, min_size=1, max_size=6), min_size=1, max_size=4))
def test_latest_and_dedup_hold_for_any_history(module_experiment, batches):
    store, experiment_id = module_experiment
    run_id = store.create_run(experiment_id, "u", "r", 0, []).info.run_id
    for batch in batches:
        store.log_batch(run_id, batch, [], [])
    logged = [point for batch in batches for point in batch]
    for key in {point.key for point in logged}:
        mine = [point for point in logged if point.key == key]
        expected = max(
            (point.step, point.timestamp, not stored(point.value)[1], stored(point.value)[0])
            for point in mine
        )
        value, timestamp, step = latest(store, run_id)[key]
        assert (step, timestamp) == expected[:2]
        assert math.isnan(value) if not expected[2] else value == expected[3]
        distinct = {(point.timestamp, point.step, *stored(point.value)) for point in mine}
        assert len(metric_messages(store.get_metric_history(run_id, key, None, None))) == len(distinct)


def test_nul_characters_are_a_client_error(store, run_id):
    """SQLite stores NUL; PostgreSQL refuses it. Either way the client never sees a server error."""
    point = MetricPoint("m", 1.0, 1, 1, dataset_digest="a\x00b")
    try:
        store.log_batch(run_id, [point], [], [])
    except InvalidParameter as error:
        assert "NUL" in error.message
    else:
        history = metric_messages(store.get_metric_history(run_id, "m", None, None))
        assert [metric.dataset_digest for metric in history] == ["a\x00b"]
