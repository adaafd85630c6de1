"""Turning what users pass to `log_input` into the `DatasetInput` entity `Client.log_inputs` takes.

Accepted: `polytrack.Dataset` (the entity), `polytrack.v1` `Dataset` / `DatasetInput` messages, and
any object with `name`, `digest` and optionally `source_type`, `source`, `schema`, `profile`
attributes (MLflow-style dataset objects included: a source object is stored through its
`to_json()`, a schema or profile that is not a string as JSON). A context becomes the input tag
`mlflow.data.context`, as in MLflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from polytrack.entities import Dataset, DatasetInput, InputTag
from polytrack.v1 import tracking_pb2

__all__ = ["CONTEXT_TAG", "dataset_input"]

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
