"""Writes Capture files exactly as Event Hubs Capture does.

The Avro container is written here directly rather than through `fastavro.writer`: the
envelope schema is fixed and small, property maps arrive already Avro-encoded from the
embedded hub, so each record is one compiled call (`native.event_record`). Files are checked against
fastavro and Azure's own files in the tests.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from eda_lake.capture import avro_binary
from eda_lake.capture.envelope import CAPTURE_SCHEMA, format_enqueued_time
from eda_lake.hub.base import ReceivedEvent, ms_to_datetime
from eda_lake.hub.properties import encode_properties
from eda_lake.native import avro as native

MAGIC = b"Obj\x01"
BLOCK_BYTES = 1 << 20  # Azure's blocks are of this order; bounds a reader's memory too
CODECS = ("null", "deflate")

# System property keys with the union branch of their value (long 0, string 2).
_SEQUENCE = avro_binary.string("x-opt-sequence-number") + b"\x00"
_OFFSET = avro_binary.string("x-opt-offset") + b"\x04"
_ENQUEUED = avro_binary.string("x-opt-enqueued-time") + b"\x00"
_PARTITION_KEY = avro_binary.string("x-opt-partition-key") + b"\x04"
_CONTENT_TYPE = avro_binary.string("content-type") + b"\x04"
SYSTEM_PROPERTY_KEYS = (_SEQUENCE, _OFFSET, _ENQUEUED, _PARTITION_KEY, _CONTENT_TYPE)


def enqueued_text_field(millis: int) -> bytes:
    """The EnqueuedTimeUtc field (an Avro string) of a moment in milliseconds."""
    return avro_binary.raw(format_enqueued_time(ms_to_datetime(millis)).encode())


class EnqueuedText:
    """Capture's text form of the enqueue time, formatted once per second, not per event."""

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def __call__(self, millis: int) -> bytes:
        second = millis // 1000
        if second != self._second:
            self._second = second
            self._text = enqueued_text_field(millis)
        return self._text


def encode_record(event: ReceivedEvent, enqueued_text: EnqueuedText) -> bytes:
    """One EventData record in Avro binary (compiled: `native.event_record`, whose record
    layout the Kafka capture's `KafkaRecordEncoder` shares)."""
    millis = event.enqueued_time_ms
    record: bytes = native.event_record(
        SYSTEM_PROPERTY_KEYS, event.sequence_number, str(event.offset).encode(),
        enqueued_text(millis), millis, event.partition_key, event.content_type,
        encode_properties(event.properties), event.body,
    )  # fmt: skip
    return record


def _header(codec: str, sync_marker: bytes) -> bytes:
    schema = json.dumps(CAPTURE_SCHEMA, separators=(",", ":")).encode()
    meta = avro_binary.long(2) + avro_binary.string("avro.codec") + avro_binary.raw(codec.encode())
    meta += avro_binary.string("avro.schema") + avro_binary.raw(schema) + b"\x00"
    return MAGIC + meta + sync_marker


def _block(records: list[bytes], codec: str, sync_marker: bytes) -> bytes:
    data = b"".join(records)
    if codec == "deflate":
        compressor = zlib.compressobj(wbits=-15)  # Avro's deflate is raw (RFC 1951)
        data = compressor.compress(data) + compressor.flush()
    return avro_binary.long(len(records)) + avro_binary.raw(data) + sync_marker


def encoded(events: Iterable[ReceivedEvent]) -> Iterator[bytes]:
    """The events' EventData records."""
    enqueued_text = EnqueuedText()
    for event in events:
        yield encode_record(event, enqueued_text)


def write_capture(stream: IO[bytes], events: Iterable[ReceivedEvent], codec: str) -> int:
    """Write one Capture Avro container of `events`; returns the number written."""
    return write_records(stream, encoded(events), codec)


def write_records(stream: IO[bytes], records: Iterable[bytes], codec: str) -> int:
    """Write one Capture Avro container of EventData records; returns how many it holds.

    With no records it writes what Azure writes for an idle window: the header and one data
    block holding 0 records.
    """
    if codec not in CODECS:
        raise ValueError(f"capture codec {codec!r} is not one of {CODECS}")
    sync_marker = os.urandom(16)
    stream.write(_header(codec, sync_marker))
    count, pending, pending_bytes = 0, [], 0
    for record in records:
        pending.append(record)
        pending_bytes += len(record)
        count += 1
        if pending_bytes >= BLOCK_BYTES:
            stream.write(_block(pending, codec, sync_marker))
            pending, pending_bytes = [], 0
    if pending or count == 0:
        stream.write(_block(pending, codec, sync_marker))
    return count


def temporary_path(final: Path) -> Path:
    """A hidden name beside `final` that no reader lists as a capture file."""
    return final.with_name(f".{final.name}.{os.getpid()}.tmp")


def write_durably(path: Path, records: Iterable[bytes], codec: str) -> int:
    """Write a capture file of EventData records (`encoded(events)`) at `path` (a temporary
    name) and fsync it before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        count = write_records(stream, records, codec)
        stream.flush()
        os.fsync(stream.fileno())
    return count
