from __future__ import annotations

import math
import sys

import pytest

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter
from polytrack_server.store.interface import MetricPoint
from polytrack_server.store.metrics import sample_evenly


def metrics_of(page) -> list[pb.Metric]:
    """A history page's plain values as the messages they stand for."""
    return [pb.Metric(**item) for item in page.items]


def triples(metrics) -> list[tuple[float, int, int]]:
    return [(metric.value, metric.timestamp, metric.step) for metric in metrics]


def test_history_is_ordered_by_timestamp_step_value(store, run_id):
    points = [
        MetricPoint("m", 3.0, 20, 0),
        MetricPoint("m", 2.0, 10, 5),
        MetricPoint("m", 1.0, 10, 5),
        MetricPoint("m", 9.0, 10, 1),
        MetricPoint("other", 0.0, 1, 0),
    ]
    store.log_batch(run_id, points, [], [])
    page = store.get_metric_history(run_id, "m", None, None)
    assert triples(metrics_of(page)) == [(9.0, 10, 1), (1.0, 10, 5), (2.0, 10, 5), (3.0, 20, 0)]
    assert {metric.key for metric in metrics_of(page)} == {"m"}
    assert page.next_page_token is None


def test_history_returns_nan(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float("nan"), 1, 0)], [], [])
    (metric,) = metrics_of(store.get_metric_history(run_id, "m", None, None))
    assert math.isnan(metric.value)
    assert not metric.HasField("model_id")


def test_unknown_run_or_key_is_an_empty_page(store, run_id):
    assert metrics_of(store.get_metric_history("f" * 32, "m", None, None)) == []
    assert metrics_of(store.get_metric_history(run_id, "missing", 10, None)) == []


def test_history_paging(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float(i), i, i) for i in range(25)], [], [])
    seen = []
    token = None
    tokens = 0
    while True:
        page = store.get_metric_history(run_id, "m", 10, token)
        seen += triples(metrics_of(page))
        if page.next_page_token is None:
            break
        token = page.next_page_token
        tokens += 1
    assert tokens == 2
    assert seen == [(float(i), i, i) for i in range(25)]


def test_history_exact_page_has_no_token(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float(i), i, 0) for i in range(10)], [], [])
    page = store.get_metric_history(run_id, "m", 10, None)
    assert len(page.items) == 10 and page.next_page_token is None


def test_history_token_without_max_results_skips_the_offset(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float(i), i, 0) for i in range(5)], [], [])
    token = store.get_metric_history(run_id, "m", 2, None).next_page_token
    assert len(metrics_of(store.get_metric_history(run_id, "m", None, token))) == 3


def test_history_rejects_bad_arguments(store, run_id):
    with pytest.raises(InvalidParameter, match="Invalid page token"):
        store.get_metric_history(run_id, "m", 10, "%%%")
    with pytest.raises(InvalidParameter, match="max_results"):
        store.get_metric_history(run_id, "m", 0, None)


@pytest.mark.parametrize(
    ("count", "max_results", "expected"),
    [
        (0, 5, []),
        (3, 5, [0, 1, 2]),
        (5, 5, [0, 1, 2, 3, 4]),
        (10, 1, [9]),
        (10, 2, [0, 9]),
        (10, 4, [0, 3, 6, 9]),
        (7, 3, [0, 3, 6]),
        (100, 6, [0, 19, 39, 59, 79, 99]),
    ],
)
def test_sample_evenly(count, max_results, expected):
    assert sample_evenly(count, max_results) == expected


@pytest.mark.parametrize("count", [2, 3, 10, 97, 1000])
@pytest.mark.parametrize("max_results", [2, 3, 7, 50])
def test_samples_are_distinct_sorted_and_keep_both_ends(count, max_results):
    indexes = sample_evenly(count, max_results)
    assert len(indexes) == min(count, max_results)
    assert indexes == sorted(set(indexes))
    assert indexes[0] == 0 and indexes[-1] == count - 1


