"""Run search through the store: every entity and comparator, ordering, paging, view types."""

from __future__ import annotations

import pytest

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter
from polytrack_server.store.interface import MetricPoint, Page


def search_runs(store, *arguments):
    """store.search_runs with its plain runs as messages."""
    page = store.search_runs(*arguments)
    return Page([pb.Run(**run) for run in page.items], page.next_page_token)


def populate(store, experiment_id: str) -> dict[str, str]:
    """Four runs with varied data, by name:

    a: acc 0.9, loss 0.1, lr '0.01', model 'ResNet', team 'vision', start 100, FINISHED end 500
    b: acc 0.5 (latest; 0.95 at an earlier step), lr '0.1', model 'resnet', start 200
    c: acc NaN, loss 2.0, model 'Transformer', `my metric` 1, start 300, dataset train/d1 training
    d: nothing logged, start 400, user bob
    """

    def create(name: str, start: int, user: str = "alice") -> str:
        return store.create_run(experiment_id, user, name, start, []).info.run_id

    ids = {"a": create("a", 100), "b": create("b", 200), "c": create("c", 300), "d": create("d", 400, "bob")}
    store.log_batch(
        ids["a"],
        [MetricPoint("acc", 0.9, 1, 1), MetricPoint("loss", 0.1, 1, 1)],
        [("lr", "0.01"), ("model", "ResNet")],
        [("team", "vision")],
    )
    store.update_run(ids["a"], pb.FINISHED, 500, None)
    store.log_batch(
        ids["b"],
        [MetricPoint("acc", 0.95, 1, 1), MetricPoint("acc", 0.5, 2, 2)],
        [("lr", "0.1"), ("model", "resnet")],
        [],
    )
    store.log_batch(
        ids["c"],
        [
            MetricPoint("acc", float("nan"), 1, 1),
            MetricPoint("loss", 2.0, 1, 1),
            MetricPoint("my metric", 1, 1, 0),
        ],
        [("model", "Transformer")],
        [],
    )
    store.log_inputs(
        ids["c"],
        [
            pb.DatasetInput(
                dataset=pb.Dataset(name="train", digest="d1", source_type="local", source="{}"),
                tags=[pb.InputTag(key="mlflow.data.context", value="training")],
            )
        ],
        [],
    )
    return ids


@pytest.fixture
def runs(store, experiment_id):
    return populate(store, experiment_id)


@pytest.fixture(scope="module")
def shared(module_store):
    """(store, experiment id, run ids) of the runs above, shared by the tests that only read."""
    experiment_id = module_store.create_experiment("shared", None, [])
    return module_store, experiment_id, populate(module_store, experiment_id)


def search(store, experiment_id, filter_string=None, order_by=(), view_type=1, max_results=100, token=None):
    return search_runs(store, [experiment_id], filter_string, view_type, max_results, list(order_by), token)


def names(page) -> list[str]:
    return [run.info.run_name for run in page.items]


def found(store, experiment_id, filter_string) -> set[str]:
    return set(names(search(store, experiment_id, filter_string)))


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        # metrics compare the latest value; NaN satisfies only !=; missing never matches
        ("metrics.acc > 0.6", {"a"}),
        ("metrics.acc >= 0.5", {"a", "b"}),
        ("metrics.acc < 0.9", {"b"}),
        ("metrics.acc <= 0.9", {"a", "b"}),
        ("metrics.acc = 0.5", {"b"}),
        ("metrics.acc != 0.5", {"a", "c"}),
        ("metric.loss > 1", {"c"}),
        ("metrics.`my metric` = 1", {"c"}),
        ('metrics."my metric" = 1.0', {"c"}),
        # params
        ("params.lr = '0.1'", {"b"}),
        ("params.lr != '0.1'", {"a"}),
        ("param.model LIKE 'Res%'", {"a"}),
        ("parameters.model LIKE '%res%'", {"b"}),
        ("params.model ILIKE '%res%'", {"a", "b"}),
        ("params.model LIKE 'T_ansformer'", {"c"}),
        ("params.lr IS NULL", {"c", "d"}),
        ("params.lr IS NOT NULL", {"a", "b"}),
        # tags, including the run name mirror
        ("tags.team = 'vision'", {"a"}),
        ("tags.team != 'vision'", set()),
        ("tag.team ILIKE 'VIS%'", {"a"}),
        ("tags.team IS NULL", {"b", "c", "d"}),
        ("tags.mlflow.runName = 'b'", {"b"}),
        ("tags.`mlflow.runName` LIKE '%'", {"a", "b", "c", "d"}),
        # string attributes
        ("attributes.run_name = 'a'", {"a"}),
        ("run_name != 'a'", {"b", "c", "d"}),
        ("attributes.`run name` LIKE 'b'", {"b"}),
        ("attr.status = 'FINISHED'", {"a"}),
        ("status != 'FINISHED'", {"b", "c", "d"}),
        ("attributes.status ILIKE 'running'", {"b", "c", "d"}),
        ("attributes.user_id = 'bob'", {"d"}),
        ("run.artifact_uri LIKE 'mlflow-artifacts:/%'", {"a", "b", "c", "d"}),
        # numeric attributes
        ("attributes.start_time > 200", {"c", "d"}),
        ("attributes.start_time <= 200", {"a", "b"}),
        ("attributes.created = 300", {"c"}),
        ("attributes.end_time = 500", {"a"}),
        ("attributes.end_time != 1", {"a"}),
        # datasets
        ("datasets.name = 'train'", {"c"}),
        ("dataset.digest IN ('d1', 'd2')", {"c"}),
        ("datasets.digest NOT IN ('d1')", set()),
        ("datasets.context = 'training'", {"c"}),
        ("datasets.context LIKE 'eval%'", set()),
        ("datasets.name ILIKE 'TR%'", {"c"}),
        # conjunctions
        ("metrics.acc > 0.1 AND params.model ILIKE 'resnet'", {"a", "b"}),
        ("metrics.acc > 0.1 and params.lr = '0.1' and attributes.start_time = 200", {"b"}),
    ],
)
def test_filters(shared, filter_string, expected):
    store, experiment_id, _ = shared
    assert found(store, experiment_id, filter_string) == expected


