"""The error taxonomy matches errors.proto, name for name and number for number."""

from __future__ import annotations

from polytrack.v1 import errors_pb2
from polytrack_server.errors import ErrorCode


def test_every_code_is_in_the_proto_with_the_same_number() -> None:
    proto = {v.name: v.number for v in errors_pb2.DESCRIPTOR.enum_types_by_name["ErrorCode"].values}
    proto.pop("ERROR_CODE_UNSPECIFIED")
    assert {code.name: code.number for code in ErrorCode} == proto


def test_mlflow_http_statuses() -> None:
    assert ErrorCode.INVALID_PARAMETER_VALUE.http_status == 400
    assert ErrorCode.RESOURCE_ALREADY_EXISTS.http_status == 400
    assert ErrorCode.RESOURCE_DOES_NOT_EXIST.http_status == 404
    assert ErrorCode.INVALID_STATE.http_status == 500
    assert ErrorCode.TEMPORARILY_UNAVAILABLE.http_status == 503


def test_codes_sharing_statuses_stay_distinct() -> None:
    assert ErrorCode.INVALID_PARAMETER_VALUE is not ErrorCode.BAD_REQUEST
    assert ErrorCode.RESOURCE_DOES_NOT_EXIST is not ErrorCode.NOT_FOUND
    assert len(ErrorCode) == len({code.name for code in ErrorCode})
