"""The gRPC edge: a `grpc.aio` server whose handlers are derived from the bound RPC methods.

Each RPC is registered under its proto path with the request/response classes' own
(de)serialisers, and calls its servicer through the shared `Invoker`, exactly as the REST gateway
does. A `PolytrackError` ends the call with a `google.rpc.Status` (in the `grpc-status-details-bin`
trailer) carrying the code's canonical gRPC status, the message and an `ErrorInfo` whose reason is
the MLflow error code; anything unexpected ends it with INTERNAL and a generic message.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message

# googleapis-common-protos ships no type information.
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from polytrack_server.errors import ErrorCode, PolytrackError
from polytrack_server.grpc_edge.streams import ReadAheadRequests, ResponsesAhead, sized
from polytrack_server.rpc import Invoker, RpcMethod

log = logging.getLogger("polytrack.grpc")
T = TypeVar("T")

ERROR_DOMAIN = "polytrack.dev"
INTERNAL_ERROR_MESSAGE = "Internal server error; see the server log for details"
# Bytes of a client stream (an artifact upload) the transport accepts ahead of the servicer.
STREAM_RECEIVE_WINDOW = 4 * 1024 * 1024
# MLflow's log-batch and metric-history payloads can exceed gRPC's 4 MiB default. The receive
# window is fixed: with bandwidth-delay probing on, gRPC keeps growing it while a fast client feeds
# a slower servicer (one writing to disk on a busy machine), and holds that much of the upload in
# memory; tests/server/grpc_edge/test_stream_flow_control.py measures the bound.
DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", -1),
    ("grpc.http2.bdp_probe", 0),
    ("grpc.http2.lookahead_bytes", STREAM_RECEIVE_WINDOW),
)

# Threads for streaming calls, apart from the invoker's pool: a transfer holds its thread for as long
# as it lasts, waiting on the network too, and must neither starve unary RPCs nor make the next
# transfer wait for a free thread (asyncio's default pool has only cores + 4).
STREAM_THREADS = 64
_stream_threads = ThreadPoolExecutor(max_workers=STREAM_THREADS, thread_name_prefix="polytrack-stream")

HandlerFactory = Callable[[RpcMethod, Invoker], grpc.RpcMethodHandler]


def build_grpc_server(
    methods: Sequence[RpcMethod],
    invoker: Invoker,
    address: str,
    options: Sequence[tuple[str, Any]] = DEFAULT_OPTIONS,
) -> tuple[grpc.aio.Server, int]:
    """A (not yet started) server for `methods` listening without TLS on `address`, and its port.

    `address` is `host:port`; port 0 picks a free port, which is returned.
    """
    server = grpc.aio.server(options=list(options))
    add_services(server, methods, invoker)
    port: int = server.add_insecure_port(address)
    return server, port


def add_services(server: grpc.aio.Server, methods: Sequence[RpcMethod], invoker: Invoker) -> None:
    """Register a handler for each of `methods` on `server`, grouped by service."""
    by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for method in methods:
        service = method.descriptor.containing_service.full_name
        by_service.setdefault(service, {})[method.descriptor.name] = method_handler(method, invoker)
    for service, handlers in by_service.items():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        # Registered methods are looked up by the C core, skipping the generic handler search.
        server.add_registered_method_handlers(service, handlers)


def method_handler(method: RpcMethod, invoker: Invoker) -> grpc.RpcMethodHandler:
    """The handler of one RPC, chosen by its streaming kind."""
    kind = (method.descriptor.client_streaming, method.descriptor.server_streaming)
    factory = _HANDLER_FACTORIES.get(kind)
    if factory is None:
        raise NotImplementedError(f"{method.full_name}: streaming RPCs are not served by the gRPC edge yet")
    return factory(method, invoker)


def _unary_unary_handler(method: RpcMethod, invoker: Invoker) -> grpc.RpcMethodHandler:
    async def behaviour(request: Message, context: grpc.aio.ServicerContext) -> Message:
        try:
            return await invoker.invoke(method, request)
        except PolytrackError as error:
            code, message = error.code, error.message
        except Exception:
            log.exception("Unexpected failure in %s", method.full_name)
            code, message = ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE
        status = rpc_status.to_status(error_status(code, message))
        await context.abort(status.code, status.details, status.trailing_metadata)
        raise AssertionError("ServicerContext.abort() returned instead of raising")

    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=method.request_class.FromString,
        response_serializer=method.response_class.SerializeToString,
    )


async def _abort(context: grpc.aio.ServicerContext, method: RpcMethod, failure: Exception) -> None:
    if isinstance(failure, PolytrackError):
        code, message = failure.code, failure.message
    else:
        log.error("Unexpected failure in %s", method.full_name, exc_info=failure)
        code, message = ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE
    status = rpc_status.to_status(error_status(code, message))
    await context.abort(status.code, status.details, status.trailing_metadata)


def _stream_unary_handler(method: RpcMethod, invoker: Invoker) -> grpc.RpcMethodHandler:
    async def behaviour(
        requests: AsyncIterator[tuple[object, int]], context: grpc.aio.ServicerContext
    ) -> Message:
        read_ahead = ReadAheadRequests(requests)
        pump = asyncio.ensure_future(read_ahead.pump())
        try:
            # A client-streaming implementation takes the iterator of requests (see rpc.py).
            call: Callable[[Iterator[object]], Message] = method.call  # type: ignore[assignment]
            response = await _on_stream_thread(call, read_ahead)
            if type(response) is not method.response_class:
                raise TypeError(f"{method.full_name} returned {type(response).__qualname__}")
            return response
        except Exception as failure:
            await _abort(context, method, failure)
        finally:
            # The servicer may stop reading early (a bad first message): stop receiving too.
            pump.cancel()
        raise AssertionError("ServicerContext.abort() returned instead of raising")

    return grpc.stream_unary_rpc_method_handler(
        behaviour,
        request_deserializer=sized(method.parse_request or method.request_class.FromString),
        response_serializer=method.response_class.SerializeToString,
    )


def _unary_stream_handler(method: RpcMethod, invoker: Invoker) -> grpc.RpcMethodHandler:
    async def behaviour(
        request: Message, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Message | bytes]:
        # A server-streaming implementation returns an iterator of responses (see rpc.py).
        call: Callable[[Message], Iterator[Message | bytes]] = method.call  # type: ignore[assignment]
        responses = ResponsesAhead(functools.partial(call, request))
        _on_stream_thread(responses.produce)
        try:
            async for item in responses:
                if type(item) is not method.response_class and type(item) is not bytes:
                    raise TypeError(f"{method.full_name} yielded {type(item).__qualname__}")
                yield item
        except Exception as failure:
            await _abort(context, method, failure)
        finally:
            # Cancelled, failed or done: the producer stops at its next response and closes the
            # servicer's iterator on its own thread; nothing waits for that here.
            responses.stop()

    return grpc.unary_stream_rpc_method_handler(
        behaviour,
        request_deserializer=method.request_class.FromString,
        response_serializer=_serialized,
    )


def _on_stream_thread(function: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """`function(*args)` on a stream thread, with the calling task's context variables."""
    call = functools.partial(contextvars.copy_context().run, function, *args)
    return asyncio.get_running_loop().run_in_executor(_stream_threads, call)


def _serialized(response: Message | bytes) -> bytes:
    """A server-streaming response's wire bytes: an implementation may yield them already
    serialized, to spare a large message protobuf's copies (see rpc.py)."""
    return response if isinstance(response, bytes) else response.SerializeToString()


# (client streaming, server streaming) -> handler factory. Streaming kinds join here.
_HANDLER_FACTORIES: dict[tuple[bool, bool], HandlerFactory] = {
    (False, False): _unary_unary_handler,
    (True, False): _stream_unary_handler,
    (False, True): _unary_stream_handler,
}


def error_status(code: ErrorCode, message: str) -> status_pb2.Status:
    """The `google.rpc.Status` reporting `code`: canonical status, message and ErrorInfo."""
    info = error_details_pb2.ErrorInfo(
        reason=code.name, domain=ERROR_DOMAIN, metadata={"http_status": str(code.http_status)}
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=code.grpc_status.value[0], message=message, details=[detail])
