"""Reads Capture files, Azure's and the embedded hub's alike, one block at a time.

fastavro reads the writer schema from each file, so both `Properties` union vintages (with and
without `null`), both codecs (`null`, `deflate`) and the empty-window file need nothing special.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, cast

import fastavro

from eda_lake.capture.envelope import FIELD_NAMES, parse_enqueued_time
from eda_lake.events.cloudevents import attributes
from eda_lake.events.wire import PayloadError, schema_id_of
from eda_lake.hub.base import PropertyValue
from eda_lake.registry.base import InvalidSchemaIdError

ENVELOPE_NAME = "Microsoft.ServiceBus.Messaging.EventData"


class CaptureFileError(ValueError):
    """A file that is not a readable Capture file; the message names the file and the cause."""


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


def enqueued_time_of(record: Mapping[str, Any]) -> datetime:
    """`x-opt-enqueued-time` (epoch ms, exact) when present, else the EnqueuedTimeUtc text."""
    millis = record["SystemProperties"].get("x-opt-enqueued-time")
    if isinstance(millis, int):
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    return parse_enqueued_time(record["EnqueuedTimeUtc"])


def open_capture(stream: IO[bytes], name: str) -> Iterator[dict[str, Any]]:
    """Check the container header and envelope schema; the records, decoded lazily."""
    try:
        reader = fastavro.reader(stream)
    except Exception as exc:  # fastavro raises ValueError, EOFError, ... on a bad header
        raise CaptureFileError(f"{name}: not an Avro container file: {exc}") from None
    schema = reader.writer_schema
    fields = tuple(f["name"] for f in schema.get("fields", [])) if isinstance(schema, dict) else ()
    if fields != FIELD_NAMES:
        raise CaptureFileError(
            f"{name}: not an Event Hubs Capture file: record fields are {list(fields)}, "
            f"expected {list(FIELD_NAMES)} of {ENVELOPE_NAME}"
        )
    return cast(Iterator[dict[str, Any]], reader)


def corrupt(name: str, count: int, exc: Exception) -> CaptureFileError:
    return CaptureFileError(
        f"{name}: corrupt or truncated after {count} events: {type(exc).__name__}: {exc}"
    )


def read_capture(stream: IO[bytes], name: str = "<stream>") -> Iterator[CaptureEvent]:
    """Events of one capture file, in file order; memory holds one Avro block at a time."""
    records = open_capture(stream, name)
    count = 0
    try:
        for record in records:
            yield CaptureEvent(
                sequence_number=record["SequenceNumber"],
                offset=record["Offset"],
                enqueued_time=enqueued_time_of(record),
                system_properties=record["SystemProperties"],
                properties=record["Properties"],
                body=record["Body"],
            )
            count += 1
    except Exception as exc:
        raise corrupt(name, count, exc) from None
