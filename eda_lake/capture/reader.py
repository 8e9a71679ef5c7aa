"""Reads Capture files, Azure's and the embedded hub's alike, one block at a time.

Framed by `container` and decoded by `records`, the same rules as the batch readers: both
`Properties` union vintages (with and without `null`), both codecs (`null`, `deflate`) and
the empty-window file need nothing special, and any damage is a `CaptureFileError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from eda_lake.capture.container import (
    ENVELOPE_NAME,
    CaptureFileError,
    blocks,
    corrupt,
    open_container,
)
from eda_lake.capture.envelope import EnqueuedTimeError, parse_enqueued_time
from eda_lake.capture.records import RecordColumns, RecordError, decode_block
from eda_lake.events.cloudevents import attributes
from eda_lake.events.wire import PayloadError, schema_id_of
from eda_lake.hub.base import PropertyValue
from eda_lake.registry.base import InvalidSchemaIdError

__all__ = ["ENVELOPE_NAME", "CaptureEvent", "CaptureFileError", "read_capture"]


@dataclass(frozen=True)
class CaptureEvent:
    sequence_number: int
    offset: str
    enqueued_time: datetime
    system_properties: Mapping[str, PropertyValue]
    properties: Mapping[str, PropertyValue]
    body: bytes | None

    @property
    def partition_key(self) -> str | None:
        key = self.system_properties.get("x-opt-partition-key")
        return None if key is None else str(key)

    @property
    def content_type(self) -> str | None:
        value = self.system_properties.get("content-type") or self.properties.get("content-type")
        return None if value is None else str(value)

    def schema_id(self) -> str | None:
        """The registry schema id the event names, if it names a well-formed one."""
        try:
            return schema_id_of(self.content_type, attributes(self.properties).get("dataschema"))
        except (PayloadError, InvalidSchemaIdError):
            return None


def read_capture(stream: IO[bytes], name: str = "<stream>") -> Iterator[CaptureEvent]:
    """Events of one capture file, in file order; memory holds one Avro block at a time."""
    framed, container = open_container(stream, name)
    for count, data, before in blocks(framed, container):
        records = RecordColumns()
        try:
            decode_block(data, count, container.layout, records)
            for i in range(count):
                millis = records.enqueued_ms[i]
                yield CaptureEvent(
                    sequence_number=records.sequence[i],
                    offset=records.offset[i],
                    enqueued_time=(
                        datetime.fromtimestamp(millis / 1000, tz=UTC)
                        if millis is not None
                        else parse_enqueued_time(records.enqueued_text[i])
                    ),
                    system_properties=dict(records.system[i]),
                    properties=dict(records.properties[i]),
                    body=records.body[i],
                )
        except (RecordError, EnqueuedTimeError, OverflowError, ValueError) as exc:
            raise corrupt(name, before, exc) from None
