"""What every transport shares: RPC lookup in the proto descriptors, and retries.

A transport sends one request message of a polytrack RPC and returns its response message. RPCs
are named as in the proto (`CreateExperiment`, or qualified: `TrackingService.CreateExperiment`,
`polytrack.v1.TrackingService.CreateExperiment`) and looked up across the services the client
knows (`KNOWN_SERVICES`), so a new service needs one line there and nothing else.

After `os.fork()` every transport of the child drops the connections it inherited (they belong to
the parent) and opens its own on first use (`BaseTransport._after_fork_in_child`).

Retries live here, once, for every transport. A transport's single attempt reports a failure as
an `AttemptError` saying whether the failure is transient and whether the request may have
reached the server; `BaseTransport.call` then retries when that cannot duplicate data:

* a request that provably never reached the server (the connection was refused, the connect
  timed out) is retried for every RPC;
* a request that may have been processed (read timeout, dropped connection, 429/502/503/504) is
  retried only for RPCs that are safe to repeat (`Rpc.retry_safe`).
"""

from __future__ import annotations

import abc
import logging
import os
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from polytrack.errors import PolytrackException
from polytrack.v1 import artifacts_service_pb2, model_registry_service_pb2, tracking_service_pb2

log = logging.getLogger("polytrack.transport")

# The services a client can call. Registry and artifact services join this tuple.
KNOWN_SERVICES: tuple[ServiceDescriptor, ...] = (
    tracking_service_pb2.DESCRIPTOR.services_by_name["TrackingService"],
    artifacts_service_pb2.DESCRIPTOR.services_by_name["ArtifactsService"],
    model_registry_service_pb2.DESCRIPTOR.services_by_name["ModelRegistryService"],
)

# RPC name prefixes of reads, which are always safe to repeat.
_READ_PREFIXES = ("Get", "Search", "List")

# Writes that are safe to send twice: repeating them cannot create a second entity or a second
# data point, because the server stores the same final state either way.
# - Delete*/Restore*, UpdateExperiment (rename), UpdateRun, Set*Tag: they set a state; a repeat
#   sets the same state (a repeated delete of a tag or experiment may answer
#   RESOURCE_DOES_NOT_EXIST, but nothing is written twice).
# - LogMetric/LogBatch: the server ignores a measurement identical to a stored one (same key,
#   timestamp, step and value), so a re-sent batch adds nothing; LogParam/LogBatch params of the
#   value already stored are no-ops; LogBatch tags are upserts.
# - LogInputs: the server links a dataset or model to a run at most once.
# - DeleteArtifact: deleting a missing artifact succeeds.
# - Registry: UpdateRegisteredModel/UpdateModelVersion (description), Set/Delete of registered model
#   and model version tags and of aliases, and TransitionModelVersionStage set a state, so a repeat
#   sets the same one. DeleteRegisteredModel/DeleteModelVersion delete for good: a repeat after a
#   lost success answers RESOURCE_DOES_NOT_EXIST, which `DONE_WHEN_MISSING_ON_RETRY` turns into the
#   success it is.
# NOT here, so never repeated once they may have reached the server:
# - CreateExperiment, CreateRun, CreateModelVersion: a repeat creates a second run or version;
# - CreateRegisteredModel (and CreateExperiment): a repeat after a lost success answers
#   RESOURCE_ALREADY_EXISTS, which the client cannot tell from a name taken by someone else;
# - RenameRegisteredModel: a repeat answers RESOURCE_DOES_NOT_EXIST for the old name, which the
#   client cannot tell from a rename by someone else.
# Such a failure is raised with a note that the request may have been processed. Unknown RPCs are
# not retried either.
RETRY_SAFE_WRITES: frozenset[str] = frozenset(
    {
        "UpdateExperiment",
        "DeleteExperiment",
        "RestoreExperiment",
        "SetExperimentTag",
        "DeleteExperimentTag",
        "UpdateRun",
        "DeleteRun",
        "RestoreRun",
        "SetTag",
        "DeleteTag",
        "LogMetric",
        "LogParam",
        "LogBatch",
        "LogInputs",
        "DeleteArtifact",
        "UpdateRegisteredModel",
        "DeleteRegisteredModel",
        "SetRegisteredModelTag",
        "DeleteRegisteredModelTag",
        "SetRegisteredModelAlias",
        "DeleteRegisteredModelAlias",
        "UpdateModelVersion",
        "DeleteModelVersion",
        "SetModelVersionTag",
        "DeleteModelVersionTag",
        "TransitionModelVersionStage",
    }
)

