"""A client stream is read ahead of the servicer only up to a byte budget, and the servicer's
thread always learns how the stream ended: normally, with the stream's error, or cancelled."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from polytrack_server.grpc_edge.streams import ReadAheadRequests

MIB = 1024 * 1024


async def _stream(
    sizes: list[int], received: list[int], fail: Exception | None = None
) -> AsyncIterator[tuple[object, int]]:
    for number, size in enumerate(sizes):
        received.append(number)
        yield f"request {number}", size
    if fail is not None:
        raise fail


def test_requests_wait_in_the_queue_only_up_to_the_byte_budget() -> None:
    async def scenario() -> tuple[list[int], list[object], list[int]]:
        received: list[int] = []
        read_ahead = ReadAheadRequests(_stream([MIB] * 10, received), budget=4 * MIB)
        pump = asyncio.ensure_future(read_ahead.pump())
        await asyncio.sleep(0.2)  # nobody consumes yet
        before = list(received)
        taken = await asyncio.to_thread(list, read_ahead)
        await pump
        return before, taken, received

    before, taken, received = asyncio.run(scenario())
    # Four queued and a fifth received, waiting for room; all ten arrive in order once consumed.
    assert before == [0, 1, 2, 3, 4]
    assert taken == [f"request {number}" for number in range(10)]
    assert received == list(range(10))


def test_a_request_larger_than_the_budget_is_still_passed_on_alone() -> None:
    async def scenario() -> tuple[list[int], list[object]]:
        received: list[int] = []
        read_ahead = ReadAheadRequests(_stream([9 * MIB, 9 * MIB, 9 * MIB], received), budget=4 * MIB)
        pump = asyncio.ensure_future(read_ahead.pump())
        await asyncio.sleep(0.2)
        before = list(received)
        taken = await asyncio.to_thread(list, read_ahead)
        await pump
        return before, taken

    before, taken = asyncio.run(scenario())
    assert before == [0, 1]  # one queued, the next waiting for the queue to empty
    assert taken == ["request 0", "request 1", "request 2"]


def test_the_servicer_gets_the_streams_failure_after_the_requests_before_it() -> None:
    async def scenario() -> tuple[list[object], BaseException]:
        read_ahead = ReadAheadRequests(_stream([10, 10], [], fail=OSError("connection reset")))
        pump = asyncio.ensure_future(read_ahead.pump())
        taken: list[object] = []

        def drain() -> BaseException:
            try:
                for request in read_ahead:
                    taken.append(request)
            except OSError as error:
                return error
            raise AssertionError("the stream's failure was not raised")

        error = await asyncio.to_thread(drain)
        await pump
        return taken, error

    taken, error = asyncio.run(scenario())
    assert taken == ["request 0", "request 1"]
    assert str(error) == "connection reset"


def test_a_cancelled_call_wakes_a_waiting_servicer_with_a_failure() -> None:
    async def endless() -> AsyncIterator[tuple[object, int]]:
        yield "first", 10
        await asyncio.Event().wait()  # the client sends nothing more
        yield "never", 10

    async def scenario() -> BaseException:
        read_ahead = ReadAheadRequests(endless())
        pump = asyncio.ensure_future(read_ahead.pump())
        outcome: list[BaseException] = []
        waiting = threading.Event()

        def drain() -> None:
            next(read_ahead)
            waiting.set()
            try:
                next(read_ahead)
            except ConnectionAbortedError as error:
                outcome.append(error)

        worker = asyncio.ensure_future(asyncio.to_thread(drain))
        await asyncio.to_thread(waiting.wait, 5)
        pump.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pump
        await asyncio.wait_for(worker, 5)
        return outcome[0]

    assert "ended before its request stream did" in str(asyncio.run(scenario()))
