"""Fixtures of the gateway tests: a compiled test proto covering every JSON shape the codec handles."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import google.api
import grpc_tools
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message_factory import GetMessageClass
from grpc_tools import protoc

# Field numbers follow declaration order except in `Ordered`, so that encoding order is testable.
TEST_PROTO = """
syntax = "proto3";
package gatewaytest;

import "google/api/annotations.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";

enum Color {
  COLOR_UNSPECIFIED = 0;
  RED = 1;
  GREEN = 2;
}

message Leaf {
  optional string name = 1;
  optional int64 size = 2;
}

message Everything {
  optional string text = 1;
  optional int32 small = 2;
  optional int64 big = 3;
  optional uint32 small_unsigned = 4;
  optional uint64 big_unsigned = 5;
  optional sint64 zigzag = 6;
  optional fixed64 fixed = 7;
  optional double ratio = 8;
  optional float single = 9;
  optional bool flag = 10;
  optional bytes blob = 11;
  optional Color color = 12;
  optional Leaf leaf = 13;
  repeated string texts = 14;
  repeated int64 bigs = 15;
  repeated double ratios = 16;
  repeated Color colors = 17;
  repeated Leaf leaves = 18;
  map<string, string> labels = 19;
  map<int32, Leaf> leaves_by_id = 20;
  map<bool, double> ratio_by_flag = 21;
  int32 plain_count = 22;
  string plain_name = 23;
  Everything child = 24;
  oneof choice {
    string left = 25;
    int64 right = 26;
  }
  google.protobuf.Timestamp when = 27;
  google.protobuf.Struct extra = 28;
  optional string from = 29;
}

message Ordered {
  optional string second = 2;
  optional string first = 1;
}

message Book {
  optional string shelf = 1;
  optional string name = 2;
  optional int64 pages = 3;
  optional Color color = 4;
  repeated string authors = 5;
  optional Leaf leaf = 6;
}

message Empty {}

// Bindings beyond what TrackingService uses: path variables, DELETE/PATCH, a custom verb.
service Library {
  rpc GetBook(Book) returns (Book) {
    option (google.api.http) = {
      get: "/v1/shelves/{shelf}/books/{name=**}"
    };
  }
  rpc UpdateBook(Book) returns (Book) {
    option (google.api.http) = {
      patch: "/v1/books"
      body: "*"
      additional_bindings {
        post: "/v1/shelves/{shelf}/books/{name}:update"
        body: "*"
      }
    };
  }
  rpc DeleteBook(Book) returns (Empty) {
    option (google.api.http) = {
      delete: "/v1/books"
      body: "*"
    };
  }
  rpc SizeBook(Book) returns (Book) {
    option (google.api.http) = {
      get: "/v1/books/{pages}/size"
    };
  }
}

// A service with an RPC lacking any HTTP binding.
service Unbound {
  rpc Ping(Empty) returns (Empty);
}
"""


def compile_test_proto(folder: Path) -> descriptor_pool.DescriptorPool:
    """Compile TEST_PROTO with protoc into a private descriptor pool."""
    (folder / "gatewaytest.proto").write_text(TEST_PROTO)
    descriptor_set = folder / "gatewaytest.pb"
    includes = [
        f"-I{folder}",
        f"-I{Path(next(iter(google.api.__path__))).parent.parent}",
        f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
    ]
    status = protoc.main(
        [
            "protoc",
            *includes,
            f"--descriptor_set_out={descriptor_set}",
            "--include_imports",
            "gatewaytest.proto",
        ]
    )
    assert status == 0, "protoc failed on the test proto"
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


@pytest.fixture(scope="session")
def testproto(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The test proto's message classes and service descriptors, by name."""
    pool = compile_test_proto(tmp_path_factory.mktemp("proto"))
    file = pool.FindFileByName("gatewaytest.proto")
    namespace = SimpleNamespace(
        **{name: GetMessageClass(descriptor) for name, descriptor in file.message_types_by_name.items()}
    )
    namespace.Library = file.services_by_name["Library"]
    namespace.Unbound = file.services_by_name["Unbound"]
    namespace.Color = file.enum_types_by_name["Color"]
    return namespace
