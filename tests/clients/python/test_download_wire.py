"""DownloadArtifactResponse read from its wire bytes agrees with protobuf's own parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytrack._download_wire import parse_download_chunk
from polytrack.errors import PolytrackException
from polytrack.v1 import artifacts_service_pb2 as art

responses = st.builds(
    lambda file_size, data, sha256: art.DownloadArtifactResponse(
        file_size=file_size, data=data, sha256=sha256
    ),
    file_size=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    data=st.none() | st.binary(max_size=300),
    sha256=st.none() | st.text(max_size=70),
)


def expected(message: art.DownloadArtifactResponse) -> tuple[bytes, int | None, str | None]:
    return (
        message.data,
        message.file_size if message.HasField("file_size") else None,
        message.sha256 if message.HasField("sha256") else None,
    )


def parsed(raw: bytes) -> tuple[bytes, int | None, str | None]:
    chunk = parse_download_chunk(raw)
    return bytes(chunk.data), chunk.file_size, chunk.sha256


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
    ],
)
def test_malformed_bytes_are_a_data_loss_error(raw: bytes) -> None:
    with pytest.raises(PolytrackException) as failure:
        parse_download_chunk(raw)
    assert failure.value.error_code == "DATA_LOSS"
    assert "Malformed DownloadArtifact response" in str(failure.value)