def test_filter_by_run_id(shared):
    store, experiment_id, runs = shared
    assert found(store, experiment_id, f"attributes.run_id = '{runs['a']}'") == {"a"}
    listed = f"attributes.run_id IN ('{runs['a']}', '{runs['c']}', 'nope')"
    assert found(store, experiment_id, listed) == {"a", "c"}
    assert found(store, experiment_id, f"run_id NOT IN ('{runs['a']}')") == {"b", "c", "d"}


@pytest.mark.parametrize(
    ("filter_string", "fragment"),
    [
        ("metrics.acc > '0.5'", "unquoted number"),
        ("metrics.acc LIKE '0%'", "supports only =, !=, >, >=, <, <="),
        ("metrics.acc IS NULL", "supports only"),
        ("params.lr > '1'", "supports only =, !=, LIKE, ILIKE, IS NULL, IS NOT NULL"),
        ("params.lr = 0.1", "quoted string"),
        ("tags.t IN ('a')", "supports only"),
        ("attributes.status IN ('FINISHED')", "supports only =, !=, LIKE, ILIKE"),
        ("attributes.run_id IN (1, 2)", "quoted strings"),
        ("attributes.start_time = 'x'", "unquoted number"),
        ("attributes.start_time LIKE '1%'", "supports only"),
        ("attributes.color = 'red'", "Invalid attribute key 'color'"),
        ("datasets.size = 'x'", "Invalid dataset key 'size'"),
        ("datasets.name > 'x'", "supports only"),
        ("metrics.acc > 1 OR metrics.acc < 0", "only AND"),
        ("experiments.id = 1", "invalid entity type"),
    ],
)
def test_bad_filters(shared, filter_string, fragment):
    store, experiment_id, _ = shared
    with pytest.raises(InvalidParameter) as error:
        search(store, experiment_id, filter_string)
    assert fragment in error.value.message


# --- ordering ------------------------------------------------------------------------------------
def test_default_order_is_start_time_desc(shared):
    store, experiment_id, _ = shared
    assert names(search(store, experiment_id)) == ["d", "c", "b", "a"]


def test_metric_order_puts_nan_then_missing_last_in_both_directions(shared):
    store, experiment_id, _ = shared
    assert names(search(store, experiment_id, order_by=["metrics.acc"])) == ["b", "a", "c", "d"]
    assert names(search(store, experiment_id, order_by=["metrics.acc DESC"])) == ["a", "b", "c", "d"]


def test_param_and_tag_order_puts_missing_last(shared):
    store, experiment_id, _ = shared
    assert names(search(store, experiment_id, order_by=["params.lr ASC"])) == ["a", "b", "d", "c"]
    assert names(search(store, experiment_id, order_by=["params.lr DESC"])) == ["b", "a", "d", "c"]
    assert names(search(store, experiment_id, order_by=["tags.team DESC"])) == ["a", "d", "c", "b"]


