"""UploadArtifactRequest read from its wire bytes agrees with protobuf's own parser, and bytes
that are not such a message are reported, not raised inside gRPC's deserializer;
DownloadArtifactResponse written as bytes is what protobuf reads back."""

from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from polytrack.v1 import artifacts_service_pb2 as art
from polytrack_server.services.artifact_wire import UploadPart, download_chunk_message, parse_upload_part

requests = st.builds(
    lambda path, run_id, data, crc32c: art.UploadArtifactRequest(
        path=path, run_id=run_id, data=data, crc32c=crc32c
    ),
    path=st.none() | st.text(max_size=40),
    run_id=st.none() | st.text(max_size=40),
    data=st.none() | st.binary(max_size=300),
    crc32c=st.none() | st.integers(min_value=0, max_value=2**32 - 1),
)


def fields(part: UploadPart) -> tuple[str, str, bytes, int | None, str | None]:
    return part.path, part.run_id, bytes(part.data), part.crc32c, part.malformed


@given(requests)
def test_any_request_reads_as_protobuf_reads_it(message: art.UploadArtifactRequest) -> None:
    assert fields(parse_upload_part(message.SerializeToString())) == fields(UploadPart.of_message(message))


@given(st.lists(requests, min_size=2, max_size=4))
def test_concatenated_encodings_merge_as_protobuf_merges_them(
    messages: list[art.UploadArtifactRequest],
) -> None:
    raw = b"".join(message.SerializeToString() for message in messages)
    merged = art.UploadArtifactRequest.FromString(raw)
    assert fields(parse_upload_part(raw)) == fields(UploadPart.of_message(merged))


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        bytes([9 << 3 | 0, 0x96, 0x01])
        + bytes([10 << 3 | 1])
        + b"8bytes!!"
        + bytes([11 << 3 | 2, 3])
        + b"abc"
        + bytes([12 << 3 | 5])
        + b"4byt"
    )
    known = art.UploadArtifactRequest(path="a/b.txt", data=b"payload").SerializeToString()
    assert fields(parse_upload_part(unknown + known)) == ("a/b.txt", "", b"payload", None, None)


def test_the_data_is_a_view_of_the_received_bytes_not_a_copy() -> None:
    raw = art.UploadArtifactRequest(data=b"x" * 1000).SerializeToString()
    data = parse_upload_part(raw).data
    assert isinstance(data, memoryview) and data.obj is raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (bytes([3 << 3 | 2, 10]) + b"short", "field 3 runs past the end"),
        (bytes([1 << 3 | 0, 0x80]), "truncated or overlong varint"),
        (bytes([1 << 3 | 0]) + b"\xff" * 10 + b"\x01", "truncated or overlong varint"),
        (bytes([10 << 3 | 1]) + b"1234", "field 10 runs past the end"),
        (bytes([5 << 3 | 5]) + b"\x01\x02", "field 5 runs past the end"),
        (bytes([1 << 3 | 2, 2]) + b"\xc3\x28", "'path' is not valid UTF-8"),
        (bytes([0 << 3 | 0, 1]), "field number 0"),
    ],
)
def test_malformed_bytes_are_reported_with_what_is_wrong(raw: bytes, problem: str) -> None:
    with pytest.raises(DecodeError):
        art.UploadArtifactRequest.FromString(raw)  # protobuf refuses them too
    part = parse_upload_part(raw)
    assert part.malformed is not None and problem in part.malformed
    assert fields(part)[:4] == ("", "", b"", None)


@given(
    st.binary(max_size=400) | st.sampled_from([b"", b"x" * 128, b"y" * (1 << 20)]),
    st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)
def test_download_chunks_are_written_as_protobuf_reads_them(data: bytes, file_size: int | None) -> None:
    message = art.DownloadArtifactResponse.FromString(download_chunk_message(data, file_size))
    assert message.data == data
    assert message.HasField("file_size") == (file_size is not None)
    assert message.file_size == (file_size or 0)
    assert not message.HasField("crc32c")
