"""What `polytrack.Client` returns and takes: light, immutable views of the proto messages.

They have MLflow's shapes, so code written for `MlflowClient` reads them unchanged:
`run.info.run_id`, `run.info.status == "RUNNING"`, `run.data.metrics["loss"]` (the latest value),
`run.data.params`, `run.data.tags` and `experiment.tags` as plain dicts. Each has `from_proto()`
and `to_proto()`, the lossless bridge to the `polytrack.v1` messages.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from polytrack.v1 import tracking_pb2 as pb

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "InputTag",
    "LoggedModelInput",
    "LoggedModelOutput",
    "Metric",
    "PagedList",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunStatus",
    "RunTag",
    "ViewType",
]

T = TypeVar("T")


class ViewType(enum.IntEnum):
    """Which lifecycle stages a search returns (the values of `polytrack.v1.ViewType`)."""

    ACTIVE_ONLY = pb.ACTIVE_ONLY
    DELETED_ONLY = pb.DELETED_ONLY
    ALL = pb.ALL

    @classmethod
    def from_string(cls, text: str) -> ViewType:
        """`ACTIVE_ONLY`, `DELETED_ONLY` or `ALL` (any case), or the short `active`/`deleted`/`all`."""
        name = text.strip().upper()
        name = {"ACTIVE": "ACTIVE_ONLY", "DELETED": "DELETED_ONLY"}.get(name, name)
        try:
            return cls[name]
        except KeyError:
            raise ValueError(
                f"Unknown view type {text!r}; expected ACTIVE_ONLY, DELETED_ONLY or ALL"
            ) from None

    @classmethod
    def coerce(cls, value: int | str) -> ViewType:
        """A ViewType from a ViewType, its number or its name."""
        if isinstance(value, str):
            return cls.from_string(value)
        return cls(value)


class RunStatus(enum.StrEnum):
    """The statuses of a run; `RunInfo.status` holds one of these names as a string."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @classmethod
    def coerce(cls, value: str) -> RunStatus:
        """A RunStatus from its name, in any case."""
        try:
            return cls(value.strip().upper())
        except ValueError:
            names = ", ".join(status.value for status in cls)
            raise ValueError(f"Unknown run status {value!r}; expected one of {names}") from None


class PagedList(list[T], Generic[T]):
    """One page of search results; `token` fetches the next page, None on the last one."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token

    def __repr__(self) -> str:
        return f"PagedList({list.__repr__(self)}, token={self.token!r})"


# --- key/value pairs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """A run's param: a key and its (string) value."""

    key: str
    value: str

    @classmethod
    def from_proto(cls, message: pb.Param) -> Param:
        """The Param of a `polytrack.v1.Param`."""
        return cls(message.key, message.value)

    def to_proto(self) -> pb.Param:
        """This param as a `polytrack.v1.Param`."""
        return pb.Param(key=self.key, value=self.value)


@dataclass(frozen=True)
class RunTag:
    """A run's tag: a key and its (string) value."""

    key: str
    value: str

    @classmethod
    def from_proto(cls, message: pb.RunTag) -> RunTag:
        """The RunTag of a `polytrack.v1.RunTag`."""
        return cls(message.key, message.value)

    def to_proto(self) -> pb.RunTag:
        """This tag as a `polytrack.v1.RunTag`."""
        return pb.RunTag(key=self.key, value=self.value)


@dataclass(frozen=True)
class ExperimentTag:
    """An experiment's tag: a key and its (string) value."""

    key: str
    value: str

    @classmethod
    def from_proto(cls, message: pb.ExperimentTag) -> ExperimentTag:
        """The ExperimentTag of a `polytrack.v1.ExperimentTag`."""
        return cls(message.key, message.value)

    def to_proto(self) -> pb.ExperimentTag:
        """This tag as a `polytrack.v1.ExperimentTag`."""
        return pb.ExperimentTag(key=self.key, value=self.value)


@dataclass(frozen=True)
class InputTag:
    """A tag on a dataset input (e.g. `mlflow.data.context` = `training`)."""

    key: str
    value: str

    @classmethod
    def from_proto(cls, message: pb.InputTag) -> InputTag:
        """The InputTag of a `polytrack.v1.InputTag`."""
        return cls(message.key, message.value)

    def to_proto(self) -> pb.InputTag:
        """This tag as a `polytrack.v1.InputTag`."""
        return pb.InputTag(key=self.key, value=self.value)