def test_attribute_orders(shared):
    store, experiment_id, _ = shared
    assert names(search(store, experiment_id, order_by=["start_time"])) == ["a", "b", "c", "d"]
    assert names(search(store, experiment_id, order_by=["attributes.created DESC"])) == ["d", "c", "b", "a"]
    assert names(search(store, experiment_id, order_by=["run_name DESC"])) == ["d", "c", "b", "a"]
    assert names(search(store, experiment_id, order_by=["attributes.`Run Name`"])) == ["a", "b", "c", "d"]
    # only a has ended: the others lack end_time and come last, newest first
    assert names(search(store, experiment_id, order_by=["end_time DESC"])) == ["a", "d", "c", "b"]
    assert names(search(store, experiment_id, order_by=["status"])) == ["a", "d", "c", "b"]


def test_several_order_keys(shared):
    store, experiment_id, _ = shared
    order_by = ["tags.team", "metrics.loss DESC"]
    assert names(search(store, experiment_id, order_by=order_by)) == ["a", "c", "d", "b"]


def test_ties_break_by_start_time_desc_then_run_id(store, experiment_id):
    ids = sorted(store.create_run(experiment_id, "u", f"r{i}", 7, []).info.run_id for i in range(5))
    page = search(store, experiment_id, order_by=["params.absent"])
    assert [run.info.run_id for run in page.items] == ids
    page = search(store, experiment_id, order_by=["run_id DESC"])
    assert [run.info.run_id for run in page.items] == ids[::-1]


@pytest.mark.parametrize(
    ("order_by", "fragment"),
    [
        (["metrics.acc", "metrics.acc DESC"], "repeats the key"),
        (["start_time", "attributes.created"], "repeats the key"),
        (["run_name", "`run name` DESC"], "repeats the key"),
        (["datasets.name"], "cannot be ordered by datasets"),
        (["attributes.color"], "Invalid attribute key"),
        (["metrics.acc upward"], "expected ASC, DESC"),
    ],
)
def test_bad_order_by(shared, order_by, fragment):
    store, experiment_id, _ = shared
    with pytest.raises(InvalidParameter) as error:
        search(store, experiment_id, order_by=order_by)
    assert fragment in error.value.message


# --- scope and paging ----------------------------------------------------------------------------
def test_results_carry_whole_runs(shared):
    store, experiment_id, runs = shared
    (run,) = search(store, experiment_id, "attributes.run_name = 'c'").items
    assert run == store.get_run(runs["c"])
    assert len(run.inputs.dataset_inputs) == 1


def test_view_types(store, experiment_id, runs):
    store.delete_run(runs["b"])
    assert set(names(search(store, experiment_id))) == {"a", "c", "d"}
    assert set(names(search(store, experiment_id, view_type=0))) == {"a", "c", "d"}
    assert names(search(store, experiment_id, view_type=2)) == ["b"]
    assert set(names(search(store, experiment_id, view_type=3))) == {"a", "b", "c", "d"}


def test_several_experiments(store, experiment_id, runs):
    other = store.create_experiment("other", None, [])
    store.create_run(other, "u", "e", 1, [])
    page = search_runs(store, [experiment_id, other, "987654", experiment_id], None, 1, 100, [], None)
    assert sorted(names(page)) == ["a", "b", "c", "d", "e"]
    assert names(search_runs(store, [other], None, 1, 100, [], None)) == ["e"]


def test_no_or_unknown_experiments_find_nothing(shared):
    store = shared[0]
    assert search_runs(store, [], None, 1, 100, [], None).items == []
    assert search_runs(store, ["987654", "99999999999999"], None, 1, 100, [], None).items == []


def test_bad_experiment_ids_and_tokens(shared):
    store, experiment_id, _ = shared
    with pytest.raises(InvalidParameter, match="Invalid experiment ID"):
        search_runs(store, [experiment_id, "x"], None, 1, 100, [], None)
    with pytest.raises(InvalidParameter, match="Invalid page token"):
        search(store, experiment_id, token="bad")
    with pytest.raises(InvalidParameter, match="max_results"):
        search(store, experiment_id, max_results=0)


def test_paging_walks_every_run_once(store, experiment_id):
    created = {store.create_run(experiment_id, "u", f"r{i}", i % 4, []).info.run_id for i in range(23)}
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search(store, experiment_id, order_by=["metrics.none"], max_results=5, token=token)
        seen += [run.info.run_id for run in page.items]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == created


def test_exact_last_page_has_no_token(shared):
    store, experiment_id, _ = shared
    page = search(store, experiment_id, max_results=4)
    assert len(page.items) == 4 and page.next_page_token is None
    page = search(store, experiment_id, max_results=3)
    assert page.next_page_token is not None
    rest = search(store, experiment_id, max_results=3, token=page.next_page_token)
    assert names(rest) == ["a"] and rest.next_page_token is None
