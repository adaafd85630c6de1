"""The fluent API (`import polytrack as mlflow`) end to end: over the embedded SQLite store, and over
REST and gRPC to a live `polytrack server` — run lifecycle, nesting, resuming, automatic tags,
batched logging, reporting of refused data, interpreter exit, and a server killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import polytrack
from polytrack._run_context import state
from polytrack.cli import main
from polytrack.entities import Dataset
from polytrack.v1 import tracking_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))

from live_server import ServerHandle, start_server

pytestmark = pytest.mark.usefixtures("fluent_state")


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    polytrack.set_tracking_uri(uri)
    return uri


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("rest", marks=pytest.mark.e2e),
        pytest.param("grpc", marks=pytest.mark.e2e),
    ]
)
def any_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A tracking URI of each kind, already set with set_tracking_uri."""
    if request.param == "embedded":
        uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    else:
        uri = request.getfixturevalue(f"{request.param}_uri")
    polytrack.set_tracking_uri(uri)
    return uri


def unique(prefix: str) -> str:
    return f"{prefix}-{os.urandom(5).hex()}"


def count_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every LogBatch the logging queue sends (on the current tracking URI)."""
    connection = state.connection()
    sizes: list[int] = []
    original = connection.queue_client.log_batch

    def counting(run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> Any:
        metrics, params, tags = list(metrics), list(params), list(tags)
        sizes.append(len(metrics) + len(params) + len(tags))
        return original(run_id, metrics=metrics, params=params, tags=tags)

    def counting_prepared(request: Any) -> Any:
        sizes.append(
            len(request.metrics)
            + len(request.metric_columns.values)
            + len(request.params)
            + len(request.tags)
        )
        return original_prepared(request)

    original_prepared = connection.queue_client.send_log_batch
    monkeypatch.setattr(connection.queue_client, "log_batch", counting)
    # Over gRPC and embedded, the queue sends prepared requests with their points as columns.
    monkeypatch.setattr(connection.queue_client, "send_log_batch", counting_prepared)
    return sizes


# --- the seed scenario, on every transport -------------------------------------------------------------
def test_the_seed_scenario(any_uri: str) -> None:
    experiment = unique("my_experiment")
    polytrack.set_experiment(experiment)
    losses = [1.0 / (epoch + 1) for epoch in range(10)]
    with polytrack.start_run(run_name="baseline") as run:
        polytrack.log_param("learning_rate", 0.01)
        polytrack.log_params({"batch_size": 64, "num_epochs": 10})
        for epoch, loss in enumerate(losses):
            polytrack.log_metric("train_loss", loss, step=epoch)
        polytrack.set_tag("team", "vision")
    run_id = run.info.run_id
    runs = polytrack.search_runs(
        filter_string="metrics.train_loss < 0.2", order_by=["metrics.train_loss"], output_format="list"
    )
    assert [found.info.run_id for found in runs] == [run_id]
    fetched = polytrack.get_run(run_id)
    assert fetched.info.status == "FINISHED" and fetched.info.run_name == "baseline"
    assert fetched.info.experiment_id == polytrack.get_experiment_by_name(experiment).experiment_id
    assert fetched.data.metrics == {"train_loss": 0.1}
    assert fetched.data.params == {"learning_rate": "0.01", "batch_size": "64", "num_epochs": "10"}
    assert fetched.data.tags["team"] == "vision"
    with polytrack.Client(any_uri) as client:
        history = client.get_metric_history(run_id, "train_loss")
    assert [(point.step, point.value) for point in history] == list(enumerate(losses))


def test_ten_thousand_metrics_arrive_complete_in_far_fewer_requests(
    any_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    polytrack.set_experiment(unique("volume"))
    sizes = count_batches(monkeypatch)
    with polytrack.start_run() as run:
        for step in range(10_000):
            polytrack.log_metric("loss", step * 0.25, step=step)
    with polytrack.Client(any_uri) as client:
        history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(point.step for point in history) == list(range(10_000))
    assert sum(sizes) == 10_000 and len(sizes) <= 100 and max(sizes) <= 1000


# --- run lifecycle -----------------------------------------------------------------------------------
def test_an_exception_ends_the_run_failed_and_ctrl_c_killed(sqlite_uri: str) -> None:
    with pytest.raises(ValueError, match="diverged"), polytrack.start_run() as failing:
        polytrack.log_metric("loss", float("nan"))
        raise ValueError("diverged")
    with pytest.raises(KeyboardInterrupt), polytrack.start_run() as interrupted:
        raise KeyboardInterrupt
    assert polytrack.get_run(failing.info.run_id).info.status == "FAILED"
    assert polytrack.get_run(interrupted.info.run_id).info.status == "KILLED"
    assert polytrack.active_run() is None


def test_nested_runs_record_their_parent(sqlite_uri: str) -> None:
    with polytrack.start_run(run_name="parent") as parent:
        with pytest.raises(polytrack.PolytrackException, match="already active"):
            polytrack.start_run()
        with polytrack.start_run(run_name="child", nested=True) as child:
            assert polytrack.active_run() is child
            polytrack.log_metric("depth", 1)
        assert polytrack.active_run() is parent
    child_run = polytrack.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in polytrack.get_run(parent.info.run_id).data.tags


def test_ending_a_parent_ends_the_children_left_open(sqlite_uri: str) -> None:
    parent = polytrack.start_run()
    child = polytrack.start_run(nested=True)
    with pytest.raises(RuntimeError), parent:
        raise RuntimeError("stop")
    assert polytrack.get_run(child.info.run_id).info.status == "FAILED"
    assert polytrack.active_run() is None


def test_a_run_can_be_resumed_by_id(sqlite_uri: str) -> None:
    with polytrack.start_run(tags={"phase": "one"}) as first:
        polytrack.log_metric("loss", 1.0, step=0)
    run_id = first.info.run_id
    with polytrack.start_run(run_id=run_id, tags={"phase": "two"}) as resumed:
        assert resumed.info.run_id == run_id and resumed.info.status == "RUNNING"
        assert resumed.data.metrics == {"loss": 1.0}
        polytrack.log_metric("loss", 0.5, step=1)
    run = polytrack.get_run(run_id)
    assert (
        run.info.status == "FINISHED"
        and run.data.metrics == {"loss": 0.5}
        and run.data.tags["phase"] == "two"
    )
    polytrack.delete_run(run_id)
    with pytest.raises(polytrack.PolytrackException, match="deleted state"):
        polytrack.start_run(run_id=run_id)


def test_the_run_id_variable_resumes_a_run(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with polytrack.start_run() as first:
        pass
    monkeypatch.setenv("MLFLOW_RUN_ID", first.info.run_id)
    with polytrack.start_run() as again:
        assert again.info.run_id == first.info.run_id


def test_new_runs_get_the_automatic_tags(
    sqlite_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / ".git" / "refs" / "heads").mkdir(parents=True)
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".git" / "refs" / "heads" / "main").write_text("b" * 40 + "\n")
    script = project / "train.py"
    script.write_text("")
    monkeypatch.setattr(sys, "argv", [str(script), "--epochs", "3"])
    with polytrack.start_run(description="first try", tags={"mlflow.user": "alice"}) as run:
        pass
    tags = polytrack.get_run(run.info.run_id).data.tags
    assert tags["mlflow.source.name"] == str(script)
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.git.commit"] == "b" * 40
    assert tags["mlflow.note.content"] == "first try"
    assert tags["mlflow.user"] == "alice"  # given tags win over automatic ones
    assert tags["mlflow.runName"]  # named by the server
    assert polytrack.get_run(run.info.run_id).info.user_id == "alice"


def test_logging_without_an_active_run_starts_one(sqlite_uri: str) -> None:
    polytrack.log_metric("loss", 0.3)
    run = polytrack.active_run()
    assert run is not None
    polytrack.end_run()
    assert polytrack.last_active_run() is not None
    last = polytrack.last_active_run()
    assert last is not None and last.info.run_id == run.info.run_id and last.data.metrics == {"loss": 0.3}
    assert last.info.status == "FINISHED"


def test_each_thread_has_its_own_active_run(sqlite_uri: str) -> None:
    started: dict[str, str] = {}
    errors: list[BaseException] = []

    def train(name: str) -> None:
        try:
            with polytrack.start_run(run_name=name) as run:
                started[name] = run.info.run_id
                for step in range(200):
                    polytrack.log_metric("loss", step, step=step)
                polytrack.set_tag("worker", name)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=train, args=(f"worker-{index}",)) for index in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(set(started.values())) == 3
    for name, run_id in started.items():
        run = polytrack.get_run(run_id)
        assert run.data.tags["worker"] == name and run.data.metrics == {"loss": 199.0}


# --- experiments -------------------------------------------------------------------------------------
def test_set_experiment_creates_finds_and_refuses_deleted_ones(sqlite_uri: str) -> None:
    created = polytrack.set_experiment("vision")
    assert polytrack.set_experiment("vision").experiment_id == created.experiment_id
    assert polytrack.set_experiment(experiment_id=created.experiment_id).name == "vision"
    with polytrack.start_run() as run:
        pass
    assert run.info.experiment_id == created.experiment_id
    with pytest.raises(polytrack.PolytrackException) as missing:
        polytrack.set_experiment(experiment_id="98765")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with polytrack.Client(sqlite_uri) as client:
        client.delete_experiment(created.experiment_id)
    with pytest.raises(polytrack.PolytrackException, match="deleted experiment"):
        polytrack.set_experiment("vision")
    assert polytrack.get_experiment(created.experiment_id).lifecycle_stage == "deleted"  # not restored
    with pytest.raises(polytrack.PolytrackException, match="exactly one"):
        polytrack.set_experiment()


def test_the_experiment_comes_from_the_environment(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with polytrack.start_run() as default:
        pass
    assert default.info.experiment_id == "0"
    other = polytrack.create_experiment("by-id")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", other)
    with polytrack.start_run() as by_id:
        pass
    assert by_id.info.experiment_id == other
    monkeypatch.setenv("POLYTRACK_EXPERIMENT_NAME", "from-env")
    with polytrack.start_run() as by_name:
        pass
    assert by_name.info.experiment_id == polytrack.get_experiment_by_name("from-env").experiment_id
    names = [experiment.name for experiment in polytrack.search_experiments()]
    assert {"Default", "by-id", "from-env"} <= set(names)
    assert len(polytrack.search_experiments(max_results=1)) == 1


def test_the_tracking_uri_can_be_a_path_or_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'env.db'}")
    assert polytrack.get_tracking_uri() == f"sqlite:///{tmp_path / 'env.db'}"
    polytrack.set_tracking_uri(tmp_path / "local.db")
    assert polytrack.get_tracking_uri() == f"sqlite:///{tmp_path / 'local.db'}"
    with polytrack.start_run():
        polytrack.log_metric("x", 1)
    assert (tmp_path / "local.db").exists()


# --- what the server refuses ------------------------------------------------------------------------
def test_a_refused_metric_is_raised_at_end_run_and_the_rest_is_kept(sqlite_uri: str) -> None:
    with polytrack.start_run() as run:
        for step in range(100):
            polytrack.log_metric("loss", step, step=step)
        polytrack.log_metric("bad/../key", 1.0)
        with pytest.raises(polytrack.PolytrackException) as raised:
            polytrack.end_run()
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE" and "bad/../key" in raised.value.message
    finished = polytrack.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED" and finished.data.metrics == {"loss": 99.0}


def test_synchronous_calls_raise_at_once(sqlite_uri: str) -> None:
    with polytrack.start_run() as run:
        with pytest.raises(polytrack.PolytrackException, match=r"bad/\.\./key"):
            polytrack.log_metric("bad/../key", 1.0, synchronous=True)
        polytrack.log_param("lr", 0.1, synchronous=True)
        with pytest.raises(polytrack.PolytrackException, match="Changing param values"):
            polytrack.log_param("lr", 0.2, synchronous=True)
        polytrack.set_tag("phase", "a")
        polytrack.set_tag("phase", "b", synchronous=True)  # after the queued "a"
        polytrack.flush()
    assert polytrack.get_run(run.info.run_id).data.tags["phase"] == "b"


def test_values_that_are_not_numbers_are_refused_by_the_caller(sqlite_uri: str) -> None:
    with polytrack.start_run():
        for value in ("0.5", None, True):
            with pytest.raises(polytrack.PolytrackException, match="invalid value"):
                polytrack.log_metric("loss", value)  # type: ignore[arg-type]


# --- other logging calls -------------------------------------------------------------------------------
def test_batches_of_metrics_params_and_tags(sqlite_uri: str) -> None:
    with polytrack.start_run() as run:
        polytrack.log_metrics({"a": 1, "b": 2.5}, step=3, timestamp=1_700_000_000_000)
        polytrack.log_params({f"p{index}": index for index in range(250)})
        polytrack.set_tags({"x": 1, "y": "two"})
        polytrack.set_tag("z", "3")
        polytrack.delete_tag("z")
    fetched = polytrack.get_run(run.info.run_id)
    assert fetched.data.metrics == {"a": 1.0, "b": 2.5} and len(fetched.data.params) == 250
    assert {"x": "1", "y": "two"}.items() <= fetched.data.tags.items() and "z" not in fetched.data.tags
    with polytrack.Client(sqlite_uri) as client:
        (point,) = client.get_metric_history(run.info.run_id, "b")
    assert (point.step, point.timestamp) == (3, 1_700_000_000_000)


def test_dataset_inputs(sqlite_uri: str) -> None:
    class MlflowStyleDataset:
        name = "reviews"
        digest = "1a2b3c4d"
        source_type = "local"
        source = '{"uri": "/data/reviews.csv"}'
        schema = {"columns": ["text", "label"]}
        profile = None

    with polytrack.start_run() as run:
        polytrack.log_input(Dataset("train", "abcd1234", "local", "/data/train.csv"), context="training")
        polytrack.log_input(
            tracking_pb2.DatasetInput(
                dataset=tracking_pb2.Dataset(name="eval", digest="ee", source_type="s", source="x")
            )
        )
        polytrack.log_inputs([MlflowStyleDataset()], contexts=["validation"], tags_list=[{"owner": "ml"}])
    inputs = {item.dataset.name: item for item in polytrack.get_run(run.info.run_id).inputs.dataset_inputs}
    assert set(inputs) == {"train", "eval", "reviews"}
    assert {tag.key: tag.value for tag in inputs["train"].tags} == {"mlflow.data.context": "training"}
    reviews = inputs["reviews"]
    assert reviews.dataset.schema == '{"columns": ["text", "label"]}'
    assert {tag.key: tag.value for tag in reviews.tags} == {
        "owner": "ml",
        "mlflow.data.context": "validation",
    }


# --- search --------------------------------------------------------------------------------------------
def test_search_runs_as_a_dataframe(sqlite_uri: str) -> None:
    pandas = pytest.importorskip("pandas")
    polytrack.set_experiment("frame")
    for index in range(3):
        with polytrack.start_run(run_name=f"r{index}"):
            polytrack.log_metric("loss", 1.0 / (index + 1))
            if index:
                polytrack.log_param("depth", index)
    frame = polytrack.search_runs(order_by=["metrics.loss DESC"])
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 3
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert {"metrics.loss", "params.depth", "tags.mlflow.runName"} <= set(frame.columns)
    assert list(frame["tags.mlflow.runName"]) == ["r0", "r1", "r2"]
    assert frame["params.depth"].isna().tolist() == [True, False, False]
    assert str(frame["start_time"].dt.tz) == "UTC"
    empty = polytrack.search_runs(filter_string="metrics.loss > 5")
    assert len(empty) == 0 and "run_id" in empty.columns


def test_search_runs_without_pandas(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with polytrack.start_run() as run:
        pass
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    assert [found.info.run_id for found in polytrack.search_runs()] == [run.info.run_id]
    with pytest.raises(polytrack.PolytrackException, match="needs pandas"):
        polytrack.search_runs(output_format="pandas")
    other = polytrack.create_experiment("other")
    assert polytrack.search_runs(experiment_names=["other"], output_format="list") == []
    assert len(polytrack.search_runs(search_all_experiments=True, output_format="list")) == 1
    assert polytrack.search_runs(experiment_ids=[other], output_format="list") == []


# --- interpreter exit ----------------------------------------------------------------------------------
EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import polytrack
    polytrack.set_tracking_uri(sys.argv[1])
    polytrack.set_experiment("exit")
    polytrack.start_run(run_name=sys.argv[2])
    for step in range(5000):
        polytrack.log_metric("m", step, step=step)
    if sys.argv[2] == "error":
        raise RuntimeError("boom")
    if sys.argv[2] == "interrupt":
        raise KeyboardInterrupt
    """
)


