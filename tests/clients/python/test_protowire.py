"""The wire-format primitives agree with protobuf: varints round-trip and match protobuf's own
encoding, every field of a message comes back with its wire type and value, and bytes that stop
being a message are refused naming the problem."""

from __future__ import annotations

import pytest
from google.protobuf import wrappers_pb2
from hypothesis import given
from hypothesis import strategies as st

from polytrack.protowire import (
    FIXED32,
    FIXED64,
    LENGTH_DELIMITED,
    VARINT,
    MalformedMessage,
    encode_varint,
    fields,
    read_varint,
)
from polytrack.v1 import artifacts_service_pb2 as art

unsigned_64 = st.integers(min_value=0, max_value=2**64 - 1)


@given(unsigned_64)
def test_a_varint_reads_back_and_is_encoded_as_protobuf_encodes_it(value: int) -> None:
    encoded = encode_varint(value)
    assert read_varint(b"\x00" + encoded + b"\x07", 1) == (value, 1 + len(encoded))
    # UInt64Value's only field: key 0x08, then the value as a varint (absent when zero).
    assert wrappers_pb2.UInt64Value(value=value).SerializeToString() == (b"\x08" + encoded if value else b"")


@given(
    file_size=st.integers(min_value=0, max_value=2**63 - 1),
    data=st.binary(min_size=1, max_size=300),  # proto3 leaves empty bytes out
    crc32c=st.integers(min_value=0, max_value=2**32 - 1),
    fixed64=unsigned_64,
)
def test_every_field_comes_back_in_order_with_its_wire_type_and_value(
    file_size: int, data: bytes, crc32c: int, fixed64: int
) -> None:
    raw = art.DownloadArtifactResponse(file_size=file_size, data=data, crc32c=crc32c).SerializeToString()
    # An unknown fixed64 field 9 at the end: key (9 << 3 | 1), then 8 little-endian bytes.
    raw += encode_varint(9 << 3 | FIXED64) + fixed64.to_bytes(8, "little")
    found = [
        (number, wire_type, bytes(value) if isinstance(value, memoryview) else value)
        for number, wire_type, value in fields(raw)
    ]
    assert found == [
        (1, VARINT, file_size),
        (2, LENGTH_DELIMITED, data),
        (4, FIXED32, crc32c),
        (9, FIXED64, fixed64),
    ]


def test_a_length_delimited_value_is_a_view_into_the_message_not_a_copy() -> None:
    raw = art.DownloadArtifactResponse(data=b"chunk").SerializeToString()
    [(_, _, value)] = list(fields(raw))
    assert isinstance(value, memoryview) and value.obj is raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\x08", "a truncated or overlong varint"),
        (b"\x08" + b"\xff" * 10 + b"\x01", "a truncated or overlong varint"),
        (b"\x12\x05abc", "field 2 runs past the end of the message"),
        (b"\x25\x01\x02", "field 4 runs past the end of the message"),
        (b"\x09\x01\x02\x03", "field 1 runs past the end of the message"),
        (b"\x0b", "unsupported wire type 3 of field 1"),
    ],
)
def test_bytes_that_stop_being_a_message_are_refused_naming_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=f"^{problem}$"):
        list(fields(raw))