def test_bulk_interval_samples_each_run_in_request_order(store, make_run):
    first, second, empty = (make_run().info.run_id for _ in range(3))
    store.log_batch(first, [MetricPoint("m", float(step), 100 + step, step) for step in range(10)], [], [])
    store.log_batch(second, [MetricPoint("m", -1.0, 5, 3), MetricPoint("other", 0.0, 1, 1)], [], [])
    sampled = store.get_metric_history_bulk_interval([second, empty, first, second], "m", None, None, 4)
    assert [(metric.run_id, metric.step) for metric in sampled] == [
        (second, 3),
        (first, 0),
        (first, 3),
        (first, 6),
        (first, 9),
    ]
    assert all(metric.key == "m" for metric in sampled)
    assert (sampled[0].value, sampled[0].timestamp) == (-1.0, 5)


def test_bulk_interval_orders_by_step_then_timestamp_then_value(store, run_id):
    store.log_batch(
        run_id,
        [MetricPoint("m", 2.0, 1, 1), MetricPoint("m", 1.0, 1, 1), MetricPoint("m", 0.0, 9, 0)],
        [],
        [],
    )
    sampled = store.get_metric_history_bulk_interval([run_id], "m", None, None, 10)
    assert triples(sampled) == [(0.0, 9, 0), (1.0, 1, 1), (2.0, 1, 1)]


def test_bulk_interval_step_range_and_single_result(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float(step), step, step) for step in range(20)], [], [])
    sampled = store.get_metric_history_bulk_interval([run_id], "m", 5, 9, 100)
    assert [metric.step for metric in sampled] == [5, 6, 7, 8, 9]
    only_last = store.get_metric_history_bulk_interval([run_id], "m", 5, 9, 1)
    assert [metric.step for metric in only_last] == [9]
    from_start = store.get_metric_history_bulk_interval([run_id], "m", 15, None, 100)
    assert [metric.step for metric in from_start] == [15, 16, 17, 18, 19]


def test_bulk_interval_with_nan(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float("nan"), 1, 0)], [], [])
    (metric,) = store.get_metric_history_bulk_interval([run_id], "m", None, None, 5)
    assert math.isnan(metric.value)


# --- packed storage: histories made of several log calls -------------------------------------------

MAX_DOUBLE = sys.float_info.max


def log(store, run_id: str, *points: MetricPoint) -> None:
    store.log_batch(run_id, list(points), [], [])


def origins(metrics) -> list[tuple[str | None, str | None, str | None]]:
    return [
        tuple(
            getattr(metric, name) if metric.HasField(name) else None
            for name in ("model_id", "dataset_name", "dataset_digest")
        )
        for metric in metrics
    ]


def full_history(store, run_id: str, key: str = "m") -> list[tuple[float, int, int]]:
    return triples(metrics_of(store.get_metric_history(run_id, key, None, None)))


def test_duplicates_across_log_calls_collapse(store, run_id):
    log(store, run_id, MetricPoint("m", 1.0, 10, 0), MetricPoint("m", 2.0, 20, 1))
    log(store, run_id, MetricPoint("m", 2.0, 20, 1), MetricPoint("m", 3.0, 30, 2))
    log(store, run_id, MetricPoint("m", 1.0, 10, 0))
    log(store, run_id, MetricPoint("m", float("nan"), 5, 0))
    log(store, run_id, MetricPoint("m", float("nan"), 5, 0), MetricPoint("m", 0.0, 5, 0))
    history = full_history(store, run_id)
    assert len(history) == 5
    assert history[0] == (0.0, 5, 0) and math.isnan(history[1][0]) and history[1][1:] == (5, 0)
    assert history[2:] == [(1.0, 10, 0), (2.0, 20, 1), (3.0, 30, 2)]


def test_infinities_are_clamped_and_collapse_with_the_largest_doubles(store, run_id):
    log(store, run_id, MetricPoint("m", math.inf, 1, 0), MetricPoint("m", -math.inf, 2, 0))
    log(store, run_id, MetricPoint("m", MAX_DOUBLE, 1, 0), MetricPoint("m", -MAX_DOUBLE, 2, 0))
    assert full_history(store, run_id) == [(MAX_DOUBLE, 1, 0), (-MAX_DOUBLE, 2, 0)]


def test_batches_logged_out_of_order_give_an_ordered_history(store, run_id):
    batches = [[30, 31, 32], [0, 1, 2], [20, 21], [10, 11, 12, 33], [3]]
    for batch in batches:
        log(store, run_id, *(MetricPoint("m", float(t), t, t % 7) for t in reversed(batch)))
    expected = sorted(t for batch in batches for t in batch)
    assert full_history(store, run_id) == [(float(t), t, t % 7) for t in expected]