@pytest.mark.parametrize(
    ("ending", "status"), [("clean", "FINISHED"), ("error", "FAILED"), ("interrupt", "KILLED")]
)
def test_at_exit_open_runs_are_ended_and_queued_data_delivered(
    tmp_path: Path, ending: str, status: str
) -> None:
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    script = tmp_path / "train.py"
    script.write_text(EXIT_SCRIPT)
    completed = subprocess.run(
        [sys.executable, str(script), uri, ending], capture_output=True, text=True, timeout=120
    )
    expected = {"clean": 0, "error": 1, "interrupt": -signal.SIGINT}[ending]  # Python re-raises SIGINT
    assert completed.returncode == expected, completed.stderr
    with polytrack.Client(uri) as client:
        experiment = client.get_experiment_by_name("exit")
        assert experiment is not None
        (run,) = client.search_runs(experiment.experiment_id)
        assert run.info.status == status and run.info.run_name == ending
        assert len(client.get_metric_history(run.info.run_id, "m")) == 5000


def test_the_exit_handler_leaves_runs_of_the_parent_process_alone(sqlite_uri: str) -> None:
    from polytrack._run_context import _at_exit

    run = polytrack.start_run()
    polytrack.log_metric("loss", 0.5)
    run._pid = -1  # as seen from a process forked after the run started
    _at_exit()
    assert polytrack.get_run(run.info.run_id).info.status == "RUNNING"
    assert polytrack.get_run(run.info.run_id).data.metrics == {"loss": 0.5}  # queued data delivered
    run._pid = os.getpid()


