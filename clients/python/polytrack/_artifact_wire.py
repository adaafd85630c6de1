"""The artifact streams' messages read and written as wire bytes, without protobuf's copies.

Reading `DownloadArtifactResponse`: a gRPC download receives about a thousand one-megabyte
messages per gigabyte. Parsed the usual way, each chunk is copied twice more (into the message,
then out of it by reading `data`); reading the three fields from the serialized bytes instead
hands the chunk on as a view of the received buffer (about a sixth less client CPU per gigabyte,
measured on the benchmark machine). Any valid encoding is accepted: fields in any order, repeated
fields (the last one counts, as protobuf merges them), and unknown fields, which are skipped.

Writing `UploadArtifactRequest`: the file is read straight into the buffer of the message that
carries it, behind room for the field's header, and the message is handed to gRPC as one copy of
that buffer (instead of a read, a copy into the message and one more to serialize it).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from polytrack.errors import PolytrackException

# Field numbers of polytrack.v1.DownloadArtifactResponse (artifacts_service.proto).
_FILE_SIZE, _DATA, _CRC32C = 1, 2, 4
# The key of polytrack.v1.UploadArtifactRequest's `data` (field 3, length-delimited).
_UPLOAD_DATA_KEY = b"\x1a"
# Room before the chunk for the key and the chunk's length as a varint.
_HEADER_ROOM = 16
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True, slots=True)
class DownloadChunk:
    """One response of the stream: the bytes it carries, and the optional size and checksum."""

    data: memoryview
    file_size: int | None
    crc32c: int | None


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(buffer) or shift > 63:
            raise _malformed("a truncated or overlong varint")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _malformed(what: str) -> PolytrackException:
    return PolytrackException(f"Malformed DownloadArtifact response from the server: {what}", "DATA_LOSS")


def parse_download_chunk(raw: bytes) -> DownloadChunk:
    """The fields of one serialized DownloadArtifactResponse; `data` is a view into `raw`."""
    view = memoryview(raw)
    data, file_size, crc32c = view[0:0], None, None
    position = 0
    while position < len(raw):
        key, position = _varint(raw, position)
        field, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, position = _varint(raw, position)
            if field == _FILE_SIZE:
                # int64 travels as its two's complement in 64 bits.
                file_size = value - (1 << 64) if value >= 1 << 63 else value
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _varint(raw, position)
            end = position + length
            if end > len(raw):
                raise _malformed(f"field {field} runs past the end of the message")
            if field == _DATA:
                data = view[position:end]
            position = end
        elif wire_type == _FIXED64:
            position += 8
        elif wire_type == _FIXED32:
            if field == _CRC32C and position + 4 <= len(raw):
                crc32c = int.from_bytes(view[position : position + 4], "little")
            position += 4
        else:
            raise _malformed(f"unsupported wire type {wire_type} of field {field}")
        if position > len(raw):
            raise _malformed(f"field {field} runs past the end of the message")
    return DownloadChunk(data, file_size, crc32c)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def upload_data_messages(
    handle: io.BufferedIOBase, chunk_size: int, checksum: Any | None = None
) -> Iterator[bytes]:
    """Serialized UploadArtifactRequests carrying the rest of `handle`, up to `chunk_size` bytes
    each (none for an empty file); each chunk also goes to `checksum.update`."""
    buffer = bytearray(_HEADER_ROOM + chunk_size)
    view = memoryview(buffer)
    body = view[_HEADER_ROOM:]
    while True:
        count = handle.readinto(body)
        if not count:
            return
        if checksum is not None:
            checksum.update(body[:count])
        header = _UPLOAD_DATA_KEY + _encode_varint(count)
        start = _HEADER_ROOM - len(header)
        view[start:_HEADER_ROOM] = header
        yield bytes(view[start : _HEADER_ROOM + count])
