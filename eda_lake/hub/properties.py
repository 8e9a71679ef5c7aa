"""Application properties kept in the Avro form Capture writes them in.

The embedded hub stores each event's property map already encoded as Capture's
`map<[long, double, string, bytes, null]>`, so capturing an event copies bytes instead of
re-encoding a dictionary; consumers decode the map only when they look at it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping

import fastavro

from eda_lake.hub.base import PropertyValue
from eda_lake.native import avro as native

PROPERTIES_SCHEMA = fastavro.parse_schema(
    {"type": "map", "values": ["long", "double", "string", "bytes", "null"]}
)


def encode_properties(properties: Mapping[str, PropertyValue]) -> bytes:
    """Capture's Avro form of a property map (compiled: `native.property_map`). TypeError
    or ValueError names a property Capture cannot keep."""
    if type(properties) is EncodedProperties:
        return properties.avro
    encoded: bytes = native.property_map(properties)
    return encoded


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
