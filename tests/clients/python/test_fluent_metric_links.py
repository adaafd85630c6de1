"""`log_metric(s)(..., model_id=, dataset=)`: the model and dataset a measurement is about travel
through the logging queue (and the synchronous path) on every transport and come back from
`get_metric_history` as MLflow's `model_id`, `dataset_name` and `dataset_digest`."""

from __future__ import annotations

import os
from typing import Any

import pytest

import polytrack
from polytrack.entities import Dataset
from polytrack.errors import PolytrackException


class ForeignDataset:
    """A dataset object of another library: only `name` and `digest` matter here."""

    name = "holdout"
    digest = "f00d"
    source = "s3://bucket/holdout.parquet"


pytestmark = pytest.mark.usefixtures("fluent_state")


def _history(uri: str, run_id: str, key: str) -> list[tuple[Any, ...]]:
    with polytrack.Client(uri) as client:
        points = client.get_metric_history(run_id, key)
    return sorted((p.step, p.value, p.model_id, p.dataset_name, p.dataset_digest) for p in points)


def test_model_and_dataset_are_stored_with_each_point(tracking_uri: str) -> None:
    polytrack.set_tracking_uri(tracking_uri)
    polytrack.set_experiment(f"links-{os.urandom(5).hex()}")
    evaluation = Dataset(name="eval", digest="e1e1")
    with polytrack.start_run() as run:
        polytrack.log_metric("acc", 0.5, step=0, model_id="m-1", dataset=evaluation)
        polytrack.log_metric("acc", 0.6, step=1, model_id="m-1", dataset=ForeignDataset(), synchronous=True)
        polytrack.log_metric("acc", 0.7, step=2)
        polytrack.log_metrics({"acc": 0.8, "f1": 0.4}, step=3, model_id="m-2", dataset=evaluation)
        polytrack.log_metrics({"f1": 0.5}, step=4, dataset=ForeignDataset(), synchronous=True)
    run_id = run.info.run_id
    assert _history(tracking_uri, run_id, "acc") == [
        (0, 0.5, "m-1", "eval", "e1e1"),
        (1, 0.6, "m-1", "holdout", "f00d"),
        (2, 0.7, None, None, None),
        (3, 0.8, "m-2", "eval", "e1e1"),
    ]
    assert _history(tracking_uri, run_id, "f1") == [
        (3, 0.4, "m-2", "eval", "e1e1"),
        (4, 0.5, None, "holdout", "f00d"),
    ]


def test_bad_model_or_dataset_is_refused_at_the_call() -> None:
    with pytest.raises(PolytrackException, match="model_id must be a string"):
        polytrack.log_metric("acc", 1.0, run_id="r", model_id=7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="an object with a `name`"):
        polytrack.log_metrics({"acc": 1.0}, run_id="r", dataset=object())


class ForeignModel:
    """A logged model object of another library: only `model_id` matters here."""

    model_id = "m-foreign"


def test_log_input_records_models_as_well_as_datasets(tracking_uri: str) -> None:
    polytrack.set_tracking_uri(tracking_uri)
    polytrack.set_experiment(f"links-{os.urandom(5).hex()}")
    with polytrack.start_run() as run:
        polytrack.log_input(
            Dataset("train", "t1"), context="training", model=polytrack.LoggedModelInput("m-1")
        )
        polytrack.log_input(model=ForeignModel())
        polytrack.log_inputs(datasets=[None, Dataset("eval", "e1")], contexts=[None, "eval"], models=[None])
        polytrack.log_inputs(models=["m-2"])
        with pytest.raises(PolytrackException, match="needs a dataset or a model"):
            polytrack.log_input()
    inputs = polytrack.get_run(run.info.run_id).inputs
    assert sorted(item.dataset.name for item in inputs.dataset_inputs) == ["eval", "train"]
    assert sorted(model.model_id for model in inputs.model_inputs) == ["m-1", "m-2", "m-foreign"]
