"""`search_runs` results as a pandas DataFrame with MLflow's column names.

Columns: `run_id`, `experiment_id`, `status`, `artifact_uri`, `start_time`, `end_time` (timezone-aware
UTC datetimes, NaT when unset), then `metrics.<key>` (NaN where a run lacks the metric), `params.<key>`
and `tags.<key>` (None where missing), keys in order of first appearance. pandas is imported only
here, when a DataFrame is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from polytrack.entities import Run

__all__ = ["INFO_COLUMNS", "runs_to_frame"]

INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


def runs_to_frame(runs: Sequence[Run]) -> Any:
    """A DataFrame with one row per run (see the module docstring for the columns)."""
    pd = importlib.import_module("pandas")

    count = len(runs)
    info: dict[str, list[Any]] = {column: [] for column in INFO_COLUMNS}
    metrics: dict[str, list[Any]] = {}
    params: dict[str, list[Any]] = {}
    tags: dict[str, list[Any]] = {}
    for row, run in enumerate(runs):
        info["run_id"].append(run.info.run_id)
        info["experiment_id"].append(run.info.experiment_id)
        info["status"].append(run.info.status)
        info["artifact_uri"].append(run.info.artifact_uri)
        info["start_time"].append(run.info.start_time)
        info["end_time"].append(run.info.end_time)
        for group, values, missing in (
            (metrics, run.data.metrics, float("nan")),
            (params, run.data.params, None),
            (tags, run.data.tags, None),
        ):
            for key, value in values.items():
                column = group.get(key)
                if column is None:
                    column = group[key] = [missing] * count
                column[row] = value
    data: dict[str, Any] = {
        "run_id": info["run_id"],
        "experiment_id": info["experiment_id"],
        "status": info["status"],
        "artifact_uri": info["artifact_uri"],
        "start_time": pd.to_datetime(pd.Series(info["start_time"], dtype="float64"), unit="ms", utc=True),
        "end_time": pd.to_datetime(pd.Series(info["end_time"], dtype="float64"), unit="ms", utc=True),
    }
    for prefix, group in (("metrics", metrics), ("params", params), ("tags", tags)):
        for key, column in group.items():
            data[f"{prefix}.{key}"] = column
    return pd.DataFrame(data)
