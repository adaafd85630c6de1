"""The HTTP status and the canonical gRPC status each error code is answered with.

An error expectation that names an `error_code` but no `http_status` (or `grpc_status`) is
checked against this table, so every error case also checks the status. It is data, not an
import of the server: the suite judges any implementation, and a test
(tests/conformance/test_conformance_statuses.py) keeps it equal to the server's own mapping in
`polytrack_server.errors.ErrorCode`. HTTP statuses are MLflow's; gRPC statuses are the canonical
codes (`grpc.StatusCode` names) a `google.rpc.Status` carrying the code's ErrorInfo must have.
"""

from __future__ import annotations

from typing import NamedTuple


class Statuses(NamedTuple):
    """How one error code travels: the REST reply's status and the gRPC canonical status name."""

    http: int
    grpc: str


ERROR_STATUSES: dict[str, Statuses] = {
    "INTERNAL_ERROR": Statuses(500, "INTERNAL"),
    "TEMPORARILY_UNAVAILABLE": Statuses(503, "UNAVAILABLE"),
    "BAD_REQUEST": Statuses(400, "INVALID_ARGUMENT"),
    "NOT_FOUND": Statuses(404, "NOT_FOUND"),
    "INVALID_PARAMETER_VALUE": Statuses(400, "INVALID_ARGUMENT"),
    "ENDPOINT_NOT_FOUND": Statuses(404, "UNIMPLEMENTED"),
    "INVALID_STATE": Statuses(500, "FAILED_PRECONDITION"),
    "PERMISSION_DENIED": Statuses(403, "PERMISSION_DENIED"),
    "NOT_IMPLEMENTED": Statuses(501, "UNIMPLEMENTED"),
    "UNAUTHENTICATED": Statuses(401, "UNAUTHENTICATED"),
    "RESOURCE_ALREADY_EXISTS": Statuses(400, "ALREADY_EXISTS"),
    "RESOURCE_DOES_NOT_EXIST": Statuses(404, "NOT_FOUND"),
    "REQUEST_LIMIT_EXCEEDED": Statuses(429, "RESOURCE_EXHAUSTED"),
}


def expected_http_status(error_code: str) -> int | None:
    """The HTTP status `error_code` is answered with, or None for a code the table does not know."""
    found = ERROR_STATUSES.get(error_code)
    return found.http if found else None


def expected_grpc_status(error_code: str) -> str | None:
    """The canonical gRPC status name carrying `error_code`, or None for a code the table does not know."""
    found = ERROR_STATUSES.get(error_code)
    return found.grpc if found else None
