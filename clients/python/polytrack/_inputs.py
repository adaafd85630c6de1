"""Turning what users pass to `log_input(s)` and `log_metric(s)` into what the client sends.

Accepted: `polytrack.Dataset` (the entity), `polytrack.v1` `Dataset` / `DatasetInput` messages, and
any object with `name`, `digest` and optionally `source_type`, `source`, `schema`, `profile`
attributes (MLflow-style dataset objects included: a source object is stored through its
`to_json()`, a schema or profile that is not a string as JSON). A context becomes the input tag
`mlflow.data.context`, as in MLflow.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from polytrack._batches import METRIC, Item
from polytrack.entities import Dataset, DatasetInput, InputTag, LoggedModelInput
from polytrack.errors import PolytrackException
from polytrack.v1 import tracking_pb2

__all__ = ["CONTEXT_TAG", "dataset_input", "metric_dataset", "metric_items", "metric_value", "model_input"]

CONTEXT_TAG = "mlflow.data.context"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return str(to_json())
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _dataset_of(value: Any) -> Dataset:
    if isinstance(value, Dataset):
        return value
    if isinstance(value, tracking_pb2.Dataset):
        return Dataset.from_proto(value)
    name = getattr(value, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"log_input takes a polytrack.Dataset, a polytrack.v1 Dataset or DatasetInput, or an object "
            f"with a `name`; got {type(value).__name__}"
        )
    source = getattr(value, "source", "")
    source_type = getattr(value, "source_type", None)
    if source_type is None and hasattr(source, "_get_source_type"):
        source_type = source._get_source_type()
    schema = _text(getattr(value, "schema", None))
    profile = _text(getattr(value, "profile", None))
    source_text = _text(source) or ""
    digest = getattr(value, "digest", None)
    if not digest:
        material = json.dumps([name, source_text, schema, profile]).encode()
        digest = hashlib.sha256(material).hexdigest()[:8]
    return Dataset(
        name=name,
        digest=str(digest),
        source_type=str(source_type or ""),
        source=source_text,
        schema=schema,
        profile=profile,
    )


def metric_dataset(value: Any) -> tuple[str | None, str | None]:
    """The (dataset_name, dataset_digest) a metric logged with `dataset=value` refers to: those of
    any value `log_input` takes (its digest computed the same way when it has none); (None, None)
    for None."""
    if value is None:
        return None, None
    if isinstance(value, DatasetInput):
        dataset = value.dataset
    elif isinstance(value, tracking_pb2.DatasetInput):
        dataset = Dataset.from_proto(value.dataset)
    else:
        dataset = _dataset_of(value)
    return dataset.name, dataset.digest


def dataset_input(
    value: Any, context: str | None = None, tags: Mapping[str, Any] | None = None
) -> DatasetInput:
    """The DatasetInput for `value`, with `context` and `tags` added to its input tags."""
    if isinstance(value, tracking_pb2.DatasetInput):
        base = DatasetInput.from_proto(value)
    elif isinstance(value, DatasetInput):
        base = value
    else:
        base = DatasetInput(_dataset_of(value))
    extra = {key: str(item) for key, item in (tags or {}).items()}
    if context is not None:
        extra[CONTEXT_TAG] = context
    if not extra:
        return base
    kept = tuple(tag for tag in base.tags if tag.key not in extra)
    return DatasetInput(base.dataset, kept + tuple(InputTag(key, value) for key, value in extra.items()))


def model_input(value: Any) -> LoggedModelInput:
    """The LoggedModelInput for `value`: one, a model id, or an object with a `model_id`."""
    if isinstance(value, LoggedModelInput):
        return value
    model_id = value if isinstance(value, str) else getattr(value, "model_id", None)
    if not isinstance(model_id, str) or not model_id:
        raise TypeError(
            f"a model input is a polytrack.LoggedModelInput or an object with a `model_id`; "
            f"got {type(value).__name__}"
        )
    return LoggedModelInput(model_id)


def metric_value(key: str, value: Any) -> float:
    """`value` as a metric's float, refusing what is not a number (booleans included)."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise PolytrackException(
            f"Got invalid value {value!r} for metric {key!r}: a number (64-bit float) is required",
            "INVALID_PARAMETER_VALUE",
        )
    return float(value)


def metric_item(
    target: str,
    key: str,
    value: Any,
    timestamp: int | None,
    step: int | None,
    model_id: str | None = None,
    dataset_name: str | None = None,
    dataset_digest: str | None = None,
) -> Item:
    """The METRIC item of one point of `target` run (now and step 0 by default). `log_metric` calls
    it directly when no model or dataset is linked: it runs once per point logged."""
    return Item(
        target,
        METRIC,
        key,
        metric_value(key, value),
        int(time.time() * 1000) if timestamp is None else int(timestamp),
        0 if step is None else int(step),
        model_id,
        dataset_name,
        dataset_digest,
    )


def metric_items(
    target: str,
    metrics: Mapping[str, Any],
    timestamp: int | None,
    step: int | None,
    model_id: str | None,
    dataset: Any,
) -> list[Item]:
    """METRIC items of `target` run for `metrics` (key -> number) at one timestamp (now by default)
    and step (0 by default), about the logged model `model_id` and the dataset `dataset`."""
    when = int(time.time() * 1000) if timestamp is None else int(timestamp)
    at = 0 if step is None else int(step)
    dataset_name, dataset_digest = metric_dataset(dataset)
    if model_id is not None and not isinstance(model_id, str):
        raise PolytrackException(
            f"model_id must be a string (a logged model's id), got {type(model_id).__name__}",
            "INVALID_PARAMETER_VALUE",
        )
    return [
        metric_item(target, key, value, when, at, model_id or None, dataset_name, dataset_digest)
        for key, value in metrics.items()
    ]
