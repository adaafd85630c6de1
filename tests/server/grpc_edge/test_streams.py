"""Streams are queued between the loop and the servicer's thread only up to a byte budget, in both
directions, and each side always learns how the other ended: normally, with an error, or cancelled
(then a server stream's producer stops and closes the servicer's iterator on its own thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from polytrack_server.grpc_edge.streams import ReadAheadRequests, ResponsesAhead

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


class _Servicer:
    """A server-streaming servicer's iterator of `count` responses of `size` bytes, recording how
    far it got, on which thread it was closed, and failing at `fail_at` when given."""

    def __init__(self, count: int, size: int, fail_at: int | None = None) -> None:
        self.count, self.size, self.fail_at = count, size, fail_at
        self.produced = 0
        self.closed_on: int | None = None

    def __call__(self) -> Iterator[bytes]:
        try:
            for number in range(self.count):
                if number == self.fail_at:
                    raise LookupError(f"response {number} failed")
                self.produced += 1
                yield bytes([number]) * self.size
        finally:
            self.closed_on = threading.get_ident()


async def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not come true within 5 s")


def test_responses_are_produced_ahead_only_up_to_the_byte_budget() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        servicer = _Servicer(10, MIB)
        responses = ResponsesAhead(servicer, budget=4 * MIB)
        producer = asyncio.ensure_future(asyncio.to_thread(responses.produce))
        await _wait_until(lambda: servicer.produced >= 4)
        await asyncio.sleep(0.2)  # time to run further, were it not bounded
        # Four are queued; the fifth was produced and waits for room.
        ahead = servicer.produced
        received = [item async for item in responses]
        await producer
        return ahead, received

    ahead, received = asyncio.run(scenario())
    assert ahead == 5
    assert [item[0] for item in received] == list(range(10))
    assert all(len(item) == MIB for item in received)


def test_a_response_larger_than_the_budget_is_still_sent_alone() -> None:
    async def scenario() -> list[int]:
        responses = ResponsesAhead(_Servicer(3, 3 * MIB), budget=MIB)
        producer = asyncio.ensure_future(asyncio.to_thread(responses.produce))
        received = [len(item) async for item in responses]
        await producer
        return received

    assert asyncio.run(scenario()) == [3 * MIB] * 3


def test_the_servicers_failure_reaches_the_loop_after_the_responses_before_it() -> None:
    async def scenario() -> tuple[list[int], BaseException, int | None, int]:
        servicer = _Servicer(10, 10, fail_at=3)
        responses = ResponsesAhead(servicer)
        producer = asyncio.ensure_future(asyncio.to_thread(responses.produce))
        received: list[int] = []
        with pytest.raises(LookupError) as failure:
            async for item in responses:
                received.append(item[0])
        await producer
        return received, failure.value, servicer.closed_on, threading.get_ident()

    received, failure, closed_on, loop_thread = asyncio.run(scenario())
    assert received == [0, 1, 2]
    assert str(failure) == "response 3 failed"
    assert closed_on is not None and closed_on != loop_thread


def test_a_failure_to_start_the_stream_reaches_the_loop() -> None:
    def refuse() -> Iterator[bytes]:
        raise PermissionError("no such artifact")

    async def scenario() -> None:
        responses = ResponsesAhead(refuse)
        producer = asyncio.ensure_future(asyncio.to_thread(responses.produce))
        with pytest.raises(PermissionError, match="no such artifact"):
            await responses.__anext__()
        # The end stays: asking again raises again rather than waiting.
        with pytest.raises(PermissionError):
            await responses.__anext__()
        await producer

    asyncio.run(scenario())


def test_stopping_wakes_a_producer_waiting_for_room_and_it_closes_the_servicer_itself() -> None:
    async def scenario() -> tuple[int, int | None, int]:
        servicer = _Servicer(1000, MIB)
        responses = ResponsesAhead(servicer, budget=2 * MIB)
        producer_thread: list[int] = []

        def produce() -> None:
            producer_thread.append(threading.get_ident())
            responses.produce()

        producer = asyncio.ensure_future(asyncio.to_thread(produce))
        await responses.__anext__()
        await _wait_until(lambda: servicer.produced >= 4)
        # The producer now waits for room that the departed consumer will never make.
        responses.stop()
        await asyncio.wait_for(producer, 5)
        return servicer.produced, servicer.closed_on, producer_thread[0]

    produced, closed_on, producer_thread = asyncio.run(scenario())
    assert produced < 10
    assert closed_on == producer_thread
