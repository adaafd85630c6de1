"""RPC methods bound to their servicers, shared by the REST gateway and the gRPC edge.

A servicer is a plain object implementing one proto service: for each RPC `FooBar` it has a
synchronous method `foo_bar(request: FooBarRequest) -> FooBarResponse` that raises
`polytrack_server.errors.PolytrackError` for client errors. `bind_services` pairs every RPC of
the given services with its implementation and its `google.api.http` bindings, and refuses to
start when either is missing, so that a forgotten RPC fails at start-up rather than when called.
Streaming RPCs may go without a binding (the gateway does not transcode them): a client-streaming
implementation takes an iterator of requests and returns a response, a server-streaming one takes
a request and returns an iterator of responses (each a message, or a message's serialized bytes,
which the gRPC edge sends as they are).
A servicer may also offer `foo_bar_plain(request) -> PlainResponse` beside `foo_bar`; the REST
gateway then prefers it (see `PlainResponse`). A `foo_bar_request_parser(raw: bytes)` makes the
gRPC edge read requests with it instead of protobuf (`foo_bar` then receives what it returns).
`Invoker` is the one place deciding how those synchronous calls run from the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

# googleapis-common-protos ships no type information.
from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

# The HttpRule oneof cases that name an HTTP method directly; `custom` carries its own.
_HTTP_VERBS = ("get", "put", "post", "delete", "patch")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

DEFAULT_MAX_WORKERS = 8

T = TypeVar("T")


class ServiceBindingError(Exception):
    """The services cannot be served: an RPC lacks an implementation or an HTTP binding."""


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One `google.api.http` rule of an RPC: an HTTP method, a path template and the body field."""

    method: str
    path: str
    # "*" (the whole request comes from the body), a field name, or "" (no body).
    body: str


@dataclass(frozen=True, slots=True)
class PlainResponse:
    """A response whose one large repeated message field is given as plain Python values.

    `message` is the response without that field, `elements` the field's elements: each a dict of
    the fields that are set, by name, with values as message constructors take them (a dict for a
    message field, a list for a repeated one, enum values as numbers), keys in field-number order.
    Building tens of thousands of messages costs more than the data they hold, so the REST gateway
    writes JSON from the elements directly; `materialize()` builds the message for everyone else.
    Either consumes the response: the JSON encoder rewrites the elements in place.
    """

    message: Message
    field: str
    elements: list[dict[str, Any]]

    def materialize(self) -> Message:
        add = getattr(self.message, self.field).add
        for element in self.elements:
            add(**element)
        return self.message


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One RPC with everything both edges need to serve it."""

    descriptor: MethodDescriptor
    request_class: type[Message]
    response_class: type[Message]
    call: Callable[[Message], Message]
    http_bindings: tuple[HttpBinding, ...]
    # The servicer's `<name>_plain` method, when it has one.
    call_plain: Callable[[Message], PlainResponse] | None = None
    # The servicer's `<name>_request_parser`, when it has one: reads a request from its wire bytes
    # in place of `request_class.FromString` (the gRPC edge's deserializer).
    parse_request: Callable[[bytes], object] | None = None

    @property
    def full_name(self) -> str:
        """The proto full name, e.g. `polytrack.v1.TrackingService.CreateExperiment`."""
        return self.descriptor.full_name

    @property
    def grpc_path(self) -> str:
        """The gRPC method path, e.g. `/polytrack.v1.TrackingService/CreateExperiment`."""
        return f"/{self.descriptor.containing_service.full_name}/{self.descriptor.name}"

    @property
    def is_unary(self) -> bool:
        return not (self.descriptor.client_streaming or self.descriptor.server_streaming)


def implementation_name(rpc_name: str) -> str:
    """The servicer method implementing an RPC: `GetMetricHistory` -> `get_metric_history`."""
    return _CAMEL_BOUNDARY.sub("_", rpc_name).lower()


def http_bindings(method: MethodDescriptor) -> tuple[HttpBinding, ...]:
    """The primary `google.api.http` binding of `method` followed by its additional bindings."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return ()
    rule = options.Extensions[annotations_pb2.http]
    found = [_binding(rule), *(_binding(extra) for extra in rule.additional_bindings)]
    return tuple(binding for binding in found if binding is not None)


