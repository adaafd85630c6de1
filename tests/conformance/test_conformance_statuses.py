"""The runner's table of statuses per error code is the server's mapping, written as data.

The suite must not import the server (it judges other implementations too), so it keeps its own
table; this test keeps the two equal.
"""

from __future__ import annotations

from conformance.runner import statuses
from polytrack_server.errors import ErrorCode


def test_table_matches_the_server_error_codes() -> None:
    server = {code.name: (code.http_status, code.grpc_status.name) for code in ErrorCode}
    runner = {name: (found.http, found.grpc) for name, found in statuses.ERROR_STATUSES.items()}
    assert runner == server


def test_unknown_code_has_no_expected_status() -> None:
    assert statuses.expected_http_status("NO_SUCH_CODE") is None
    assert statuses.expected_grpc_status("NO_SUCH_CODE") is None
    assert statuses.expected_http_status("RESOURCE_DOES_NOT_EXIST") == 404
    assert statuses.expected_grpc_status("RESOURCE_ALREADY_EXISTS") == "ALREADY_EXISTS"
