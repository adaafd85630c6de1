"""Conversions between stored rows and the API's entity messages."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from polytrack.v1 import tracking_pb2 as pb
from polytrack_server.errors import InvalidParameter

MAX_DOUBLE: Final = sys.float_info.max
NAN: Final = float("nan")

_STATUSES: Final = (pb.RUNNING, pb.SCHEDULED, pb.FINISHED, pb.FAILED, pb.KILLED)
RUN_STATUS_NAMES: Final[Mapping[int, str]] = {status: pb.RunStatus.Name(status) for status in _STATUSES}
RUN_STATUS_NUMBERS: Final[Mapping[str, pb.RunStatus]] = {
    pb.RunStatus.Name(status): status for status in _STATUSES
}


def run_status_name(status: int) -> str:
    try:
        return RUN_STATUS_NAMES[status]
    except KeyError:
        raise InvalidParameter(f"Invalid run status {status}: it is not a RunStatus value") from None


def stored_metric_value(value: float) -> tuple[float, bool]:
    """(value, is_nan) as stored: NaN as 0 with the flag, +/-inf as +/-MAX_DOUBLE."""
    if math.isnan(value):
        return 0.0, True
    if math.isinf(value):
        return (MAX_DOUBLE if value > 0 else -MAX_DOUBLE), False
    return value, False


def experiment_message(row: Any, tags: Iterable[tuple[str, str]]) -> pb.Experiment:
    experiment = pb.Experiment(
        experiment_id=str(row.experiment_id),
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=row.lifecycle_stage,
        last_update_time=row.last_update_time,
        creation_time=row.creation_time,
    )
    add_tag = experiment.tags.add
    for key, value in tags:
        add_tag(key=key, value=value)
    return experiment


def run_info_values(row: Sequence[Any]) -> dict[str, Any]:
    """A run's `RunInfo` as plain values (see `interface.Plain`), from its values in
    `run_loader.RUN_COLUMNS` order; end_time only when the run has ended."""
    run_id, name, experiment_id, user_id, status, start_time, end_time, stage, artifact_uri = row
    info = {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": name,
        "experiment_id": str(experiment_id),
        "user_id": user_id,
        "status": RUN_STATUS_NUMBERS[status],
        "start_time": start_time,
    }
    if end_time is not None:
        info["end_time"] = end_time
    info["artifact_uri"] = artifact_uri
    info["lifecycle_stage"] = stage
    return info


def empty_run_values(row: Sequence[Any]) -> dict[str, Any]:
    """A run as plain values with its info and empty data, inputs and outputs (present, so that
    they serialise as {})."""
    return {"info": run_info_values(row), "data": {}, "inputs": {}, "outputs": {}}