# Deletions after which the entity is gone for good: when a retry follows an attempt that may have
# been processed, RESOURCE_DOES_NOT_EXIST means that attempt deleted it, and the call succeeds.
DONE_WHEN_MISSING_ON_RETRY: frozenset[str] = frozenset({"DeleteRegisteredModel", "DeleteModelVersion"})


def user_agent() -> str:
    """The User-Agent of this client: `polytrack-python-client/<version>`."""
    try:
        return f"polytrack-python-client/{version('polytrack')}"
    except PackageNotFoundError:
        return "polytrack-python-client"


def environment_value(*names: str) -> str | None:
    """The value of the first of `names` set to a non-empty string in the environment."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True)
class Rpc:
    """One RPC of a known service, with its message classes and whether it is safe to repeat."""

    descriptor: MethodDescriptor
    request_class: type[Message]
    response_class: type[Message]
    retry_safe: bool

    @property
    def name(self) -> str:
        """The RPC's name, e.g. `CreateExperiment`."""
        return self.descriptor.name

    @property
    def service(self) -> ServiceDescriptor:
        """The service the RPC belongs to."""
        return self.descriptor.containing_service


def _rpc_of(descriptor: MethodDescriptor) -> Rpc:
    name = descriptor.name
    return Rpc(
        descriptor=descriptor,
        request_class=GetMessageClass(descriptor.input_type),
        response_class=GetMessageClass(descriptor.output_type),
        retry_safe=name.startswith(_READ_PREFIXES) or name in RETRY_SAFE_WRITES,
    )


@cache
def _rpc_table() -> dict[str, Rpc]:
    table: dict[str, Rpc] = {}
    ambiguous: set[str] = set()
    for service in KNOWN_SERVICES:
        for descriptor in service.methods:
            rpc = _rpc_of(descriptor)
            table[descriptor.full_name] = rpc
            table[f"{service.name}.{descriptor.name}"] = rpc
            if descriptor.name in table:
                ambiguous.add(descriptor.name)
            table[descriptor.name] = rpc
    for name in ambiguous:
        # A bare name shared by two services must be qualified.
        del table[name]
    return table