def _binding(rule: http_pb2.HttpRule) -> HttpBinding | None:
    case = rule.WhichOneof("pattern")
    if case is None:
        return None
    if case == "custom":
        return HttpBinding(rule.custom.kind.upper(), rule.custom.path, rule.body)
    return HttpBinding(case.upper(), str(getattr(rule, case)), rule.body)


def bind_services(services: Mapping[ServiceDescriptor, object]) -> list[RpcMethod]:
    """Bind every RPC of `services` to its servicer method; raise ServiceBindingError listing all gaps."""
    methods: list[RpcMethod] = []
    problems: list[str] = []
    for service, servicer in services.items():
        for descriptor in service.methods:
            attribute = implementation_name(descriptor.name)
            call = getattr(servicer, attribute, None)
            if not callable(call):
                problems.append(
                    f"{descriptor.full_name}: {type(servicer).__name__} has no method {attribute}()"
                )
            bindings = http_bindings(descriptor)
            # Streaming RPCs need no binding: their REST forms, if any, are routes of their own.
            streaming = descriptor.client_streaming or descriptor.server_streaming
            if not bindings and not streaming:
                problems.append(f"{descriptor.full_name}: no google.api.http binding")
            if callable(call) and (bindings or streaming):
                methods.append(
                    RpcMethod(
                        descriptor=descriptor,
                        request_class=GetMessageClass(descriptor.input_type),
                        response_class=GetMessageClass(descriptor.output_type),
                        call=call,
                        http_bindings=bindings,
                        call_plain=getattr(servicer, f"{attribute}_plain", None),
                        parse_request=getattr(servicer, f"{attribute}_request_parser", None),
                    )
                )
    if problems:
        raise ServiceBindingError("Cannot serve these RPCs:\n  " + "\n  ".join(problems))
    return methods


class Invoker:
    """Runs servicer calls for the async edges: on a bounded thread pool, or inline on the loop.

    The servicers are synchronous, so by default each call runs on one of `max_workers` threads
    and the event loop stays free while a call waits (on PostgreSQL's network, on another
    process's SQLite lock). With `calls_inline`, servicer calls run on the loop itself and only
    `run()` (file transfers) uses the pool: when every call is CPU work under the GIL (SQLite in
    one process), threads add nothing but GIL hand-overs, which cost a third of a 1000-point
    LogBatch on two cores. `Invoker.inline()` runs everything on the loop (tests).
    """

    def __init__(
        self, max_workers: int = DEFAULT_MAX_WORKERS, *, inline: bool = False, calls_inline: bool = False
    ) -> None:
        if not inline and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._executor = (
            None
            if inline
            else ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="polytrack-rpc")
        )
        self._calls_inline = inline or calls_inline

    @classmethod
    def inline(cls) -> Invoker:
        """An invoker calling servicers directly on the event loop."""
        return cls(inline=True)

    @property
    def is_inline(self) -> bool:
        return self._executor is None

    async def invoke(self, method: RpcMethod, request: Message) -> Message:
        """Call `method`'s servicer with `request` and return its response, checking the response type."""
        response = await self._call(method.call, request)
        self._check(method, response)
        return response

    async def invoke_plain(self, method: RpcMethod, request: Message) -> Message | PlainResponse:
        """Like `invoke`, through the servicer's plain form of the RPC when it has one."""
        if method.call_plain is None:
            return await self.invoke(method, request)
        response = await self._call(method.call_plain, request)
        self._check(method, response.message)
        return response

    async def _call(self, call: Callable[[Message], T], request: Message) -> T:
        if self._calls_inline or self._executor is None:
            return call(request)
        # Copy the caller's context so that context variables (request ids, ...) reach the thread.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(context.run, call, request)
        )

    @staticmethod
    def _check(method: RpcMethod, response: Message) -> None:
        if type(response) is not method.response_class:
            raise TypeError(
                f"{method.full_name} returned {type(response).__qualname__}, "
                f"expected {method.response_class.__qualname__}"
            )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking `function(*args)` the way servicer calls run (used by streaming RPCs)."""
        if self._executor is None:
            return function(*args)
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(context.run, function, *args)
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop the worker threads once the calls already submitted have finished (when `wait`)."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait)

    def __enter__(self) -> Invoker:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