def test_extreme_timestamps_and_steps_are_kept(store, run_id):
    low, high = -(2**63), 2**63 - 1
    log(store, run_id, MetricPoint("m", 1.0, 0, high), MetricPoint("m", 2.0, 0, low))
    log(store, run_id, MetricPoint("m", 3.0, high, 0), MetricPoint("m", 4.0, 0, 0))
    assert full_history(store, run_id) == [(2.0, 0, low), (4.0, 0, 0), (1.0, 0, high), (3.0, high, 0)]


@pytest.mark.parametrize("page_size", [1, 3, 4, 50])
def test_paging_across_pack_boundaries(store, run_id, page_size):
    # Three forward packs, then one overlapping them (the merged, sorted path).
    for start in (0, 4, 8):
        log(store, run_id, *(MetricPoint("m", float(t), t, 0) for t in range(start, start + 4)))
    log(store, run_id, MetricPoint("m", 0.5, 2, 0), MetricPoint("m", 3.0, 3, 0), MetricPoint("m", 9.5, 12, 0))
    expected = [(float(t), t, 0) for t in range(12)]
    expected.insert(2, (0.5, 2, 0))
    expected.append((9.5, 12, 0))
    seen: list[tuple[float, int, int]] = []
    token = None
    pages = 0
    while True:
        page = store.get_metric_history(run_id, "m", page_size, token)
        assert 1 <= len(page.items) <= page_size
        seen += triples(metrics_of(page))
        pages += 1
        if page.next_page_token is None:
            break
        token = page.next_page_token
    assert seen == expected
    assert pages == math.ceil(len(expected) / page_size)


def test_paging_forward_packs_with_origins(store, run_id):
    log(store, run_id, MetricPoint("m", 0.0, 0, 0), MetricPoint("m", 1.0, 1, 0))
    log(store, run_id, MetricPoint("m", 2.0, 2, 0, "model-a"), MetricPoint("m", 3.0, 3, 0, "model-a"))
    log(store, run_id, MetricPoint("m", 4.0, 4, 0, None, "eval", "d1"))
    seen = []
    token = None
    while True:
        page = store.get_metric_history(run_id, "m", 2, token)
        seen += metrics_of(page)
        token = page.next_page_token
        if token is None:
            break
    assert triples(seen) == [(float(t), t, 0) for t in range(5)]
    assert origins(seen) == [
        (None, None, None),
        (None, None, None),
        ("model-a", None, None),
        ("model-a", None, None),
        (None, "eval", "d1"),
    ]


def test_model_and_dataset_are_carried_per_pack(store, run_id):
    log(
        store,
        run_id,
        MetricPoint("m", 1.0, 1, 0, "model-a", "train", "abc"),
        MetricPoint("m", 2.0, 2, 0, "model-b"),
        MetricPoint("m", 3.0, 3, 0),
        MetricPoint("m", 4.0, 4, 0, None, "eval", None),
        MetricPoint("m", 5.0, 5, 0, "model-a", "train", "abc"),
    )
    metrics = metrics_of(store.get_metric_history(run_id, "m", None, None))
    assert triples(metrics) == [(float(t), t, 0) for t in range(1, 6)]
    assert origins(metrics) == [
        ("model-a", "train", "abc"),
        ("model-b", None, None),
        (None, None, None),
        (None, "eval", None),
        ("model-a", "train", "abc"),
    ]
    # Plain values: only the fields that are set, in field-number order (as PlainResponse needs).
    items = store.get_metric_history(run_id, "m", None, None).items
    assert [list(item) for item in items] == [
        ["key", "value", "timestamp", "step", "dataset_name", "dataset_digest", "model_id"],
        ["key", "value", "timestamp", "step", "model_id"],
        ["key", "value", "timestamp", "step"],
        ["key", "value", "timestamp", "step", "dataset_name"],
        ["key", "value", "timestamp", "step", "dataset_name", "dataset_digest", "model_id"],
    ]


