"""Entities: MLflow-shaped views of the proto messages, and a lossless way back."""

from __future__ import annotations

import math

import pytest

from polytrack.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    PagedList,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    ViewType,
)
from polytrack.v1 import tracking_pb2 as pb


def full_run_message() -> pb.Run:
    return pb.Run(
        info=pb.RunInfo(
            run_id="abc",
            run_uuid="abc",
            run_name="r",
            experiment_id="3",
            user_id="ada",
            status=pb.FINISHED,
            start_time=10,
            end_time=20,
            artifact_uri="mlflow-artifacts:/3/abc/artifacts",
            lifecycle_stage="active",
        ),
        data=pb.RunData(
            metrics=[
                pb.Metric(key="loss", value=0.5, timestamp=15, step=2, dataset_name="d", dataset_digest="x"),
                pb.Metric(key="nan", value=math.nan, timestamp=15, step=0),
            ],
            params=[pb.Param(key="lr", value="0.1")],
            tags=[pb.RunTag(key="mlflow.runName", value="r")],
        ),
        inputs=pb.RunInputs(
            dataset_inputs=[
                pb.DatasetInput(
                    tags=[pb.InputTag(key="mlflow.data.context", value="train")],
                    dataset=pb.Dataset(name="d", digest="x", source_type="local", source="/d", schema="{}"),
                )
            ],
            model_inputs=[pb.ModelInput(model_id="m-1")],
        ),
        outputs=pb.RunOutputs(model_outputs=[pb.ModelOutput(model_id="m-2", step=4)]),
    )


def test_run_reads_like_mlflows() -> None:
    run = Run.from_proto(full_run_message())
    assert run.info.run_id == run.info.run_uuid == "abc"
    assert run.info.status == "FINISHED" == RunStatus.FINISHED
    assert (run.info.start_time, run.info.end_time) == (10, 20)
    assert run.data.metrics["loss"] == 0.5 and math.isnan(run.data.metrics["nan"])
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags == {"mlflow.runName": "r"}
    assert run.data.latest_metrics[0] == Metric("loss", 0.5, 15, 2, dataset_name="d", dataset_digest="x")
    assert run.inputs == RunInputs(
        (
            DatasetInput(
                Dataset("d", "x", "local", "/d", schema="{}"), (InputTag("mlflow.data.context", "train"),)
            ),
        ),
        (LoggedModelInput("m-1"),),
    )
    assert run.outputs == RunOutputs((LoggedModelOutput("m-2", 4),))


def test_run_round_trips_to_the_proto() -> None:
    message = full_run_message()
    # Compared as bytes: the NaN metric makes the messages unequal to themselves.
    again = Run.from_proto(message).to_proto()
    assert again.SerializeToString(deterministic=True) == message.SerializeToString(deterministic=True)


def test_unset_fields_stay_unset() -> None:
    info = RunInfo.from_proto(pb.RunInfo(run_id="r", status=pb.RUNNING, start_time=5))
    assert info.end_time is None and info.status == "RUNNING"
    assert not info.to_proto().HasField("end_time")
    empty = Run.from_proto(pb.Run(info=pb.RunInfo(run_id="r")))
    assert empty.data == RunData() and empty.inputs == RunInputs() and empty.outputs == RunOutputs()
    experiment = Experiment.from_proto(pb.Experiment(experiment_id="1", name="e"))
    assert experiment.creation_time is None and experiment.tags == {}
    assert experiment.to_proto() == pb.Experiment(
        experiment_id="1", name="e", artifact_location="", lifecycle_stage=""
    )


def test_experiment_round_trip() -> None:
    message = pb.Experiment(
        experiment_id="4",
        name="e",
        artifact_location="s3://b/4",
        lifecycle_stage="deleted",
        creation_time=1,
        last_update_time=2,
        tags=[pb.ExperimentTag(key="a", value="b")],
    )
    experiment = Experiment.from_proto(message)
    assert experiment.tags == {"a": "b"}
    assert experiment.to_proto() == message


def test_metric_from_bulk_interval_carries_its_run() -> None:
    metric = Metric.from_proto(pb.MetricWithRunId(key="k", value=1.0, timestamp=2, step=3, run_id="r"))
    assert metric == Metric("k", 1.0, 2, 3, run_id="r")
    assert metric.to_proto() == pb.Metric(key="k", value=1.0, timestamp=2, step=3, run_id="r")


def test_view_types_and_statuses_parse_leniently() -> None:
    assert ViewType.from_string("active_only") is ViewType.ACTIVE_ONLY
    assert ViewType.from_string("Deleted") is ViewType.DELETED_ONLY
    assert ViewType.coerce("ALL") is ViewType.ALL and ViewType.coerce(2) is ViewType.DELETED_ONLY
    assert int(ViewType.ALL) == pb.ALL
    with pytest.raises(ValueError, match="Unknown view type 'archived'"):
        ViewType.from_string("archived")
    assert RunStatus.coerce(" killed ") is RunStatus.KILLED
    with pytest.raises(ValueError, match="expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"):
        RunStatus.coerce("done")


def test_paged_list_is_a_list_with_a_token() -> None:
    page = PagedList([1, 2], "next")
    assert page == [1, 2] and page.token == "next"
    assert repr(page) == "PagedList([1, 2], token='next')"
    assert PagedList([], None).token is None
