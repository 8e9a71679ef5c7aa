"""Application properties kept in the Avro form Capture writes them in.

The embedded hub stores each event's property map already encoded as Capture's
`map<[long, double, string, bytes, null]>`, so capturing an event copies bytes instead of
re-encoding a dictionary; consumers decode the map only when they look at it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Mapping

import fastavro

from eda_lake import avro_binary
from eda_lake.hub.base import PropertyValue
from eda_lake.native import avro as native

PROPERTIES_SCHEMA = fastavro.parse_schema(
    {"type": "map", "values": ["long", "double", "string", "bytes", "null"]}
)
# Union branch indexes of that schema, already zig-zag encoded.
_LONG, _DOUBLE, _STRING, _BYTES, _NULL = b"\x00", b"\x02", b"\x04", b"\x06", b"\x08"
# Property names repeat on every event (cloudEvents_id, ...): encode each once.
_encoded_key = functools.lru_cache(maxsize=4096)(avro_binary.string)


def encode_properties(properties: Mapping[str, PropertyValue]) -> bytes:
    if type(properties) is EncodedProperties:
        return properties.avro
    if native is not None:
        encoded: bytes | None = native.property_map(properties)
        if encoded is not None:
            return encoded  # else a value the compiled encoder leaves to the code below
    return _encode_in_python(properties)


def _encode_in_python(properties: Mapping[str, PropertyValue]) -> bytes:
    if not properties:
        return b"\x00"
    parts = [avro_binary.long(len(properties))]
    for key, value in properties.items():
        parts.append(_encoded_key(key))
        kind = type(value)
        if kind is str:
            data = value.encode()  # type: ignore[union-attr]
            parts += (_STRING, avro_binary.long(len(data)), data)
        elif kind is int:
            parts += (_LONG, avro_binary.long(value))  # type: ignore[arg-type]
        elif kind is float:
            parts += (_DOUBLE, avro_binary.double(value))  # type: ignore[arg-type]
        elif kind is bytes:
            parts += (_BYTES, avro_binary.raw(value))  # type: ignore[arg-type]
        elif value is None:
            parts.append(_NULL)
        else:
            raise TypeError(
                f"property {key!r} has a {kind.__name__}; Event Hubs Capture keeps only "
                "long, double, string, bytes and null"
            )
    parts.append(b"\x00")
    return b"".join(parts)


class EncodedProperties(Mapping[str, PropertyValue]):
    """A read-only property map backed by its Avro bytes, decoded on first use."""

    __slots__ = ("_decoded", "avro")

    def __init__(self, avro: bytes) -> None:
        self.avro = avro
        self._decoded: dict[str, PropertyValue] | None = None

    def _map(self) -> dict[str, PropertyValue]:
        if self._decoded is None:
            decoded = fastavro.schemaless_reader(io.BytesIO(self.avro), PROPERTIES_SCHEMA)
            self._decoded = dict(decoded)  # type: ignore[arg-type]
        return self._decoded

    def __getitem__(self, key: str) -> PropertyValue:
        return self._map()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def __repr__(self) -> str:
        return f"EncodedProperties({self._map()!r})"
