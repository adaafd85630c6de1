"""Holding os.fork() back until no thread is inside a call that must not be split by a fork.

A child inherits the memory of every thread but runs only the one that forked. Two kinds of call
leave state behind that the child cannot recover from if another thread is inside them at that
moment: a database call of the embedded transport (SQLite's lock bookkeeping is per process, so
the child would wait forever for the dead thread's lock) and a gRPC call (gRPC skips its own fork
handlers while other threads are inside it, and the child's gRPC core then aborts). Such calls run
inside `fork_gate.call()`; a fork waits for them to finish and keeps new ones from starting until
it is done. Calls must not nest (a thread inside one would wait on a pending fork forever).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["fork_gate"]


class ForkGate:
    """Counts threads inside gated calls; os.fork() waits until there are none."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._forking = False

    @contextmanager
    def call(self) -> Iterator[None]:
        with self._condition:
            while self._forking:
                self._condition.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._condition:
                self._active -= 1
                if self._active == 0:
                    self._condition.notify_all()

    def before_fork(self) -> None:
        # The lock stays held through the fork, so no call starts in between.
        self._condition.acquire()
        self._forking = True
        while self._active:
            self._condition.wait()

    def after_fork_in_parent(self) -> None:
        self._forking = False
        self._condition.notify_all()
        self._condition.release()

    def after_fork_in_child(self) -> None:
        # The inherited lock is held by the (parent's) forking thread: start afresh.
        self.__init__()  # type: ignore[misc]


fork_gate = ForkGate()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=fork_gate.before_fork,
        after_in_parent=fork_gate.after_fork_in_parent,
        after_in_child=fork_gate.after_fork_in_child,
    )
