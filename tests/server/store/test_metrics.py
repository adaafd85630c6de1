from __future__ import annotations

import math

import pytest

from polytrack_server.errors import InvalidParameter
from polytrack_server.store.interface import MetricPoint
from polytrack_server.store.metrics import sample_evenly


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
    assert triples(page.items) == [(9.0, 10, 1), (1.0, 10, 5), (2.0, 10, 5), (3.0, 20, 0)]
    assert {metric.key for metric in page.items} == {"m"}
    assert page.next_page_token is None


def test_history_returns_nan(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float("nan"), 1, 0)], [], [])
    (metric,) = store.get_metric_history(run_id, "m", None, None).items
    assert math.isnan(metric.value)
    assert not metric.HasField("model_id")


def test_unknown_run_or_key_is_an_empty_page(store, run_id):
    assert store.get_metric_history("f" * 32, "m", None, None).items == []
    assert store.get_metric_history(run_id, "missing", 10, None).items == []


def test_history_paging(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", float(i), i, i) for i in range(25)], [], [])
    seen = []
    token = None
    tokens = 0
    while True:
        page = store.get_metric_history(run_id, "m", 10, token)
        seen += triples(page.items)
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
    assert len(store.get_metric_history(run_id, "m", None, token).items) == 3


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