def test_without_any_origin_the_items_hold_only_the_four_fields(store, run_id):
    log(store, run_id, MetricPoint("m", 1.0, 1, 0), MetricPoint("m", 2.0, 2, 0))
    page = store.get_metric_history(run_id, "m", None, None)
    assert page.items == [
        {"key": "m", "value": 1.0, "timestamp": 1, "step": 0},
        {"key": "m", "value": 2.0, "timestamp": 2, "step": 0},
    ]
    assert [list(item) for item in page.items] == [["key", "value", "timestamp", "step"]] * 2
    assert not any(metric.HasField("model_id") for metric in metrics_of(page))


def test_an_origin_on_another_key_does_not_add_fields(store, run_id):
    log(store, run_id, MetricPoint("m", 1.0, 1, 0), MetricPoint("other", 1.0, 1, 0, "model-a"))
    (item,) = store.get_metric_history(run_id, "m", None, None).items
    assert list(item) == ["key", "value", "timestamp", "step"]


def test_empty_model_and_dataset_mean_none(store, run_id):
    log(store, run_id, MetricPoint("m", 1.0, 1, 0, "", "", ""), MetricPoint("m", 2.0, 2, 0, "", "eval", ""))
    log(store, run_id, MetricPoint("m", 1.0, 1, 0, "model-a"))  # a duplicate of the first: it stays bare
    metrics = metrics_of(store.get_metric_history(run_id, "m", None, None))
    assert origins(metrics) == [(None, None, None), (None, "eval", None)]


def test_the_first_stored_copy_of_a_duplicate_wins(store, run_id):
    log(store, run_id, MetricPoint("m", 1.0, 10, 0), MetricPoint("m", 0.0, 20, 0))
    log(store, run_id, MetricPoint("m", 1.0, 10, 0, "model-a"), MetricPoint("m", 2.0, 30, 0, "model-a"))
    log(store, run_id, MetricPoint("m", 2.0, 30, 0, "model-b", "eval", "x"))
    metrics = metrics_of(store.get_metric_history(run_id, "m", None, None))
    assert triples(metrics) == [(1.0, 10, 0), (0.0, 20, 0), (2.0, 30, 0)]
    assert origins(metrics) == [(None, None, None), (None, None, None), ("model-a", None, None)]


def test_one_batch_with_and_without_a_model_keeps_both_points_apart(store, run_id):
    """A batch holding the same measurement with and without a model: the history has it once."""
    log(store, run_id, MetricPoint("m", 1.0, 10, 0), MetricPoint("m", 1.0, 10, 0, "model-a"))
    metrics = metrics_of(store.get_metric_history(run_id, "m", None, None))
    assert triples(metrics) == [(1.0, 10, 0)]
    assert origins(metrics) == [(None, None, None)]


def test_bulk_interval_dedupes_across_packs(store, run_id):
    log(store, run_id, *(MetricPoint("m", float(step), 100 + step, step) for step in range(6)))
    log(store, run_id, *(MetricPoint("m", float(step), 100 + step, step) for step in range(3, 9)))
    log(store, run_id, MetricPoint("m", float("nan"), 99, 2), MetricPoint("m", 4.0, 104, 4))
    sampled = store.get_metric_history_bulk_interval([run_id], "m", None, None, 100)
    assert [(metric.step, metric.timestamp) for metric in sampled] == [
        (0, 100),
        (1, 101),
        (2, 99),
        (2, 102),
        (3, 103),
        (4, 104),
        (5, 105),
        (6, 106),
        (7, 107),
        (8, 108),
    ]
    assert math.isnan(sampled[2].value)
    assert all(metric.value == float(metric.step) for index, metric in enumerate(sampled) if index != 2)


def test_bulk_interval_samples_across_packs_within_the_step_range(store, make_run):
    first, second = make_run().info.run_id, make_run().info.run_id
    # Steps logged backwards, one pack per call, with a repeat of every point in a second pack.
    for run_id in (first, second):
        for start in (80, 60, 40, 20, 0):
            log(store, run_id, *(MetricPoint("m", float(s), 1000 + s, s) for s in range(start, start + 20)))
        log(store, run_id, *(MetricPoint("m", float(s), 1000 + s, s) for s in range(0, 100, 3)))
    sampled = store.get_metric_history_bulk_interval([first, second], "m", 10, 50, 5)
    # 41 steps (10..50) sampled to 5: indexes 0, 10, 20, 30, 40.
    assert [(metric.run_id, metric.step) for metric in sampled] == [
        *((first, step) for step in (10, 20, 30, 40, 50)),
        *((second, step) for step in (10, 20, 30, 40, 50)),
    ]
    everything = store.get_metric_history_bulk_interval([first], "m", None, None, 1000)
    assert [metric.step for metric in everything] == list(range(100))
    assert [metric.step for metric in store.get_metric_history_bulk_interval([first], "m", 99, 5, 10)] == []


