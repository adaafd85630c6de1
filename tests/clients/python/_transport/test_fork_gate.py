"""os.fork() waits for threads inside gated calls (gRPC and embedded database calls), and no
gated call starts while a fork is under way."""

from __future__ import annotations

import os
import threading
import time

import pytest

from polytrack._transport.fork_gate import ForkGate, fork_gate

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _fork_and_reap() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status


def test_fork_waits_for_a_thread_inside_a_gated_call() -> None:
    inside, events = threading.Event(), []

    def call() -> None:
        with fork_gate.call():
            inside.set()
            time.sleep(0.3)
            events.append("call finished")

    worker = threading.Thread(target=call)
    worker.start()
    inside.wait()
    assert _fork_and_reap() == 0
    events.append("forked")
    worker.join()
    assert events == ["call finished", "forked"]


def test_no_call_starts_while_a_fork_is_under_way() -> None:
    gate, events = ForkGate(), []
    gate.before_fork()  # as os.fork() does first: the gate is now closed
    caller = threading.Thread(target=lambda: (gate.call().__enter__(), events.append("call started")))
    caller.start()
    time.sleep(0.2)
    assert events == []
    gate.after_fork_in_parent()
    caller.join(timeout=5)
    assert events == ["call started"]


def test_the_child_starts_with_an_open_gate() -> None:
    gate = ForkGate()
    gate.before_fork()
    gate.after_fork_in_child()  # the forking thread's lock is not carried over
    with gate.call():
        pass
    gate.before_fork()  # and a later fork in the child is not held back
    gate.after_fork_in_parent()