# --- metrics -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """One measurement of a metric: value at a timestamp (ms since the epoch) and a step.

    `run_id` is set on the points of `Client.get_metric_history_bulk_interval`; the dataset and
    model fields are set when the measurement was logged with them.
    """

    key: str
    value: float
    timestamp: int
    step: int = 0
    dataset_name: str | None = None
    dataset_digest: str | None = None
    model_id: str | None = None
    run_id: str | None = None

    @classmethod
    def from_proto(cls, message: pb.Metric | pb.MetricWithRunId) -> Metric:
        """The Metric of a `polytrack.v1.Metric` or `MetricWithRunId`."""
        run_id = message.run_id if message.HasField("run_id") else None
        if isinstance(message, pb.MetricWithRunId):
            return cls(message.key, message.value, message.timestamp, message.step, run_id=run_id)
        return cls(
            message.key,
            message.value,
            message.timestamp,
            message.step,
            dataset_name=message.dataset_name if message.HasField("dataset_name") else None,
            dataset_digest=message.dataset_digest if message.HasField("dataset_digest") else None,
            model_id=message.model_id if message.HasField("model_id") else None,
            run_id=run_id,
        )

    def to_proto(self) -> pb.Metric:
        """This measurement as a `polytrack.v1.Metric`."""
        message = pb.Metric(key=self.key, value=self.value, timestamp=self.timestamp, step=self.step)
        for name in ("dataset_name", "dataset_digest", "model_id", "run_id"):
            value = getattr(self, name)
            if value is not None:
                setattr(message, name, value)
        return message


# --- experiments ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    """An experiment: identity, artifact location, lifecycle stage (`active`/`deleted`) and tags."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    @classmethod
    def from_proto(cls, message: pb.Experiment) -> Experiment:
        """The Experiment of a `polytrack.v1.Experiment`."""
        return cls(
            experiment_id=message.experiment_id,
            name=message.name,
            artifact_location=message.artifact_location,
            lifecycle_stage=message.lifecycle_stage,
            tags={tag.key: tag.value for tag in message.tags},
            creation_time=message.creation_time if message.HasField("creation_time") else None,
            last_update_time=message.last_update_time if message.HasField("last_update_time") else None,
        )

    def to_proto(self) -> pb.Experiment:
        """This experiment as a `polytrack.v1.Experiment`."""
        message = pb.Experiment(
            experiment_id=self.experiment_id,
            name=self.name,
            artifact_location=self.artifact_location,
            lifecycle_stage=self.lifecycle_stage,
            tags=[pb.ExperimentTag(key=k, value=v) for k, v in self.tags.items()],
        )
        if self.creation_time is not None:
            message.creation_time = self.creation_time
        if self.last_update_time is not None:
            message.last_update_time = self.last_update_time
        return message


# --- runs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInfo:
    """A run's metadata. `status` is a RunStatus name (`"RUNNING"`, `"FINISHED"`, ...); times are
    milliseconds since the epoch, `end_time` None while the run has not ended."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        """Deprecated alias of `run_id`."""
        return self.run_id

    @classmethod
    def from_proto(cls, message: pb.RunInfo) -> RunInfo:
        """The RunInfo of a `polytrack.v1.RunInfo`."""
        status = pb.RunStatus.Name(message.status) if message.HasField("status") else ""
        return cls(
            run_id=message.run_id or message.run_uuid,
            experiment_id=message.experiment_id,
            run_name=message.run_name,
            user_id=message.user_id,
            status=status,
            start_time=message.start_time if message.HasField("start_time") else None,
            end_time=message.end_time if message.HasField("end_time") else None,
            artifact_uri=message.artifact_uri,
            lifecycle_stage=message.lifecycle_stage,
        )

    def to_proto(self) -> pb.RunInfo:
        """This metadata as a `polytrack.v1.RunInfo`."""
        message = pb.RunInfo(
            run_id=self.run_id,
            run_uuid=self.run_id,
            run_name=self.run_name,
            experiment_id=self.experiment_id,
            user_id=self.user_id,
            artifact_uri=self.artifact_uri,
            lifecycle_stage=self.lifecycle_stage,
            status=self.status or None,
        )
        if self.start_time is not None:
            message.start_time = self.start_time
        if self.end_time is not None:
            message.end_time = self.end_time
        return message


@dataclass(frozen=True)
class RunData:
    """What a run logged: the latest value of each metric, its params and its tags, as dicts.

    `latest_metrics` holds the full measurements behind `metrics` (with timestamp and step).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    latest_metrics: tuple[Metric, ...] = ()

    @classmethod
    def from_proto(cls, message: pb.RunData) -> RunData:
        """The RunData of a `polytrack.v1.RunData`."""
        latest = tuple(Metric.from_proto(metric) for metric in message.metrics)
        return cls(
            metrics={metric.key: metric.value for metric in latest},
            params={param.key: param.value for param in message.params},
            tags={tag.key: tag.value for tag in message.tags},
            latest_metrics=latest,
        )

    def to_proto(self) -> pb.RunData:
        """This data as a `polytrack.v1.RunData`."""
        return pb.RunData(
            metrics=[metric.to_proto() for metric in self.latest_metrics],
            params=[pb.Param(key=k, value=v) for k, v in self.params.items()],
            tags=[pb.RunTag(key=k, value=v) for k, v in self.tags.items()],
        )


