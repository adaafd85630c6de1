from __future__ import annotations

import pytest

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import AlreadyExists, BadRequest, InvalidParameter, NotFound
from polytrack_server.store.tracking import SqlTrackingStore


def tags_of(experiment: pb.Experiment) -> dict[str, str]:
    return {tag.key: tag.value for tag in experiment.tags}


def test_default_experiment_exists_with_id_zero(store):
    default = store.get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == "mlflow-artifacts:/0"
    assert default.lifecycle_stage == "active"
    assert default.creation_time > 0


def test_building_the_store_again_keeps_one_default(store, engine):
    SqlTrackingStore(engine, "elsewhere")
    assert store.get_experiment("0").artifact_location == "mlflow-artifacts:/0"
    page = store.search_experiments(3, 100, None, [], None)
    assert [experiment.name for experiment in page.items] == ["Default"]


def test_create_and_get(store):
    experiment_id = store.create_experiment("exp", None, [("a", "1"), ("b", "2")])
    assert experiment_id == "1"
    experiment = store.get_experiment(experiment_id)
    assert experiment.experiment_id == "1"
    assert experiment.name == "exp"
    assert experiment.artifact_location == "mlflow-artifacts:/1"
    assert experiment.lifecycle_stage == "active"
    assert experiment.creation_time == experiment.last_update_time > 0
    assert tags_of(experiment) == {"a": "1", "b": "2"}
    assert store.get_experiment_by_name("exp") == experiment


def test_ids_increase(store):
    ids = [store.create_experiment(f"e{i}", None, []) for i in range(3)]
    assert ids == ["1", "2", "3"]


def test_explicit_artifact_location_is_kept(store):
    experiment_id = store.create_experiment("exp", "s3://bucket/path", [])
    assert store.get_experiment(experiment_id).artifact_location == "s3://bucket/path"


def test_artifact_root_without_trailing_slash(engine):
    store = SqlTrackingStore(engine, "/data/artifacts")
    experiment_id = store.create_experiment("exp", None, [])
    assert store.get_experiment(experiment_id).artifact_location == f"/data/artifacts/{experiment_id}"


def test_repeated_tag_keys_keep_the_last_value(store):
    experiment_id = store.create_experiment("exp", None, [("a", "1"), ("a", "2")])
    assert tags_of(store.get_experiment(experiment_id)) == {"a": "2"}


def test_duplicate_name_even_when_deleted(store):
    experiment_id = store.create_experiment("exp", None, [])
    with pytest.raises(AlreadyExists, match="'exp'"):
        store.create_experiment("exp", None, [])
    store.delete_experiment(experiment_id)
    with pytest.raises(AlreadyExists, match="'exp'"):
        store.create_experiment("exp", None, [])


def test_names_are_case_sensitive(store):
    store.create_experiment("exp", None, [])
    store.create_experiment("EXP", None, [])
    assert store.get_experiment_by_name("EXP").name == "EXP"


@pytest.mark.parametrize("bad_id", ["abc", "", "1.5", "1_0", " "])
def test_non_integer_ids_are_invalid(store, bad_id):
    with pytest.raises(InvalidParameter, match="Invalid experiment ID"):
        store.get_experiment(bad_id)


@pytest.mark.parametrize("unknown_id", ["42", "-1", "99999999999999"])
def test_unknown_ids_are_not_found(store, unknown_id):
    with pytest.raises(NotFound, match=unknown_id.lstrip("-")):
        store.get_experiment(unknown_id)


def test_unknown_name_is_not_found(store):
    with pytest.raises(NotFound, match="'nope'"):
        store.get_experiment_by_name("nope")


def test_rename(store):
    experiment_id = store.create_experiment("old", None, [])
    before = store.get_experiment(experiment_id)
    store.rename_experiment(experiment_id, "new")
    after = store.get_experiment(experiment_id)
    assert after.name == "new"
    assert after.last_update_time >= before.last_update_time
    with pytest.raises(NotFound):
        store.get_experiment_by_name("old")


def test_rename_to_a_taken_name_is_a_bad_request(store):
    store.create_experiment("taken", None, [])
    experiment_id = store.create_experiment("mine", None, [])
    with pytest.raises(BadRequest, match="'taken'"):
        store.rename_experiment(experiment_id, "taken")
    assert store.get_experiment(experiment_id).name == "mine"


def test_rename_deleted_or_unknown(store):
    experiment_id = store.create_experiment("exp", None, [])
    store.delete_experiment(experiment_id)
    with pytest.raises(InvalidParameter, match="deleted"):
        store.rename_experiment(experiment_id, "other")
    with pytest.raises(NotFound):
        store.rename_experiment("77", "other")


