"""PolytrackException: one exception type, the MLflow error code and HTTP status."""

from __future__ import annotations

import pickle

from polytrack.errors import PolytrackException, http_status_for


def test_exception_carries_code_message_and_status() -> None:
    error = PolytrackException("No run 'x'", "RESOURCE_DOES_NOT_EXIST", 404)
    assert (error.message, error.error_code, error.http_status) == (
        "No run 'x'",
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert str(error) == "RESOURCE_DOES_NOT_EXIST: No run 'x'"
    assert repr(error) == (
        "PolytrackException(message=\"No run 'x'\", error_code='RESOURCE_DOES_NOT_EXIST', http_status=404)"
    )
    assert PolytrackException("boom").error_code == "INTERNAL_ERROR"
    assert PolytrackException("boom").http_status is None


def test_http_statuses_are_mlflows() -> None:
    assert http_status_for("RESOURCE_ALREADY_EXISTS") == 400
    assert http_status_for("RESOURCE_DOES_NOT_EXIST") == 404
    assert http_status_for("INVALID_STATE") == 500
    assert http_status_for("REQUEST_LIMIT_EXCEEDED") == 429
    assert http_status_for("TEMPORARILY_UNAVAILABLE") == 503
    assert http_status_for("SOMETHING_NEW") == 500


def test_exception_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(PolytrackException("gone", "RESOURCE_DOES_NOT_EXIST", 404)))
    assert (error.message, error.error_code, error.http_status) == ("gone", "RESOURCE_DOES_NOT_EXIST", 404)
