"""protoc as both generators run it: grpcio-tools' bundled compiler, with proto/, googleapis'
google/api protos and protoc's well-known types on the import path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import google.api
import grpc_tools  # type: ignore[import-untyped]  # ships no type information

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
# Folders of protoc's own well-known types and of google/api/*.proto shipped by googleapis-common-protos.
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"
GOOGLE_API = Path(next(iter(google.api.__path__)))


def run_protoc(*arguments: str) -> None:
    """Run protoc in proto/ with `arguments` (options, then the .proto files relative to proto/)."""
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{GOOGLE_API.parent.parent}",
        f"-I{WELL_KNOWN}",
        *arguments,
    ]
    subprocess.run(command, check=True, cwd=PROTO_ROOT)
