from __future__ import annotations

import pytest
from google.protobuf import json_format

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter, NotFound
from polytrack_server.store.interface import MetricPoint


def tags_of(run: pb.Run) -> dict[str, str]:
    return {tag.key: tag.value for tag in run.data.tags}


def test_create_run(store, experiment_id):
    run = store.create_run(experiment_id, "alice", "my-run", 1234, [("mlflow.user", "alice"), ("a", "1")])
    info = run.info
    assert len(info.run_id) == 32 and int(info.run_id, 16) >= 0
    assert info.run_uuid == info.run_id
    assert info.run_name == "my-run"
    assert info.experiment_id == experiment_id
    assert info.user_id == "alice"
    assert info.status == pb.RUNNING
    assert info.start_time == 1234
    assert not info.HasField("end_time")
    assert info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info.run_id}/artifacts"
    assert info.lifecycle_stage == "active"
    assert tags_of(run) == {"mlflow.user": "alice", "a": "1", "mlflow.runName": "my-run"}
    assert run.HasField("inputs") and run.HasField("outputs")
    assert store.get_run(info.run_id) == run


def test_create_run_writes_the_resolved_name_over_a_tag(store, experiment_id):
    run = store.create_run(experiment_id, "u", "resolved", 0, [("mlflow.runName", "from-tag")])
    assert tags_of(store.get_run(run.info.run_id))["mlflow.runName"] == "resolved"


def test_create_run_in_unknown_or_invalid_experiment(store):
    with pytest.raises(NotFound, match="42"):
        store.create_run("42", "u", "r", 0, [])
    with pytest.raises(InvalidParameter, match="Invalid experiment ID"):
        store.create_run("x", "u", "r", 0, [])


def test_run_ids_are_unique(make_run):
    assert len({make_run().info.run_id for _ in range(20)}) == 20


def test_empty_sub_messages_serialise_as_empty_objects(store, run_id):
    as_json = json_format.MessageToDict(store.get_run(run_id), preserving_proto_field_name=True)
    assert as_json["inputs"] == {}
    assert as_json["outputs"] == {}


def test_get_run_returns_everything(store, run_id):
    store.log_batch(
        run_id,
        [MetricPoint("loss", 0.5, 10, 1), MetricPoint("acc", 0.9, 11, 2)],
        [("lr", "0.1"), ("layers", "3")],
        [("team", "x")],
    )
    run = store.get_run(run_id)
    metrics = {metric.key: (metric.value, metric.timestamp, metric.step) for metric in run.data.metrics}
    assert metrics == {"loss": (0.5, 10, 1), "acc": (0.9, 11, 2)}
    assert [(param.key, param.value) for param in run.data.params] == [("layers", "3"), ("lr", "0.1")]
    assert tags_of(run)["team"] == "x"


def test_get_unknown_run(store):
    with pytest.raises(NotFound, match="'0123'"):
        store.get_run("0123")


def test_update_run_changes_only_given_fields(store, run_id):
    info = store.update_run(run_id, pb.FINISHED, 5000, None)
    assert info.status == pb.FINISHED
    assert info.end_time == 5000
    assert info.run_name == store.get_run(run_id).info.run_name
    assert store.get_run(run_id).info == info

    info = store.update_run(run_id, None, None, None)
    assert (info.status, info.end_time) == (pb.FINISHED, 5000)
    info = store.update_run(run_id, pb.RUN_STATUS_UNSPECIFIED, None, None)
    assert info.status == pb.FINISHED


@pytest.mark.parametrize("status", [pb.RUNNING, pb.SCHEDULED, pb.FINISHED, pb.FAILED, pb.KILLED])
def test_any_status_may_follow_any_other(store, run_id, status):
    store.update_run(run_id, pb.KILLED, None, None)
    assert store.update_run(run_id, status, None, None).status == status
    assert store.get_run(run_id).info.status == status


def test_update_run_rejects_unknown_status(store, run_id):
    with pytest.raises(InvalidParameter, match="99"):
        store.update_run(run_id, 99, None, None)


def test_update_run_name_rewrites_the_tag(store, run_id):
    info = store.update_run(run_id, None, None, "renamed")
    assert info.run_name == "renamed"
    run = store.get_run(run_id)
    assert run.info.run_name == "renamed"
    assert tags_of(run)["mlflow.runName"] == "renamed"


def test_update_deleted_or_unknown_run(store, run_id):
    store.delete_run(run_id)
    with pytest.raises(InvalidParameter, match="must be in the 'active' state"):
        store.update_run(run_id, pb.FINISHED, 1, None)
    with pytest.raises(NotFound):
        store.update_run("f" * 32, pb.FINISHED, 1, None)


def test_delete_and_restore_are_idempotent(store, run_id):
    store.delete_run(run_id)
    store.delete_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "deleted"
    store.restore_run(run_id)
    store.restore_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == "active"


def test_delete_or_restore_unknown_run(store):
    with pytest.raises(NotFound):
        store.delete_run("a" * 32)
    with pytest.raises(NotFound):
        store.restore_run("a" * 32)


def test_deleted_run_keeps_its_data_and_refuses_writes(store, run_id):
    store.log_batch(run_id, [MetricPoint("m", 1.0, 1, 0)], [("p", "v")], [("t", "v")])
    store.delete_run(run_id)
    run = store.get_run(run_id)
    assert len(run.data.metrics) == 1 and len(run.data.params) == 1
    for write in (
        lambda: store.log_batch(run_id, [MetricPoint("m", 2.0, 2, 0)], [], []),
        lambda: store.log_batch(run_id, [], [("q", "v")], []),
        lambda: store.set_tag(run_id, "t", "w"),
        lambda: store.delete_tag(run_id, "t"),
        lambda: store.log_inputs(run_id, [], ["model-1"]),
    ):
        with pytest.raises(InvalidParameter, match="must be in the 'active' state"):
            write()


def test_get_run_lists_dataset_and_model_inputs(store, run_id):
    dataset_input = pb.DatasetInput(
        dataset=pb.Dataset(name="d", digest="abc", source_type="local", source="{}", schema="{s}"),
        tags=[pb.InputTag(key="mlflow.data.context", value="training")],
    )
    store.log_inputs(run_id, [dataset_input], ["model-1"])
    inputs = store.get_run(run_id).inputs
    assert list(inputs.dataset_inputs) == [dataset_input]
    assert [model.model_id for model in inputs.model_inputs] == ["model-1"]