def test_bulk_interval_step_bounds_at_the_int64_limits(store, run_id):
    low, high = -(2**63), 2**63 - 1
    log(
        store,
        run_id,
        MetricPoint("m", 1.0, 1, low),
        MetricPoint("m", 2.0, 1, 0),
        MetricPoint("m", 3.0, 1, high),
    )
    assert [m.step for m in store.get_metric_history_bulk_interval([run_id], "m", low, high, 10)] == [
        low,
        0,
        high,
    ]
    assert [m.step for m in store.get_metric_history_bulk_interval([run_id], "m", None, None, 10)] == [
        low,
        0,
        high,
    ]
    assert [m.step for m in store.get_metric_history_bulk_interval([run_id], "m", high, None, 10)] == [high]


def latest_of(store, run_id: str, key: str = "m") -> tuple[float, int, int]:
    (metric,) = [metric for metric in store.get_run(run_id).data.metrics if metric.key == key]
    return (metric.value, metric.timestamp, metric.step)


LATEST_CASES = [
    # Greatest step wins, even with an earlier timestamp and smaller value.
    ([(9.0, 500, 1), (1.0, 100, 2), (8.0, 900, 1)], (1.0, 100, 2)),
    # Same step: greatest timestamp.
    ([(9.0, 100, 3), (1.0, 200, 3), (5.0, 150, 3)], (1.0, 200, 3)),
    # Same step and timestamp: greatest value; a number beats NaN wherever it is in the batch.
    ([(1.0, 100, 3), (7.0, 100, 3), (-2.0, 100, 3)], (7.0, 100, 3)),
    ([(float("nan"), 100, 3), (-5.0, 100, 3)], (-5.0, 100, 3)),
    ([(-5.0, 100, 3), (float("nan"), 100, 3)], (-5.0, 100, 3)),
    # +inf is stored as the largest double and wins among equal step and timestamp.
    ([(math.inf, 100, 3), (1.0, 100, 3)], (MAX_DOUBLE, 100, 3)),
]


def test_latest_rules_within_one_batch(store, make_run):
    for batch, expected in LATEST_CASES:
        run_id = make_run().info.run_id
        log(store, run_id, *(MetricPoint("m", value, timestamp, step) for value, timestamp, step in batch))
        assert latest_of(store, run_id) == expected, batch


def test_latest_is_nan_when_only_nan_is_logged_at_the_greatest_step(store, run_id):
    log(store, run_id, MetricPoint("m", 5.0, 100, 1), MetricPoint("m", float("nan"), 50, 2))
    value, timestamp, step = latest_of(store, run_id)
    assert math.isnan(value) and (timestamp, step) == (50, 2)
    # A later batch with a number at the same step and timestamp replaces the NaN, not the reverse.
    log(store, run_id, MetricPoint("m", -1.0, 50, 2))
    assert latest_of(store, run_id) == (-1.0, 50, 2)
    log(store, run_id, MetricPoint("m", float("nan"), 50, 2))
    assert latest_of(store, run_id) == (-1.0, 50, 2)


def test_latest_across_groups_of_one_batch(store, run_id):
    """Points of one key split over several packs (by model and dataset) still give one latest."""
    log(
        store,
        run_id,
        MetricPoint("m", 1.0, 100, 5, "model-a"),
        MetricPoint("m", 2.0, 100, 7),
        MetricPoint("m", 3.0, 100, 6, None, "eval"),
        MetricPoint("n", 4.0, 100, 1, "model-a"),
    )
    assert latest_of(store, run_id) == (2.0, 100, 7)
    assert latest_of(store, run_id, "n") == (4.0, 100, 1)
    log(store, run_id, MetricPoint("m", 0.0, 1, 6, "model-b"))  # older step: latest unchanged
    assert latest_of(store, run_id) == (2.0, 100, 7)
