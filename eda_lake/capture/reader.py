"""Reads Capture files, Azure's and the embedded hub's alike, a batch of events at a time.

The events of the batches `columnar` decodes, so the same rules as bronze's: both
`Properties` union vintages (with and without `null`), both codecs (`null`, `deflate`) and
the empty-window file need nothing special, and any damage is a `CaptureFileError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from eda_lake.capture.columnar import FOUND, read_decoded
from eda_lake.capture.container import ENVELOPE_NAME, CaptureFileError
from eda_lake.capture.windows import DEFAULT_BATCH_ROWS, DEFAULT_MAX_EVENT_BYTES
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
    found: tuple[str | None, ...] = (None,) * len(FOUND)  # attributes, by `columnar` rules

    def _found(self, name: str) -> str | None:
        return self.found[FOUND.index(name)]

    @property
    def partition_key(self) -> str | None:
        key = self._found("partition_key")
        return self._found("kafka_key") if key is None else key

    @property
    def content_type(self) -> str | None:
        return self._found("system_content_type") or self._found("property_content_type")

    def schema_id(self) -> str | None:
        """The registry schema id the event names, if it names a well-formed one."""
        try:
            return schema_id_of(self.content_type, self._found("dataschema"))
        except (PayloadError, InvalidSchemaIdError):
            return None


_EVENT_FIELDS = ("sequence_number", "offset", "enqueued_time", "system_properties",
                 "properties", "body")  # fmt: skip


def read_capture(
    stream: IO[bytes], name: str = "<stream>", max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Iterator[CaptureEvent]:
    """Events of one capture file, in file order; memory holds one batch of them at a time
    (`windows`)."""
    for batch, columns in read_decoded(stream, name, DEFAULT_BATCH_ROWS, max_event_bytes):
        found = zip(*(columns[key].to_pylist() for key in FOUND), strict=True)
        rows = zip(*(batch.column(key).to_pylist() for key in _EVENT_FIELDS), found, strict=True)
        for sequence, offset, enqueued, system, properties, body, attributes in rows:
            yield CaptureEvent(
                sequence_number=sequence,
                offset=offset,
                enqueued_time=enqueued.replace(tzinfo=UTC),  # Arrow's is a zoneinfo
                system_properties=_properties(system),
                properties=_properties(properties),
                body=body,
                found=attributes,
            )


def _properties(entries: list[tuple[str, dict[str, Any] | None]]) -> dict[str, PropertyValue]:
    """A property map from its Arrow form: each entry's one set branch; None (Avro null) for
    an entry without one."""
    return {
        key: None if branches is None else next(v for v in branches.values() if v is not None)
        for key, branches in entries
    }
