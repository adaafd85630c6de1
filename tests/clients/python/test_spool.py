"""Spool files and `polytrack sync`: durable format, torn tails, locking, and idempotent replay into a
real (embedded SQLite) tracking store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polytrack._batches import END, METRIC, PARAM, TAG, Item, delivery_client, plan_requests
from polytrack._logging_queue import OutageRetry
from polytrack._spool import (
    SpoolBusyError,
    SpoolError,
    SpoolWriter,
    list_spool_files,
    read_spool_file,
    replay_spool_file,
    spool_directory,
)
from polytrack.cli import main
from polytrack.client import Client
from polytrack.errors import PolytrackException


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, Client]]:
    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    with Client(uri) as client:
        yield uri, client


def new_run(client: Client) -> str:
    return client.create_run("0", run_name="spooled").info.run_id


def sample_items(run_id: str, points: int = 1500) -> list[Item]:
    items = [
        Item(run_id, METRIC, "loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step)
        for step in range(points)
    ]
    items.append(Item(run_id, METRIC, "odd", float("nan"), 5, 0))
    items.append(Item(run_id, METRIC, "odd", float("-inf"), 6, 1))
    # Points about a model and a dataset keep those links through the spool.
    items.append(Item(run_id, METRIC, "accuracy", 0.9, 7, 0, "m-1", "eval", "d1g3st"))
    items.append(Item(run_id, METRIC, "accuracy", 0.8, 8, 0, dataset_name="eval"))
    items += [Item(run_id, PARAM, "lr", "0.01"), Item(run_id, TAG, "team", "vision")]
    items.append(Item(run_id, END, "FINISHED", "", 1_700_000_999_000))
    return items


def write_spool(directory: Path, uri: str, items: list[Item]) -> Path:
    writer = SpoolWriter(directory, uri, items[0].run_id)
    for request in plan_requests(items):
        writer.append([request])
    writer.close()
    return writer.path


def test_a_spool_file_reads_back_exactly(tmp_path: Path) -> None:
    items = sample_items("abc123")
    path = write_spool(tmp_path, "grpc://somewhere:5001", items)
    contents = read_spool_file(path)
    assert (contents.tracking_uri, contents.run_id, contents.torn_tail) == (
        "grpc://somewhere:5001",
        "abc123",
        False,
    )
    read = contents.items()
    assert [i for i in read if i.kind != METRIC or i.key != "odd"] == [
        i for i in items if i.kind != METRIC or i.key != "odd"
    ]
    odd = [i.value for i in read if i.key == "odd"]
    assert odd[0] != odd[0] and odd[1] == float("-inf")  # NaN and -Infinity survive
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_ignored_but_a_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    path = write_spool(tmp_path, "http://x:1", sample_items("r1", points=3))
    with path.open("ab") as handle:
        handle.write(b'{"log": {"metrics": [["loss", 1')  # a crash in the middle of a write
    contents = read_spool_file(path)
    assert contents.torn_tail and len([i for i in contents.items() if i.key == "loss"]) == 3
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SpoolError, match="line 2"):
        read_spool_file(path)


def test_a_file_that_is_not_a_spool_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(SpoolError, match="not a polytrack spool file"):
        read_spool_file(path)


def test_the_spool_directory_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("POLYTRACK_SPOOL_DIR", str(tmp_path / "elsewhere"))
    assert spool_directory() == tmp_path / "elsewhere"
    monkeypatch.delenv("POLYTRACK_SPOOL_DIR")
    assert spool_directory() == Path.home() / ".polytrack" / "spool"


def test_replay_delivers_everything_and_deletes_the_file(store: tuple[str, Client], tmp_path: Path) -> None:
    uri, client = store
    run_id = new_run(client)
    path = write_spool(tmp_path / "spool", uri, sample_items(run_id))
    report = replay_spool_file(path, Client, OutageRetry(1.0))
    assert (report.metrics, report.params, report.tags, report.end_status) == (1504, 1, 1, "FINISHED")
    assert not path.exists()
    assert len(client.get_metric_history(run_id, "loss")) == 1500
    accuracy = sorted(client.get_metric_history(run_id, "accuracy"), key=lambda point: point.timestamp)
    assert [(p.model_id, p.dataset_name, p.dataset_digest) for p in accuracy] == [
        ("m-1", "eval", "d1g3st"),
        (None, "eval", None),
    ]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.end_time == 1_700_000_999_000
    assert run.data.params == {"lr": "0.01"} and run.data.tags["team"] == "vision"


def test_replaying_the_same_data_twice_changes_nothing(store: tuple[str, Client], tmp_path: Path) -> None:
    uri, client = store
    run_id = new_run(client)
    path = write_spool(tmp_path / "spool", uri, sample_items(run_id))
    copy = tmp_path / "copy.jsonl"
    shutil.copy(path, copy)
    replay_spool_file(path, Client, OutageRetry(1.0))
    history = client.get_metric_history(run_id, "loss")
    replay_spool_file(copy, Client, OutageRetry(1.0))
    assert client.get_metric_history(run_id, "loss") == history
    assert len(client.get_metric_history(run_id, "odd")) == 2


def test_a_file_still_being_written_is_skipped(store: tuple[str, Client], tmp_path: Path) -> None:
    uri, client = store
    run_id = new_run(client)
    writer = SpoolWriter(tmp_path, uri, run_id)
    writer.append(plan_requests(sample_items(run_id, points=2)))
    with pytest.raises(SpoolBusyError):
        replay_spool_file(writer.path, Client, OutageRetry(1.0))
    writer.close()
    replay_spool_file(writer.path, Client, OutageRetry(1.0))
    assert not writer.path.exists()


def test_an_unreachable_server_keeps_the_file_whole(tmp_path: Path, free_port: Any) -> None:
    path = write_spool(tmp_path, f"http://127.0.0.1:{free_port()}", sample_items("r" * 32, points=5))
    before = path.read_bytes()
    with pytest.raises(PolytrackException, match="is kept"):
        replay_spool_file(path, delivery_client, OutageRetry(0.2))
    assert path.read_bytes() == before


def test_sync_command_replays_every_file_and_can_redirect(
    store: tuple[str, Client], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, client = store
    runs = [new_run(client) for _ in range(2)]
    spool = tmp_path / "spool"
    for run_id in runs:
        write_spool(spool, "http://old-host.invalid:5000", sample_items(run_id, points=10))
    assert main(["sync", "--spool-dir", str(spool), "--tracking-uri", uri]) == 0
    output = capsys.readouterr().out
    assert output.count("synced ") == 2 and "10 metric points" not in output  # 12 points incl. "odd"
    assert list_spool_files(spool) == []
    for run_id in runs:
        assert client.get_run(run_id).info.status == "FINISHED"
        assert len(client.get_metric_history(run_id, "loss")) == 10
    assert main(["sync", "--spool-dir", str(spool)]) == 0
    assert "nothing to sync" in capsys.readouterr().out


def test_sync_uses_the_recorded_tracking_uri_by_default(store: tuple[str, Client], tmp_path: Path) -> None:
    uri, client = store
    run_id = new_run(client)
    path = write_spool(tmp_path / "spool", uri, sample_items(run_id, points=7))
    assert main(["sync", str(path)]) == 0
    assert len(client.get_metric_history(run_id, "loss")) == 7


def test_refused_items_move_to_a_rejected_file(
    store: tuple[str, Client], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, client = store
    run_id = new_run(client)
    client.log_param(run_id, "lr", "0.5")  # the spooled "0.01" now conflicts
    items = sample_items(run_id, points=20)
    items.insert(3, Item(run_id, METRIC, "bad key!", 1.0, 1, 1))
    path = write_spool(tmp_path / "spool", uri, items)
    assert main(["sync", str(path)]) == 1
    output = capsys.readouterr().out
    assert "2 items refused" in output and "bad key!" in output and "'lr'" in output
    assert not path.exists()
    rejected = path.with_name(path.name.replace(".jsonl", ".rejected"))
    assert sorted(i.key for i in read_spool_file(rejected).items()) == ["bad key!", "lr"]
    assert len(client.get_metric_history(run_id, "loss")) == 20
    assert client.get_run(run_id).info.status == "FINISHED"
    assert list_spool_files(tmp_path / "spool") == []  # .rejected files are not picked up again


def test_sync_reports_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", str(tmp_path / "nope.jsonl")]) == 1
    assert "no such spool file" in capsys.readouterr().err
