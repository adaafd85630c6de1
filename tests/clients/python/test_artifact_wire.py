"""DownloadArtifactResponse read from its wire bytes agrees with protobuf's own parser, and the
UploadArtifactRequests written as bytes are what protobuf reads back."""

from __future__ import annotations

import io

import pytest
from crc32c import CRC32CHash, crc32c
from hypothesis import given
from hypothesis import strategies as st

from polytrack._artifact_wire import parse_download_chunk, upload_data_messages
from polytrack.errors import PolytrackException
from polytrack.v1 import artifacts_service_pb2 as art

responses = st.builds(
    lambda file_size, data, crc32c: art.DownloadArtifactResponse(
        file_size=file_size, data=data, crc32c=crc32c
    ),
    file_size=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    data=st.none() | st.binary(max_size=300),
    crc32c=st.none() | st.integers(min_value=0, max_value=2**32 - 1),
)


def expected(message: art.DownloadArtifactResponse) -> tuple[bytes, int | None, int | None]:
    return (
        message.data,
        message.file_size if message.HasField("file_size") else None,
        message.crc32c if message.HasField("crc32c") else None,
    )


def parsed(raw: bytes) -> tuple[bytes, int | None, int | None]:
    chunk = parse_download_chunk(raw)
    return bytes(chunk.data), chunk.file_size, chunk.crc32c


@given(responses)
def test_any_response_reads_as_protobuf_reads_it(message: art.DownloadArtifactResponse) -> None:
    assert parsed(message.SerializeToString()) == expected(message)


@given(st.lists(responses, min_size=2, max_size=4))
def test_concatenated_encodings_merge_as_protobuf_merges_them(
    messages: list[art.DownloadArtifactResponse],
) -> None:
    raw = b"".join(message.SerializeToString() for message in messages)
    assert parsed(raw) == expected(art.DownloadArtifactResponse.FromString(raw))


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        bytes([9 << 3 | 0, 0x96, 0x01])  # varint
        + bytes([10 << 3 | 1])
        + b"8bytes!!"  # fixed64
        + bytes([11 << 3 | 2, 3])
        + b"abc"  # length-delimited
        + bytes([12 << 3 | 5])
        + b"4byt"  # fixed32
    )
    known = art.DownloadArtifactResponse(file_size=7, data=b"payload").SerializeToString()
    assert parsed(unknown + known) == (b"payload", 7, None)


def test_the_data_is_a_view_of_the_received_bytes_not_a_copy() -> None:
    raw = art.DownloadArtifactResponse(data=b"x" * 1000).SerializeToString()
    assert parse_download_chunk(raw).data.obj is raw


@pytest.mark.parametrize(
    "raw",
    [
        bytes([2 << 3 | 2, 10]) + b"short",  # data longer than the message
        bytes([1 << 3 | 0, 0x80]),  # varint cut off
        bytes([1 << 3 | 0]) + b"\xff" * 10 + b"\x01",  # varint longer than 64 bits
        bytes([5 << 3 | 3]),  # group wire type
        bytes([10 << 3 | 1]) + b"1234",  # fixed64 cut off
        bytes([4 << 3 | 5]) + b"\x01\x02",  # the checksum (fixed32) cut off
    ],
)
def test_malformed_bytes_are_a_data_loss_error(raw: bytes) -> None:
    with pytest.raises(PolytrackException) as failure:
        parse_download_chunk(raw)
    assert failure.value.error_code == "DATA_LOSS"
    assert "Malformed DownloadArtifact response" in str(failure.value)


@given(st.binary(max_size=5000), st.sampled_from([1, 7, 127, 128, 1000, 16_384, 2**21]))
def test_upload_messages_carry_the_file_in_order_within_the_chunk_size(
    content: bytes, chunk_size: int
) -> None:
    checksum = CRC32CHash()
    raws = list(upload_data_messages(io.BufferedReader(io.BytesIO(content)), chunk_size, checksum))
    messages = [art.UploadArtifactRequest.FromString(raw) for raw in raws]
    assert all(
        message.ListFields() == [(message.DESCRIPTOR.fields_by_name["data"], message.data)]
        for message in messages
    )
    assert all(0 < len(message.data) <= chunk_size for message in messages)
    assert b"".join(message.data for message in messages) == content
    assert checksum.checksum == crc32c(content)


def test_an_empty_file_makes_no_data_messages() -> None:
    assert list(upload_data_messages(io.BufferedReader(io.BytesIO(b"")), 1024)) == []


def test_each_upload_message_is_its_own_bytes_object() -> None:
    # gRPC may still hold a message while the next is produced: reusing the buffer must not show.
    raws = list(upload_data_messages(io.BufferedReader(io.BytesIO(b"a" * 10 + b"b" * 10)), 10))
    assert [art.UploadArtifactRequest.FromString(raw).data for raw in raws] == [b"a" * 10, b"b" * 10]
