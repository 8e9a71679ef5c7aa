"""Reads Capture files, Azure's and the embedded hub's alike, a batch of events at a time.

Driven by `windows` and decoded by `records`, the same rules as the batch readers: both
`Properties` union vintages (with and without `null`), both codecs (`null`, `deflate`) and
the empty-window file need nothing special, and any damage is a `CaptureFileError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from eda_lake.capture.container import ENVELOPE_NAME, CaptureFileError, corrupt, open_container
from eda_lake.capture.envelope import EnqueuedTimeError, parse_enqueued_time
from eda_lake.capture.records import FOUND, PureDecoder
from eda_lake.capture.windows import DEFAULT_BATCH_ROWS, DEFAULT_MAX_EVENT_BYTES, decoded_batches
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
    found: tuple[str | None, ...] = (None,) * len(FOUND)  # attributes, by `records` rules

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


def read_capture(
    stream: IO[bytes], name: str = "<stream>", max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Iterator[CaptureEvent]:
    """Events of one capture file, in file order; memory holds one batch of them at a time
    (`windows`)."""
    framed, container = open_container(stream, name)
    decoder = PureDecoder(container.layout)
    before = 0
    for total in decoded_batches(framed, container, decoder, DEFAULT_BATCH_ROWS, max_event_bytes):
        records = decoder.take()
        try:
            for i in range(len(records)):
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
                    found=tuple(column[i] for column in records.found),
                )
        except (EnqueuedTimeError, OverflowError, ValueError) as exc:
            raise corrupt(name, before, exc) from None
        before = total