def test_delete_and_restore(store):
    experiment_id = store.create_experiment("exp", None, [])
    store.delete_experiment(experiment_id)
    deleted = store.get_experiment(experiment_id)
    assert deleted.lifecycle_stage == "deleted"
    assert store.get_experiment_by_name("exp").lifecycle_stage == "deleted"
    with pytest.raises(NotFound, match="already deleted"):
        store.delete_experiment(experiment_id)
    store.restore_experiment(experiment_id)
    assert store.get_experiment(experiment_id).lifecycle_stage == "active"
    with pytest.raises(NotFound, match="already active"):
        store.restore_experiment(experiment_id)


def test_delete_or_restore_unknown(store):
    with pytest.raises(NotFound):
        store.delete_experiment("5")
    with pytest.raises(NotFound):
        store.restore_experiment("5")
    with pytest.raises(InvalidParameter):
        store.delete_experiment("five")


def test_delete_cascades_to_runs_and_restore_brings_all_back(store, make_run, experiment_id):
    kept = make_run()
    deleted_alone = make_run()
    other_experiment = store.create_experiment("other", None, [])
    elsewhere = make_run(experiment=other_experiment)
    store.delete_run(deleted_alone.info.run_id)

    store.delete_experiment(experiment_id)
    assert store.get_run(kept.info.run_id).info.lifecycle_stage == "deleted"
    assert store.get_run(elsewhere.info.run_id).info.lifecycle_stage == "active"

    store.restore_experiment(experiment_id)
    assert store.get_run(kept.info.run_id).info.lifecycle_stage == "active"
    assert store.get_run(deleted_alone.info.run_id).info.lifecycle_stage == "active"


def test_deleted_experiment_refuses_new_runs_and_tags(store, experiment_id):
    store.delete_experiment(experiment_id)
    with pytest.raises(InvalidParameter, match="must be in the 'active' state"):
        store.create_run(experiment_id, "u", "r", 0, [])
    with pytest.raises(InvalidParameter, match="must be in the 'active' state"):
        store.set_experiment_tag(experiment_id, "k", "v")
    with pytest.raises(InvalidParameter, match="must be in the 'active' state"):
        store.delete_experiment_tag(experiment_id, "k")


def test_set_tag_upserts(store, experiment_id):
    store.set_experiment_tag(experiment_id, "k", "v1")
    store.set_experiment_tag(experiment_id, "k", "v2")
    store.set_experiment_tag(experiment_id, "other", "")
    assert tags_of(store.get_experiment(experiment_id)) == {"k": "v2", "other": ""}


def test_delete_tag(store, experiment_id):
    store.set_experiment_tag(experiment_id, "k", "v")
    store.delete_experiment_tag(experiment_id, "k")
    assert tags_of(store.get_experiment(experiment_id)) == {}
    with pytest.raises(NotFound, match="'k'"):
        store.delete_experiment_tag(experiment_id, "k")


def test_tag_writes_on_unknown_experiment(store):
    with pytest.raises(NotFound):
        store.set_experiment_tag("9", "k", "v")
    with pytest.raises(NotFound):
        store.delete_experiment_tag("9", "k")


# --- search ------------------------------------------------------------------------------------
def create_three(store) -> list[str]:
    """Experiments alpha, beta, Gamma (ids 1, 2, 3) created in that order, with tags; beta deleted."""
    ids = [
        store.create_experiment("alpha", None, [("team", "vision"), ("Stage", "prod")]),
        store.create_experiment("beta", None, [("team", "nlp")]),
        store.create_experiment("Gamma", None, []),
    ]
    store.delete_experiment(ids[1])
    return ids


@pytest.fixture
def three(store):
    return create_three(store)


@pytest.fixture(scope="module")
def shared(module_store):
    """A store holding the three experiments, shared by the tests that only read."""
    create_three(module_store)
    return module_store


def names(page) -> list[str]:
    return [experiment.name for experiment in page.items]


def search(store, filter_string=None, order_by=(), view_type=1, max_results=100, token=None):
    return store.search_experiments(view_type, max_results, filter_string, list(order_by), token)


def test_search_view_types(store, three):
    assert set(names(search(store))) == {"Default", "alpha", "Gamma"}
    assert set(names(search(store, view_type=0))) == {"Default", "alpha", "Gamma"}
    assert names(search(store, view_type=2)) == ["beta"]
    assert set(names(search(store, view_type=3))) == {"Default", "alpha", "beta", "Gamma"}


def test_default_order_is_newest_first_then_id(store, three):
    ordered = search(store, view_type=3, order_by=["experiment_id DESC"])
    assert names(ordered) == ["Gamma", "beta", "alpha", "Default"]
    by_time = search(store, view_type=3).items
    keys = [(-experiment.creation_time, int(experiment.experiment_id)) for experiment in by_time]
    assert keys == sorted(keys)


