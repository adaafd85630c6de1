"""Domain exceptions, raised by storage and services and mapped to the wire once, at each edge.

Every failure a client can see is a `PolytrackError` carrying one code of the shared taxonomy
(`polytrack.v1.ErrorCode`, MLflow's error codes). The REST gateway turns it into
`{"error_code", "message"}` with `http_status`; the gRPC edge into a `google.rpc.Status` with
`grpc_status` and an `ErrorInfo` whose reason is the code name.
"""

from __future__ import annotations

import enum

import grpc


class ErrorCode(enum.Enum):
    """An error code, with the HTTP status and canonical gRPC status that carry it."""

    INTERNAL_ERROR = (500, grpc.StatusCode.INTERNAL)
    BAD_REQUEST = (400, grpc.StatusCode.INVALID_ARGUMENT)
    NOT_FOUND = (404, grpc.StatusCode.NOT_FOUND)
    TEMPORARILY_UNAVAILABLE = (503, grpc.StatusCode.UNAVAILABLE)
    INVALID_PARAMETER_VALUE = (400, grpc.StatusCode.INVALID_ARGUMENT)
    ENDPOINT_NOT_FOUND = (404, grpc.StatusCode.UNIMPLEMENTED)
    INVALID_STATE = (500, grpc.StatusCode.FAILED_PRECONDITION)
    PERMISSION_DENIED = (403, grpc.StatusCode.PERMISSION_DENIED)
    NOT_IMPLEMENTED = (501, grpc.StatusCode.UNIMPLEMENTED)
    UNAUTHENTICATED = (401, grpc.StatusCode.UNAUTHENTICATED)
    RESOURCE_ALREADY_EXISTS = (400, grpc.StatusCode.ALREADY_EXISTS)
    RESOURCE_DOES_NOT_EXIST = (404, grpc.StatusCode.NOT_FOUND)
    REQUEST_LIMIT_EXCEEDED = (429, grpc.StatusCode.RESOURCE_EXHAUSTED)

    @property
    def http_status(self) -> int:
        return self.value[0]

    @property
    def grpc_status(self) -> grpc.StatusCode:
        return self.value[1]


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
