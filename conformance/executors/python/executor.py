"""Conformance executor for polytrack's Python client: forwards calls, judges nothing.

    python conformance/executors/python/executor.py --transport rest --target http://127.0.0.1:5000
    python conformance/executors/python/executor.py --transport grpc --target 127.0.0.1:5001

Reads one JSON request per line on stdin and writes one JSON answer per line on stdout, until
end of input (the protocol is in conformance/README.md):

    {"id": 1, "kind": "rpc", "service": "polytrack.v1.TrackingService", "method": "GetRun",
     "request": {"run_id": "..."}}
    -> {"id": 1, "response": {...}}
    -> {"id": 1, "error": {"error_code": "RESOURCE_DOES_NOT_EXIST", "http_status": 404, "message": "...",
                            "grpc_status": "NOT_FOUND"}}   (grpc_status: gRPC transport only)
    -> {"id": 1, "failure": "why the call could not be made"}

The request JSON becomes the request message with protobuf's JSON parser, the call goes through
the client's REST or gRPC transport (no retries, so every answer is the server's first), and the
response message is printed as protobuf JSON with the proto's field names.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc
from google.protobuf import json_format

from polytrack._transport import RetryPolicy, find_rpc
from polytrack._transport.base import BaseTransport
from polytrack.errors import PolytrackException


def open_transport(transport: str, target: str) -> BaseTransport:
    """The client transport under test, making one attempt per call."""
    if transport == "rest":
        from polytrack._transport.rest import RestTransport

        return RestTransport(target, retry=RetryPolicy.never())
    from polytrack._transport.grpc import GrpcTransport

    return GrpcTransport(target.removeprefix("grpc://"), retry=RetryPolicy.never())


def answer(client: BaseTransport, line: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request line (without its id)."""
    if line.get("kind") != "rpc":
        return {"failure": f"this executor handles kind 'rpc' only, got {line.get('kind')!r}"}
    name = f"{line.get('service') or 'polytrack.v1.TrackingService'}.{line.get('method')}"
    try:
        rpc = find_rpc(name)
    except ValueError as error:
        return {"failure": str(error)}
    request = rpc.request_class()
    try:
        json_format.ParseDict(line.get("request") or {}, request)
    except json_format.ParseError as error:
        return {"failure": f"request is not a valid {rpc.request_class.__name__}: {error}"}
    try:
        response = client.call(rpc.descriptor.full_name, request)
    except PolytrackException as error:
        reported: dict[str, Any] = {
            "error_code": error.error_code,
            "http_status": error.http_status,
            "message": error.message,
        }
        # Over gRPC the transport raises from the grpc.RpcError, whose code is the canonical status.
        cause = error.__cause__
        if isinstance(cause, grpc.RpcError):
            reported["grpc_status"] = cause.code().name
        return {"error": reported}
    return {"response": json_format.MessageToDict(response, preserving_proto_field_name=True)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transport", choices=["rest", "grpc"], required=True)
    parser.add_argument("--target", required=True, help="REST base URL, or gRPC host:port")
    args = parser.parse_args()
    client = open_transport(args.transport, args.target)
    try:
        for raw in sys.stdin:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as error:
                print(f"executor: input is not JSON: {error}", file=sys.stderr)
                return 2
            reply = {"id": line.get("id"), **answer(client, line)}
            sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
