"""JSON <-> protobuf conversion in MLflow's REST dialect, compiled per message type at start-up.

`JsonCodecs` compiles a `MessageCodec` for each request/response type (and every type they
contain) once; on the hot path a request costs one pass over its JSON object and a response one
call of a generated function plus `orjson.dumps`. See `decoding` and `encoding` for the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import orjson
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from polytrack_server.errors import InvalidParameter
from polytrack_server.gateway.decoding import (
    Convert,
    FieldError,
    MessageDecoder,
    element_decoder,
    is_well_known,
    message_type_of,
    well_known_decoder,
)
from polytrack_server.gateway.encoding import Encode, EncoderCompiler, PlainNormalizer
from polytrack_server.rpc import PlainResponse

FieldSetter = Callable[[Message, str], None]


class MessageCodec:
    """Decodes requests of one message type from JSON or a query string, and encodes it as JSON."""

    def __init__(self, decoder: MessageDecoder, encode: Encode, plain: PlainNormalizer) -> None:
        self._decoder = decoder
        self._encode = encode
        self._plain = plain
        self._plain_normalizers: dict[str, Callable[[dict[str, Any]], None] | None] = {}
        self._field_numbers = {field.name: field.number for field in decoder.descriptor.fields}
        self.message_class = decoder.message_class

    def decode(self, value: Any) -> Message:
        """The message denoted by a parsed JSON value, which must be an object."""
        try:
            return self._decoder.decode(value)
        except FieldError as error:
            if not error.path:
                raise InvalidParameter(
                    f"Expected a JSON object for {self._decoder.descriptor.name}, got {type(value).__name__}"
                ) from None
            raise InvalidParameter(error.describe()) from None
        except UnicodeEncodeError:
            # Python's json module (our fallback parser) lets lone surrogates such as "\ud800" through.
            raise InvalidParameter("The request holds text that is not valid Unicode") from None

    def decode_query(self, pairs: Iterable[tuple[str, str]]) -> Message:
        """The message denoted by query parameters: repeated keys fill repeated fields and a dotted
        key (`info.run_id`) fills a field of a nested message."""
        root: dict[str, Any] = {}
        for key, value in pairs:
            *parents, leaf = key.split(".")
            target = root
            for parent in parents:
                child = target.setdefault(parent, {})
                if type(child) is not dict:
                    raise InvalidParameter(f"Query parameter '{parent}' cannot be both a value and an object")
                target = child
            existing = target.get(leaf)
            if existing is None:
                target[leaf] = value
            elif type(existing) is list:
                existing.append(value)
            elif type(existing) is dict:
                raise InvalidParameter(f"Query parameter '{key}' cannot be both a value and an object")
            else:
                target[leaf] = [existing, value]
        return self.decode(root)

    def field_setter(self, field_path: str) -> FieldSetter:
        """A function setting the singular non-message field `field_path` (`a.b.c`) of a message
        from text, as a path variable does; raises ValueError at start-up if no such field exists."""
        names = field_path.split(".")
        descriptor = self._decoder.descriptor
        for name in names[:-1]:
            parent = descriptor.fields_by_name.get(name)
            if parent is None or parent.type != FieldDescriptor.TYPE_MESSAGE or parent.is_repeated:
                raise ValueError(f"{descriptor.full_name} has no singular message field {name!r}")
            descriptor = message_type_of(parent)
        leaf = descriptor.fields_by_name.get(names[-1])
        if leaf is None or leaf.is_repeated or leaf.type == FieldDescriptor.TYPE_MESSAGE:
            raise ValueError(f"{descriptor.full_name} has no singular scalar field {names[-1]!r}")
        convert = element_decoder(leaf, _no_nested_messages)

        def set_field(message: Message, text: str) -> None:
            target = message
            for name in names[:-1]:
                target = getattr(target, name)
            try:
                setattr(target, names[-1], convert(text))
            except FieldError as error:
                raise InvalidParameter(error.located(field_path).describe()) from None

        return set_field

    def to_json(self, message: Message) -> dict[str, Any]:
        """The JSON-ready dict of `message` (what `encode` serialises)."""
        return self._encode(message)

    def encode(self, message: Message | PlainResponse) -> bytes:
        """The UTF-8 JSON text of `message`."""
        if isinstance(message, PlainResponse):
            return orjson.dumps(self._encode_plain(message))
        return orjson.dumps(self._encode(message))

    def _encode_plain(self, response: PlainResponse) -> dict[str, Any]:
        encoded = self._encode(response.message)
        if not response.elements:
            return encoded
        if response.field not in self._plain_normalizers:
            field = self._decoder.descriptor.fields_by_name[response.field]
            self._plain_normalizers[response.field] = self._plain.normalizer(message_type_of(field))
        normalize = self._plain_normalizers[response.field]
        if normalize is not None:
            for element in response.elements:
                normalize(element)
        encoded[response.field] = response.elements
        # Keys in field-number order, as the message encoder writes them.
        return dict(sorted(encoded.items(), key=lambda item: self._field_numbers[item[0]]))


def _no_nested_messages(descriptor: Descriptor) -> Convert:
    raise AssertionError(f"unexpected message type {descriptor.full_name}")


class JsonCodecs:
    """The codecs of all message types a server speaks, each compiled once and shared."""

    def __init__(self) -> None:
        self._decoders: dict[str, MessageDecoder] = {}
        self._encoders = EncoderCompiler()
        self._plain = PlainNormalizer()
        self._codecs: dict[str, MessageCodec] = {}

    def codec(self, message_class: type[Message]) -> MessageCodec:
        # The stubs type DESCRIPTOR as a union with upb's own class, which is the same API.
        descriptor = cast(Descriptor, message_class.DESCRIPTOR)
        codec = self._codecs.get(descriptor.full_name)
        if codec is None:
            codec = MessageCodec(self._decoder(descriptor), self._encoders.encoder(descriptor), self._plain)
            self._codecs[descriptor.full_name] = codec
        return codec

    def _decoder(self, descriptor: Descriptor) -> MessageDecoder:
        decoder = self._decoders.get(descriptor.full_name)
        if decoder is None:
            decoder = MessageDecoder(descriptor)
            # Register before linking so that recursive types find themselves.
            self._decoders[descriptor.full_name] = decoder
            decoder.link(self._nested_decoder)
        return decoder

    def _nested_decoder(self, descriptor: Descriptor) -> Convert:
        if is_well_known(descriptor):
            return well_known_decoder(descriptor)
        return self._decoder(descriptor).to_kwargs