# --- a server killed in the middle of a run ----------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_a_server_killed_mid_run_loses_nothing(
    protocol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLYTRACK_SPOOL_AFTER_SECONDS", "1")
    home = tmp_path / "server"

    def uri_of(server: ServerHandle) -> str:
        return server.url if protocol == "rest" else f"grpc://{server.grpc_target}"

    first = start_server("polytrack", home)
    try:
        polytrack.set_tracking_uri(uri_of(first))
        polytrack.set_experiment("killed")
        run = polytrack.start_run(run_name="survivor")
        polytrack.log_param("lr", 0.01)
        for step in range(6000):
            polytrack.log_metric("loss", 1.0 / (step + 1), step=step)
            if step == 2000:
                os.killpg(first.process.pid, signal.SIGKILL)
                first.process.wait(10)
        polytrack.set_tag("phase", "after the crash")
        with pytest.warns(polytrack.PolytrackSpoolWarning) as warned:
            polytrack.end_run()
    finally:
        first.stop()
    spool_files = sorted((tmp_path / "spool").glob("*.jsonl"))
    assert len(spool_files) == 1 and str(spool_files[0]) in str(warned[0].message)

    second = start_server("polytrack", home)  # a new server on the same database
    try:
        assert main(["sync", "--tracking-uri", uri_of(second)]) == 0
        assert "synced" in capsys.readouterr().out
        assert list((tmp_path / "spool").glob("*.jsonl")) == []
        with polytrack.Client(uri_of(second)) as client:
            history = client.get_metric_history(run.info.run_id, "loss")
            assert sorted(point.step for point in history) == list(range(6000))
            finished = client.get_run(run.info.run_id)
        assert finished.info.status == "FINISHED"
        assert finished.data.params == {"lr": "0.01"} and finished.data.tags["phase"] == "after the crash"
        assert main(["sync", "--tracking-uri", uri_of(second)]) == 0  # nothing left: still fine
    finally:
        second.stop()
