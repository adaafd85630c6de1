"""Forking after logging: each child gets its own connections and logging thread, so parent and
children can all log to one run of a live server (or the embedded store) with every point arriving
exactly once."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

import pytest

import polytrack
from polytrack._run_context import state
from polytrack._transport import base

POINTS = 300
CHILDREN = 2


pytestmark = pytest.mark.usefixtures("fluent_state")


def _inherited_connections() -> list[object]:
    connection = state.connection()
    held = []
    for client in (connection.client, connection.queue_client):
        transport = client.transport
        held.append(getattr(transport, "_http", None) or getattr(transport, "_channel", None))
    return held


def _log_from_child(first_step: int, parents: list[object]) -> None:
    """In a forked child: log to the inherited active run, then deliver everything."""
    mine = _inherited_connections()
    if any(new is old for new, old in zip(mine, parents, strict=True) if old is not None):
        os._exit(3)  # still on the parent's connection
    for step in range(first_step, first_step + POINTS):
        polytrack.log_metric("loss", float(step), step=step)
    polytrack.log_metric("sync", 1.0, step=first_step, synchronous=True)
    polytrack.flush()
    # multiprocessing ends a forked child with os._exit: nothing is left to deliver at exit.


def test_parent_and_forked_children_log_every_point_once(tracking_uri: str) -> None:
    polytrack.set_tracking_uri(tracking_uri)
    polytrack.set_experiment(f"fork-{os.urandom(5).hex()}")
    context = multiprocessing.get_context("fork")
    with polytrack.start_run() as run:
        polytrack.log_metric("sync", 0.0, step=0, synchronous=True)  # a connection is open now
        for step in range(POINTS):  # some of these are still queued when the children fork
            polytrack.log_metric("loss", float(step), step=step)
        parents = _inherited_connections()
        children = [
            context.Process(target=_log_from_child, args=((number + 1) * POINTS, parents))
            for number in range(CHILDREN)
        ]
        for child in children:
            child.start()
        for step in range((CHILDREN + 1) * POINTS, (CHILDREN + 2) * POINTS):
            polytrack.log_metric("loss", float(step), step=step)
        for child in children:
            child.join(timeout=120)
        assert [child.exitcode for child in children] == [0] * CHILDREN
    assert base._inherited == [], "the parent must not have set aside its own connections"
    with polytrack.Client(tracking_uri) as client:
        history = client.get_metric_history(run.info.run_id, "loss")
        synced = client.get_metric_history(run.info.run_id, "sync")
        finished = client.get_run(run.info.run_id)
    counts = Counter(point.step for point in history)
    assert sorted(counts) == list(range((CHILDREN + 2) * POINTS))
    assert set(counts.values()) == {1}
    assert sorted(point.step for point in synced) == [0, POINTS, 2 * POINTS]
    assert finished.info.status == "FINISHED"  # children did not end the parent's run
