"""CloudEvents 1.0 in the Kafka protocol binding's binary content mode.

Each attribute travels as a header `ce_<attribute>` (UTF-8 text), the payload's content type
in the `content-type` header (`avro/binary+<schema-id>` for registry-encoded bodies, as on
Event Hubs), the partition key as the message key, the data as the value.

The rest of eda-lake speaks the AMQP binding (`cloudEvents_<attribute>` properties, the
content type and partition key beside them), so a received message is mapped back into that
shape: subscribers, dead letters and the Kafka capture need nothing Kafka-specific. Headers
that are no CloudEvents attribute pass through as bytes-valued properties, which is how
Event Hubs hands Kafka headers to AMQP consumers and Capture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from eda_lake import avro_binary
from eda_lake.events.cloudevents import KAFKA_PREFIX, LEGACY_PREFIX, PREFIX
from eda_lake.hub.base import PropertyValue
from eda_lake.hub.properties import EncodedProperties
from eda_lake.native import avro as native

HEADER_PREFIX = KAFKA_PREFIX
CONTENT_TYPE_HEADER = "content-type"

Headers = list[tuple[str, bytes]]


class KafkaHeaderError(ValueError):
    """A property that has no faithful Kafka header form."""


def _header_name(name: str) -> str:
    if name.startswith(PREFIX):
        return HEADER_PREFIX + name[len(PREFIX) :]
    if name.startswith(LEGACY_PREFIX):
        return HEADER_PREFIX + name[len(LEGACY_PREFIX) :]
    return name


def _header_value(name: str, value: PropertyValue) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, int | float):
        return str(value).encode("ascii")
    raise KafkaHeaderError(f"property {name!r} is None; Kafka headers carry bytes only")


_header_names: dict[str, str] = {}  # property names repeat on every event: map each once


def to_headers(properties: Mapping[str, PropertyValue], content_type: str | None) -> Headers:
    """Kafka headers of an event given in the AMQP binding's properties."""
    if native is not None:
        headers: Headers | None = native.kafka_headers(properties, content_type)
        if headers is not None:
            return headers  # else a value with no header form: named below
    return _to_headers(properties, content_type)


def _to_headers(properties: Mapping[str, PropertyValue], content_type: str | None) -> Headers:
    headers: Headers = []
    names = _header_names
    for name, value in properties.items():
        header = names.get(name)
        if header is None:
            header = _header_name(name)
            if len(names) < 4096:
                names[name] = header
        if type(value) is str:
            headers.append((header, value.encode()))
        else:
            headers.append((header, _header_value(name, value)))
    if content_type is not None:
        headers.append((CONTENT_TYPE_HEADER, content_type.encode()))
    return headers


class FromKafka(NamedTuple):
    """A message's headers and key in the AMQP binding's shape."""

    properties: EncodedProperties
    content_type: str | None
    partition_key: str | None


# Union branches of Capture's property map values: string 2, bytes 3, null 4 (zig-zag).
_STRING, _BYTES, _NULL = b"\x04", b"\x06", b"\x08"
# Per header name, what precedes a value in the map: the name, and its property name's
# Avro string with the union branch for a text value or a bytes value.
_encoded_names: dict[str, tuple[bytes, bytes, bool]] = {}
_LENGTHS = [avro_binary.long(n) for n in range(256)]  # header values are short
_content_types: dict[str | bytes, str] = {}  # one per schema: decode each once


def _name(header: str) -> tuple[bytes, bytes, bool]:
    """(prefix for a text value, prefix for a bytes value, a CloudEvents attribute?)."""
    encoded = _encoded_names.get(header)
    if encoded is None:
        attribute = header.startswith(HEADER_PREFIX)
        name = PREFIX + header[len(HEADER_PREFIX) :] if attribute else header
        key = avro_binary.string(name)
        encoded = (key + _STRING, key + _BYTES, attribute)
        if len(_encoded_names) < 4096:  # names repeat on every message; bound the cache
            _encoded_names[header] = encoded
    return encoded


def _length(data: bytes) -> bytes:
    n = len(data)
    return _LENGTHS[n] if n < 256 else avro_binary.long(n)


def _text(value: str | bytes) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _is_text(data: bytes) -> bool:
    if data.isascii():  # nearly always: checked in C, no decoding
        return True
    return _text(data) is not None


def from_message(
    headers: Sequence[tuple[str, str | bytes | None]] | None, key: str | bytes | None
) -> FromKafka:
    """Map a message's headers and key back to properties, content type and partition key
    (compiled where built; the same in Python below)."""
    if native is not None:
        try:
            avro, content_type, partition_key = native.kafka_properties(headers, key)
        except TypeError:  # a value neither text nor bytes: the Python path decides
            return _from_message(headers, key)
        return FromKafka(EncodedProperties(avro), content_type, partition_key)
    return _from_message(headers, key)


def _from_message(
    headers: Sequence[tuple[str, str | bytes | None]] | None, key: str | bytes | None
) -> FromKafka:
    """Map a message's headers and key back to properties, content type and partition key.

    Lenient, as the lake reads any producer's messages: a CloudEvents header that is not
    UTF-8 text stays bytes (readers then refuse the event with a reason), a header without
    a value is a null property, and a key that is not UTF-8 is no partition key.
    The property map is built directly in Capture's Avro form, the form the capture writes.
    """
    content_type: str | None = None
    parts: list[bytes] = []
    count = 0
    for name, value in headers or ():
        if name == CONTENT_TYPE_HEADER and value is not None and content_type is None:
            content_type = _content_types.get(value)
            if content_type is None:
                content_type = _text(value)
                if content_type is not None and len(_content_types) < 4096:
                    _content_types[value] = content_type
            if content_type is not None:
                continue
        if value is None:
            parts += (_name(name)[1][:-1], _NULL)
        else:
            data = value.encode("utf-8") if isinstance(value, str) else value
            text_prefix, bytes_prefix, attribute = _name(name)
            prefix = text_prefix if attribute and _is_text(data) else bytes_prefix
            parts += (prefix, _length(data), data)
        count += 1
    avro = avro_binary.long(count) + b"".join(parts) + b"\x00" if count else b"\x00"
    return FromKafka(EncodedProperties(avro), content_type, None if key is None else _text(key))
