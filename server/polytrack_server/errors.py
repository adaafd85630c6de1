"""Domain exceptions, raised by storage and services and mapped to the wire once, at each edge.

Every failure a client can see is a `PolytrackError` carrying one code of the shared taxonomy
(`polytrack.v1.ErrorCode`, MLflow's error codes). The REST gateway turns it into
`{"error_code", "message"}` with `http_status`; the gRPC edge into a `google.rpc.Status` with
`grpc_status` and an `ErrorInfo` whose reason is the code name.
"""

from __future__ import annotations

import enum

import grpc


@enum.unique
class ErrorCode(enum.Enum):
    """An error code: its number in errors.proto, and the HTTP and canonical gRPC statuses carrying it.

    The proto number leads each value so that codes sharing statuses stay distinct members.
    """

    INTERNAL_ERROR = (1, 500, grpc.StatusCode.INTERNAL)
    TEMPORARILY_UNAVAILABLE = (2, 503, grpc.StatusCode.UNAVAILABLE)
    BAD_REQUEST = (4, 400, grpc.StatusCode.INVALID_ARGUMENT)
    NOT_FOUND = (11, 404, grpc.StatusCode.NOT_FOUND)
    INVALID_PARAMETER_VALUE = (1000, 400, grpc.StatusCode.INVALID_ARGUMENT)
    ENDPOINT_NOT_FOUND = (1001, 404, grpc.StatusCode.UNIMPLEMENTED)
    INVALID_STATE = (1003, 500, grpc.StatusCode.FAILED_PRECONDITION)
    PERMISSION_DENIED = (1004, 403, grpc.StatusCode.PERMISSION_DENIED)
    NOT_IMPLEMENTED = (1010, 501, grpc.StatusCode.UNIMPLEMENTED)
    UNAUTHENTICATED = (1011, 401, grpc.StatusCode.UNAUTHENTICATED)
    RESOURCE_ALREADY_EXISTS = (3001, 400, grpc.StatusCode.ALREADY_EXISTS)
    RESOURCE_DOES_NOT_EXIST = (3002, 404, grpc.StatusCode.NOT_FOUND)
    REQUEST_LIMIT_EXCEEDED = (4001, 429, grpc.StatusCode.RESOURCE_EXHAUSTED)

    @property
    def number(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return self.value[2]


class PolytrackError(Exception):
    """A failure to report to the client as `code` with a message naming what is wrong."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidParameter(PolytrackError):
    """A request field is missing, malformed or out of range."""

    code = ErrorCode.INVALID_PARAMETER_VALUE


class NotFound(PolytrackError):
    """The entity a request names does not exist."""

    code = ErrorCode.RESOURCE_DOES_NOT_EXIST


class AlreadyExists(PolytrackError):
    """An entity with the requested identity exists already."""

    code = ErrorCode.RESOURCE_ALREADY_EXISTS


class InvalidState(PolytrackError):
    """The entity is in a state that forbids the operation (e.g. renaming a deleted experiment)."""

    code = ErrorCode.INVALID_STATE


class BadRequest(PolytrackError):
    """The request conflicts with stored data in a way MLflow reports as BAD_REQUEST."""

    code = ErrorCode.BAD_REQUEST


class Unavailable(PolytrackError):
    """The database is unreachable or locked for too long; the client may retry."""

    code = ErrorCode.TEMPORARILY_UNAVAILABLE
