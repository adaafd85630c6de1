"""The artifact streams' large messages read and written as wire bytes, without protobuf's copies.

A gigabyte crosses a gRPC stream as about a thousand one-megabyte messages, and protobuf copies
each chunk more than once on its way in or out of a message. The wire format itself is read and
written with `polytrack.protowire`, which the SDK's side of the same streams uses too.

Reading `UploadArtifactRequest`: parsed the usual way, each chunk is copied into the message, then
out of it again when `data` is read; read from the serialized bytes instead it stays where gRPC
put it, and the servicer writes and checksums a view of it. Any valid encoding is accepted (fields
in any order; a repeated field's last value counts, as protobuf merges them; unknown fields are
skipped). Bytes that are not a valid message do not fail here, inside gRPC's deserializer, where
they would end the call with a bare INTERNAL status: the part records what is wrong, and the
servicer refuses the upload naming it.

Writing `DownloadArtifactResponse`: building the message and serializing it copied each chunk
three times (about a fifth of the server's CPU time per downloaded gigabyte, measured); written
as the field's header followed by the chunk it is one copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from polytrack.protowire import FIXED32, MalformedMessage, encode_varint, fields
from polytrack.v1 import artifacts_service_pb2 as art

# Field numbers of polytrack.v1.UploadArtifactRequest (artifacts_service.proto).
_PATH, _RUN_ID, _DATA, _CRC32C = 1, 2, 3, 5
# The key of polytrack.v1.DownloadArtifactResponse's `data` (field 2, length-delimited).
_DOWNLOAD_DATA_KEY = b"\x12"
_STRINGS = {_PATH: "path", _RUN_ID: "run_id"}


@dataclass(frozen=True, slots=True)
class UploadPart:
    """One message of an upload stream. `crc32c` is None when the field is absent; `malformed`
    says why the message's bytes could not be read (the other fields are then empty)."""

    path: str = ""
    run_id: str = ""
    data: bytes | memoryview = b""
    crc32c: int | None = None
    malformed: str | None = None

    @classmethod
    def of_message(cls, message: art.UploadArtifactRequest) -> UploadPart:
        crc32c = message.crc32c if message.HasField("crc32c") else None
        return cls(message.path, message.run_id, message.data, crc32c)


def parse_upload_part(raw: bytes) -> UploadPart:
    """The fields of one serialized UploadArtifactRequest; `data` is a view into `raw`."""
    try:
        return _parse(raw)
    except MalformedMessage as problem:
        return UploadPart(malformed=f"the message is not a valid UploadArtifactRequest ({problem})")


def _parse(raw: bytes) -> UploadPart:
    strings: dict[str, str] = {}
    data: bytes | memoryview = b""
    crc32c: int | None = None
    for number, wire_type, value in fields(raw):
        if number == 0:
            raise MalformedMessage("field number 0")
        if isinstance(value, memoryview):  # length-delimited
            if number == _DATA:
                data = value
            elif number in _STRINGS:
                try:
                    strings[_STRINGS[number]] = str(value, "utf-8")
                except UnicodeDecodeError:
                    raise MalformedMessage(f"'{_STRINGS[number]}' is not valid UTF-8") from None
        elif number == _CRC32C and wire_type == FIXED32:
            crc32c = value
    return UploadPart(strings.get("path", ""), strings.get("run_id", ""), data, crc32c)


def download_chunk_message(data: bytes, file_size: int | None = None) -> bytes:
    """A serialized DownloadArtifactResponse carrying `data` (and `file_size`, when given)."""
    head = b"" if file_size is None else art.DownloadArtifactResponse(file_size=file_size).SerializeToString()
    return head + _DOWNLOAD_DATA_KEY + encode_varint(len(data)) + data