def find_rpc(name: str) -> Rpc:
    """The RPC called `name` (bare, `Service.Rpc` or fully qualified) in the known services."""
    rpc = _rpc_table().get(name)
    if rpc is None:
        raise ValueError(
            f"Unknown RPC {name!r}: not a method of {', '.join(s.full_name for s in KNOWN_SERVICES)}"
        )
    return rpc


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry a transient failure.

    The n-th retry (n from 0) waits a random time between half and all of
    `min(max_backoff, initial_backoff * 2**n)` (a server's Retry-After, when longer, wins), and
    no retry starts once `max_elapsed` seconds have passed since the first attempt or after
    `max_attempts` attempts.
    """

    max_attempts: int = 7
    initial_backoff: float = 0.5
    max_backoff: float = 10.0
    max_elapsed: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    @classmethod
    def from_environment(cls) -> RetryPolicy:
        """The default policy, with `POLYTRACK_HTTP_REQUEST_MAX_RETRIES` (or MLflow's variable) retries."""
        retries = environment_value("POLYTRACK_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
        if retries is None:
            return cls()
        try:
            count = int(retries)
        except ValueError:
            raise PolytrackException(
                f"POLYTRACK_HTTP_REQUEST_MAX_RETRIES must be a whole number, got {retries!r}",
                "INVALID_PARAMETER_VALUE",
            ) from None
        return cls(max_attempts=max(1, count + 1))

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy making exactly one attempt."""
        return cls(max_attempts=1)

    def delay(self, retry: int, elapsed: float, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number `retry` (0-based), or None to give up."""
        if retry + 1 >= self.max_attempts:
            return None
        ceiling = min(self.max_backoff, self.initial_backoff * 2**retry)
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, retry_after)
        if elapsed + wait > self.max_elapsed:
            return None
        return wait


class AttemptError(Exception):
    """One attempt failed with `error`.

    `transient`: the same request may succeed later. `delivered`: False only when the request
    provably never reached the server; True when it may have been processed.
    """

    def __init__(
        self,
        error: PolytrackException,
        *,
        transient: bool,
        delivered: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.transient = transient
        self.delivered = delivered
        self.retry_after = retry_after


class Transport(Protocol):
    """Sends requests of polytrack RPCs to a tracking service and returns their responses."""

    def call(self, rpc: str, request: Message, *, timeout: float | None = None) -> Message:
        """Send `request` to the RPC named `rpc` and return its response; raise PolytrackException."""
        ...

    def close(self) -> None:
        """Release connections; the transport cannot be used afterwards."""
        ...


def _not_repeated(rpc: Rpc, error: PolytrackException) -> PolytrackException:
    """`error` of an RPC that is not safe to repeat, saying that it may have taken effect."""
    return PolytrackException(
        f"{error.message} (the request may have been processed; {rpc.name} is not retried because "
        "repeating it could duplicate data: check the result before calling it again)",
        error.error_code,
        error.http_status,
    )


class BaseTransport(abc.ABC):
    """A transport whose subclasses implement one attempt (`_attempt`); retries happen here."""

    # Whether the other end is certainly a polytrack server, so that polytrack's extensions of
    # the API (such as LogBatch's `metric_columns`) may be used. Not over REST: it may be MLflow,
    # which would silently ignore fields it does not know.
    speaks_polytrack_extensions = False

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry if retry is not None else RetryPolicy.from_environment()
        _live_transports.add(self)

    def _after_fork_in_child(self) -> None:
        """In a child process just forked: stop using connections inherited from the parent (they
        are still the parent's, so they are left open, never closed or shut down) and open new
        ones on first use. Transports holding connections override this."""
        return None

    def call(self, rpc: str, request: Message, *, timeout: float | None = None) -> Message:
        """Send `request` to the RPC named `rpc`, retrying transient failures when it is safe."""
        method = find_rpc(rpc)
        if not isinstance(request, method.request_class):
            raise TypeError(
                f"{method.name} takes a {method.request_class.__name__}, not a {type(request).__name__}"
            )
        started = time.monotonic()
        retry = 0
        maybe_processed = False  # an earlier attempt may have reached the server
        while True:
            try:
                return self._attempt(method, request, timeout)
            except AttemptError as failure:
                if (
                    maybe_processed
                    and method.name in DONE_WHEN_MISSING_ON_RETRY
                    and failure.error.error_code == "RESOURCE_DOES_NOT_EXIST"
                ):
                    log.info("%s: already done by an earlier attempt whose answer was lost", method.name)
                    return method.response_class()
                if not failure.transient:
                    raise failure.error from failure.__cause__
                if failure.delivered and not method.retry_safe:
                    raise _not_repeated(method, failure.error) from failure.__cause__
                wait = self.retry.delay(retry, time.monotonic() - started, failure.retry_after)
                if wait is None:
                    raise failure.error from failure.__cause__
                log.info("%s failed (%s); retrying in %.2f s", method.name, failure.error, wait)
                self.retry.sleep(wait)
                maybe_processed = maybe_processed or failure.delivered
                retry += 1

    @abc.abstractmethod
    def _attempt(self, rpc: Rpc, request: Message, timeout: float | None) -> Message:
        """Send `request` once; raise AttemptError on failure."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the transport cannot be used afterwards."""

    def __enter__(self) -> BaseTransport:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


# Every transport of this process that is still referenced, for resetting after os.fork().
_live_transports: weakref.WeakSet[BaseTransport] = weakref.WeakSet()
# Connections a forked child inherited: kept referenced (never garbage collected, so never closed
# from the child, which for TLS would end the parent's session too).
_inherited: list[object] = []


def keep_inherited(resource: object) -> None:
    """Keep `resource`, a connection (pool) inherited from the parent process, from being closed."""
    _inherited.append(resource)


def _reset_transports_in_child() -> None:
    for transport in list(_live_transports):
        try:
            transport._after_fork_in_child()
        except Exception:  # pragma: no cover - a child must not die in a fork hook
            log.exception("resetting %r after fork failed", transport)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_transports_in_child)