def test_search_returns_tags(store, three):
    (alpha,) = search(store, "name = 'alpha'").items
    assert tags_of(alpha) == {"team": "vision", "Stage": "prod"}


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'alpha'", {"alpha"}),
        ("attribute.name != 'alpha'", {"Default", "Gamma"}),
        ("attributes.name LIKE '%a'", {"alpha", "Gamma"}),
        ("name LIKE 'g%'", set()),
        ("name ILIKE 'g%'", {"Gamma"}),
        ("experiment_id = '1'", {"alpha"}),
        ("experiment_id = 1", {"alpha"}),
        ("experiment_id != '1'", {"Default", "Gamma"}),
        ("experiment_id IN ('0', '3')", {"Default", "Gamma"}),
        ("experiment_id NOT IN ('0', '3')", {"alpha"}),
        ("creation_time > 0", {"Default", "alpha", "Gamma"}),
        ("last_update_time < 0", set()),
        ("tags.team = 'vision'", {"alpha"}),
        ("tag.team != 'vision'", set()),
        ("tags.team LIKE 'vis%'", {"alpha"}),
        ("tags.team ILIKE 'VIS%'", {"alpha"}),
        ("tags.`Stage` = 'prod'", {"alpha"}),
        ("tags.team IS NULL", {"Default", "Gamma"}),
        ("tags.team IS NOT NULL", {"alpha"}),
        ("tags.team = 'vision' AND name = 'alpha'", {"alpha"}),
        ("tags.team = 'vision' AND name = 'Gamma'", set()),
    ],
)
def test_search_filters(shared, filter_string, expected):
    assert set(names(search(shared, filter_string))) == expected


@pytest.mark.parametrize(
    ("filter_string", "fragment"),
    [
        ("metrics.a > 1", "invalid entity type 'metrics'"),
        ("name > 'a'", "supports only =, !=, LIKE, ILIKE"),
        ("name = 1", "quoted string"),
        ("creation_time LIKE '1'", "supports only"),
        ("creation_time > '1'", "unquoted number"),
        ("experiment_id LIKE '1'", "supports only"),
        ("experiment_id = 'one'", "Invalid experiment ID"),
        ("experiment_id IN ('1', 'x')", "Invalid experiment ID"),
        ("owner = 'me'", "Invalid attribute key 'owner'"),
        ("tags.team > 'a'", "supports only"),
        ("tags.team IN ('a')", "supports only"),
    ],
)
def test_search_bad_filters(shared, filter_string, fragment):
    with pytest.raises(InvalidParameter) as error:
        search(shared, filter_string)
    assert fragment in error.value.message


def test_order_by_name_and_times(store, three):
    # Names of one case: how letters of different cases sort depends on PostgreSQL's collation.
    for name in ("b-two", "a-one", "c-three"):
        store.create_experiment(name, None, [])
    hyphenated = "name LIKE '%-%'"
    assert names(search(store, hyphenated, order_by=["name"])) == ["a-one", "b-two", "c-three"]
    assert names(search(store, hyphenated, order_by=["name DESC"])) == ["c-three", "b-two", "a-one"]
    assert names(search(store, order_by=["attributes.experiment_id ASC"])) == [
        "Default",
        "alpha",
        "Gamma",
        "b-two",
        "a-one",
        "c-three",
    ]
    ordered = search(store, order_by=["last_update_time DESC"]).items
    times = [experiment.last_update_time for experiment in ordered]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(
    ("order_by", "fragment"),
    [
        (["tags.team"], "can be ordered only by"),
        (["owner"], "can be ordered only by"),
        (["name", "name DESC"], "repeats the key"),
        (["name DESC extra"], "expected ASC, DESC"),
    ],
)
def test_bad_order_by(shared, order_by, fragment):
    with pytest.raises(InvalidParameter) as error:
        search(shared, order_by=order_by)
    assert fragment in error.value.message


def test_paging(store):
    for index in range(7):
        store.create_experiment(f"e{index}", None, [])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search(store, order_by=["experiment_id"], max_results=3, token=token)
        seen += names(page)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["Default"] + [f"e{index}" for index in range(7)]
    assert pages == 3


def test_exact_last_page_has_no_token(store):
    store.create_experiment("one", None, [])
    page = search(store, max_results=2)
    assert len(page.items) == 2
    assert page.next_page_token is None


def test_bad_page_token_and_max_results(store):
    with pytest.raises(InvalidParameter, match="Invalid page token"):
        search(store, token="garbage")
    with pytest.raises(InvalidParameter, match="max_results"):
        search(store, max_results=0)