@dataclass(frozen=True)
class Dataset:
    """A dataset's identity (name and digest) and description (source, schema, profile)."""

    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str | None = None
    profile: str | None = None

    @classmethod
    def from_proto(cls, message: pb.Dataset) -> Dataset:
        """The Dataset of a `polytrack.v1.Dataset`."""
        return cls(
            name=message.name,
            digest=message.digest,
            source_type=message.source_type,
            source=message.source,
            schema=message.schema if message.HasField("schema") else None,
            profile=message.profile if message.HasField("profile") else None,
        )

    def to_proto(self) -> pb.Dataset:
        """This dataset as a `polytrack.v1.Dataset`."""
        message = pb.Dataset(
            name=self.name, digest=self.digest, source_type=self.source_type, source=self.source
        )
        if self.schema is not None:
            message.schema = self.schema
        if self.profile is not None:
            message.profile = self.profile
        return message


@dataclass(frozen=True)
class DatasetInput:
    """A dataset a run used, with tags describing the use."""

    dataset: Dataset
    tags: tuple[InputTag, ...] = ()

    @classmethod
    def from_proto(cls, message: pb.DatasetInput) -> DatasetInput:
        """The DatasetInput of a `polytrack.v1.DatasetInput`."""
        return cls(Dataset.from_proto(message.dataset), tuple(InputTag.from_proto(t) for t in message.tags))

    def to_proto(self) -> pb.DatasetInput:
        """This input as a `polytrack.v1.DatasetInput`."""
        return pb.DatasetInput(dataset=self.dataset.to_proto(), tags=[tag.to_proto() for tag in self.tags])


@dataclass(frozen=True)
class LoggedModelInput:
    """A logged model a run used."""

    model_id: str

    @classmethod
    def from_proto(cls, message: pb.ModelInput) -> LoggedModelInput:
        """The LoggedModelInput of a `polytrack.v1.ModelInput`."""
        return cls(message.model_id)

    def to_proto(self) -> pb.ModelInput:
        """This input as a `polytrack.v1.ModelInput`."""
        return pb.ModelInput(model_id=self.model_id)


@dataclass(frozen=True)
class LoggedModelOutput:
    """A logged model a run produced, at a step."""

    model_id: str
    step: int = 0

    @classmethod
    def from_proto(cls, message: pb.ModelOutput) -> LoggedModelOutput:
        """The LoggedModelOutput of a `polytrack.v1.ModelOutput`."""
        return cls(message.model_id, message.step)

    def to_proto(self) -> pb.ModelOutput:
        """This output as a `polytrack.v1.ModelOutput`."""
        return pb.ModelOutput(model_id=self.model_id, step=self.step)


@dataclass(frozen=True)
class RunInputs:
    """The datasets and logged models a run used."""

    dataset_inputs: tuple[DatasetInput, ...] = ()
    model_inputs: tuple[LoggedModelInput, ...] = ()

    @classmethod
    def from_proto(cls, message: pb.RunInputs) -> RunInputs:
        """The RunInputs of a `polytrack.v1.RunInputs`."""
        return cls(
            tuple(DatasetInput.from_proto(d) for d in message.dataset_inputs),
            tuple(LoggedModelInput.from_proto(m) for m in message.model_inputs),
        )

    def to_proto(self) -> pb.RunInputs:
        """These inputs as a `polytrack.v1.RunInputs`."""
        return pb.RunInputs(
            dataset_inputs=[d.to_proto() for d in self.dataset_inputs],
            model_inputs=[m.to_proto() for m in self.model_inputs],
        )


@dataclass(frozen=True)
class RunOutputs:
    """The logged models a run produced."""

    model_outputs: tuple[LoggedModelOutput, ...] = ()

    @classmethod
    def from_proto(cls, message: pb.RunOutputs) -> RunOutputs:
        """The RunOutputs of a `polytrack.v1.RunOutputs`."""
        return cls(tuple(LoggedModelOutput.from_proto(m) for m in message.model_outputs))

    def to_proto(self) -> pb.RunOutputs:
        """These outputs as a `polytrack.v1.RunOutputs`."""
        return pb.RunOutputs(model_outputs=[m.to_proto() for m in self.model_outputs])


@dataclass(frozen=True)
class Run:
    """A run: `info` (metadata), `data` (metrics, params, tags), `inputs` and `outputs`."""

    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)
    outputs: RunOutputs = field(default_factory=RunOutputs)

    @classmethod
    def from_proto(cls, message: pb.Run) -> Run:
        """The Run of a `polytrack.v1.Run`."""
        return cls(
            info=RunInfo.from_proto(message.info),
            data=RunData.from_proto(message.data),
            inputs=RunInputs.from_proto(message.inputs),
            outputs=RunOutputs.from_proto(message.outputs),
        )

    def to_proto(self) -> pb.Run:
        """This run as a `polytrack.v1.Run`."""
        return pb.Run(
            info=self.info.to_proto(),
            data=self.data.to_proto(),
            inputs=self.inputs.to_proto(),
            outputs=self.outputs.to_proto(),
        )
