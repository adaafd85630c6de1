"""The Protocol Buffers wire format, read and written by hand where protobuf's copies cost too much.

A gigabyte crosses an artifact stream as about a thousand one-megabyte messages, and protobuf
copies each chunk into and out of its message. The SDK (downloads, uploads) and the server
(uploads, downloads) therefore read and write those few messages as wire bytes, with these
primitives; everything else goes through the generated classes. Any valid encoding is read:
fields in any order, repeated fields and unknown fields are all handed to the caller.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
# A varint of more than ten bytes cannot hold a 64-bit value.
_MAX_VARINT_SHIFT = 63


class MalformedMessage(ValueError):
    """The bytes are not a valid serialized message; the text says what is wrong."""


def read_varint(raw: bytes | memoryview, position: int) -> tuple[int, int]:
    """The varint starting at `position`, and the position after it."""
    value, shift = 0, 0
    while True:
        if position >= len(raw) or shift > _MAX_VARINT_SHIFT:
            raise MalformedMessage("a truncated or overlong varint")
        byte = raw[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def encode_varint(value: int) -> bytes:
    """`value` (not negative) as a varint."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields(raw: bytes) -> Iterator[tuple[int, int, int | memoryview]]:
    """Each field of the serialized message `raw`, in order: its number, its wire type and its value.

    A varint, fixed32 or fixed64 value is an unsigned int (little-endian for the fixed ones); a
    length-delimited value is a view into `raw`, not a copy. Raises `MalformedMessage` where the
    bytes stop being a message: a truncated field, or a wire type protobuf no longer uses (groups).
    """
    view = memoryview(raw)
    position = 0
    while position < len(raw):
        key, position = read_varint(raw, position)
        number, wire_type = key >> 3, key & 7
        value: int | memoryview
        if wire_type == VARINT:
            value, position = read_varint(raw, position)
            yield number, wire_type, value
            continue
        if wire_type == LENGTH_DELIMITED:
            length, position = read_varint(raw, position)
        elif wire_type in (FIXED32, FIXED64):
            length = 4 if wire_type == FIXED32 else 8
        else:
            raise MalformedMessage(f"unsupported wire type {wire_type} of field {number}")
        end = position + length
        if end > len(raw):
            raise MalformedMessage(f"field {number} runs past the end of the message")
        chunk = view[position:end]
        value = chunk if wire_type == LENGTH_DELIMITED else int.from_bytes(chunk, "little")
        position = end
        yield number, wire_type, value
