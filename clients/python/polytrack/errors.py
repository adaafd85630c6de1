"""The one exception the polytrack client raises: `PolytrackException`, carrying an MLflow error code.

Whatever the transport (REST, gRPC or the embedded store), a failure reported by the tracking
service arrives as the same `error_code` string (`RESOURCE_DOES_NOT_EXIST`,
`INVALID_PARAMETER_VALUE`, ...) and the same HTTP status, so code written against one transport
handles errors identically on the others. Failures to reach the service at all are reported with
the code `TEMPORARILY_UNAVAILABLE`.
"""

from __future__ import annotations

__all__ = ["PolytrackException", "http_status_for"]

# MLflow's HTTP status of each error code; codes not listed answer 500.
_HTTP_STATUS: dict[str, int] = {
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "UNAUTHENTICATED": 401,
    "CUSTOMER_UNAUTHORIZED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ALREADY_EXISTS": 409,
    "RESOURCE_CONFLICT": 409,
    "ABORTED": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def http_status_for(error_code: str) -> int:
    """The HTTP status MLflow's REST API answers `error_code` with (500 for codes it does not list)."""
    return _HTTP_STATUS.get(error_code, 500)


class PolytrackException(Exception):
    """A request to the tracking service failed.

    `error_code` is the MLflow error code name (e.g. `RESOURCE_DOES_NOT_EXIST`); `http_status` is
    the HTTP status the REST API answers it with, or None when no answer was received (the
    service could not be reached). There are no subclasses: catch this and branch on
    `error_code`.
    """

    def __init__(
        self, message: str, error_code: str = "INTERNAL_ERROR", http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.http_status = http_status

    def __reduce__(self) -> tuple[type[PolytrackException], tuple[str, str, int | None]]:
        # Keep the code and status when pickled (multiprocessing, process pools).
        return (type(self), (self.message, self.error_code, self.http_status))

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"PolytrackException(message={self.message!r}, error_code={self.error_code!r}, "
            f"http_status={self.http_status!r})"
        )
