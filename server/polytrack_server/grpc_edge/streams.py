"""Bridges between gRPC streams on the event loop and servicers running on worker threads.

The servicers are synchronous. Handing each message across threads in turn leaves the network idle
while the servicer works and the servicer idle while the network does (a transfer of a gigabyte is
a thousand such turns), so each direction keeps a short queue instead, bounded by bytes so that a
stream holds at most a few megabytes beyond the transport's own window:

- `ReadAheadRequests`: the loop reads a client stream (an upload) into the queue while the
  servicer's thread empties it; a failed or cancelled stream is raised to the servicer.
- `ResponsesAhead`: a worker thread runs a server-streaming servicer (a download) into the queue
  while the loop sends from it; a cancelled call stops the thread, which closes the servicer's
  iterator itself (a generator can only be closed from the thread that runs it).
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

# Bytes a stream may hold queued between the loop and the servicer (four 1 MiB artifact chunks).
QUEUE_BYTES = 4 * 1024 * 1024
# The end of the stream, in the queue.
_END = object()


class ReadAheadRequests(Iterator[object]):
    """A client stream read on the event loop into a short queue that a worker thread drains.

    The stream's items are `(request, wire size)` pairs (see `sized`); requests are queued while
    those waiting hold under `budget` bytes, and one always may be. `pump()` runs on the loop;
    `next()` blocks the worker until a request, the stream's end or its failure arrives.
    """

    def __init__(self, requests: AsyncIterator[tuple[object, int]], budget: int = QUEUE_BYTES) -> None:
        self._requests = requests
        self._budget = budget
        self._queued_bytes = 0
        self._condition = threading.Condition()
        self._items: collections.deque[tuple[object, int]] = collections.deque()
        # Set by pump() while the queue is full, resolved by the worker when it takes a request.
        self._space: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    async def pump(self) -> None:
        end: object = _END
        try:
            async for request, size in self._requests:
                while True:
                    with self._condition:
                        if not self._items or self._queued_bytes + size <= self._budget:
                            self._items.append((request, size))
                            self._queued_bytes += size
                            self._condition.notify()
                            break
                        self._space = space = self._loop.create_future()
                    await space
        except asyncio.CancelledError:
            # The worker must not wait forever for the next request: it gets a failure instead.
            end = ConnectionAbortedError("The call ended before its request stream did")
            raise
        except Exception as error:  # the stream failed: the worker raises the same
            end = error
        finally:
            with self._condition:
                self._items.append((end, 0))
                self._condition.notify()

    def __next__(self) -> object:
        with self._condition:
            while not self._items:
                self._condition.wait()
            item, size = _take_first(self._items, StopIteration)
            self._queued_bytes -= size
            space, self._space = self._space, None
        if space is not None:
            self._loop.call_soon_threadsafe(_resolve, space)
        return item


class ResponsesAhead:
    """A server stream's responses, produced on a worker thread into a short queue the loop sends from.

    `produce()` runs on the worker: it calls `start` for the servicer's iterator and queues what it
    yields while those waiting hold under `budget` bytes (one always may wait), then the end or the
    failure. The loop iterates this object asynchronously. `stop()` (the call was cancelled, or the
    loop stopped reading) makes the worker stop producing at its next response.
    """

    def __init__(self, start: Callable[[], Iterator[Any]], budget: int = QUEUE_BYTES) -> None:
        self._start = start
        self._budget = budget
        self._queued_bytes = 0
        self._stopped = False
        self._condition = threading.Condition()
        self._items: collections.deque[tuple[object, int]] = collections.deque()
        # Set by the loop while the queue is empty, resolved by the worker when it queues something.
        self._arrival: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def produce(self) -> None:
        # Anything but a normal end or an Exception (a BaseException on this thread) still has to
        # end the loop's wait.
        end: object = RuntimeError("The response stream's producer stopped unexpectedly")
        responses: Iterator[Any] | None = None
        try:
            responses = self._start()
            for response in responses:
                size = len(response) if isinstance(response, bytes) else response.ByteSize()
                with self._condition:
                    while not self._stopped and self._items and self._queued_bytes + size > self._budget:
                        self._condition.wait()
                    if self._stopped:
                        break
                self._put(response, size)
            end = _END
        except Exception as error:  # the loop raises the same, to end the call with its status
            end = error
        finally:
            close = getattr(responses, "close", None)
            if close is not None:
                close()
            self._put(end, 0)

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()

    def _put(self, item: object, size: int) -> None:
        with self._condition:
            self._items.append((item, size))
            self._queued_bytes += size
            arrival, self._arrival = self._arrival, None
        if arrival is not None:
            self._loop.call_soon_threadsafe(_resolve, arrival)

    def __aiter__(self) -> ResponsesAhead:
        return self

    async def __anext__(self) -> Any:
        while True:
            with self._condition:
                if self._items:
                    item, size = _take_first(self._items, StopAsyncIteration)
                    self._queued_bytes -= size
                    self._condition.notify()
                    return item
                self._arrival = arrival = self._loop.create_future()
            await arrival


def _take_first(items: collections.deque[tuple[object, int]], end: type[Exception]) -> tuple[object, int]:
    """Remove and return the first queued item and its size. The end of the stream raises `end` and
    a failure raises itself; both stay queued, so that every later call sees them too."""
    item, size = items[0]
    if item is _END:
        raise end
    if isinstance(item, Exception):
        raise item
    items.popleft()
    return item, size


def sized(parse: Callable[[bytes], object]) -> Callable[[bytes], tuple[object, int]]:
    """A request deserializer that also reports the request's size on the wire."""

    def parse_sized(raw: bytes) -> tuple[object, int]:
        return parse(raw), len(raw)

    return parse_sized


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
