"""polytrack: track experiments and runs against a polytrack (or MLflow) server.

The fluent API has MLflow's names, so `import polytrack as mlflow` is enough to port a script:

    import polytrack
    polytrack.set_tracking_uri("http://localhost:5000")   # or grpc://..., or sqlite:///polytrack.db
    polytrack.set_experiment("my_experiment")
    with polytrack.start_run(run_name="baseline"):
        polytrack.log_param("learning_rate", 0.01)
        polytrack.log_metric("train_loss", 0.25, step=1)

`polytrack.Client` is the explicit API (MlflowClient's methods). Logging from the fluent API is
queued and sent in batches by a background thread; `polytrack.flush()` waits for it.
"""

from importlib import metadata as _metadata

from polytrack import artifacts as artifacts
from polytrack._artifacts_fluent import (
    list_artifacts,
    load_dict,
    load_text,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_text,
)
from polytrack._logging_queue import PolytrackSpoolWarning
from polytrack._registry_fluent import register_model, resolve_model_uri
from polytrack._run_context import ActiveRun
from polytrack.client import Client
from polytrack.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
    ViewType,
)
from polytrack.errors import PolytrackException
from polytrack.fluent import (
    active_run,
    create_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush,
    flush_async_logging,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_input,
    log_inputs,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    search_experiments,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from polytrack.registry_entities import ModelVersion, RegisteredModel

try:
    __version__: str = _metadata.version("polytrack")
except _metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ActiveRun",
    "Client",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "InputTag",
    "LoggedModelInput",
    "LoggedModelOutput",
    "Metric",
    # Model registry.
    "ModelVersion",
    "PagedList",
    "Param",
    "PolytrackException",
    "PolytrackSpoolWarning",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunOutputs",
    "RunStatus",
    "RunTag",
    "ViewType",
    "__version__",
    "active_run",
    "create_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "flush_async_logging",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "last_active_run",
    "list_artifacts",
    "load_dict",
    "load_text",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "resolve_model_uri",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
