"""Capture files as Arrow record batches, through the compiled block decoder.

The file is framed and windowed by `windows` (which reads the container with `container`),
records are scanned and decoded by `native.BlockDecoder` into column buffers, which Arrow
then wraps without a copy, and the derived columns (enqueue time, schema id, CloudEvents
time, trace id) come from `assemble`. Memory holds one window and one batch, not the file.

The decoder reads attributes by these rules:

- `x-opt-enqueued-time`: the last long-valued entry of the system properties;
- `x-opt-partition-key`, else `x-opt-kafka-key` (where Event Hubs' Kafka endpoint puts a
  Kafka record's key), and `content-type`: the first string or bytes entry that is UTF-8;
- CloudEvents attributes from the application properties named `cloudEvents_<name>`,
  `cloudEvents:<name>` (AMQP binding, current and legacy) or `ce_<name>` (Kafka binding,
  where headers reach Capture as bytes), and `content-type`: the first string or bytes
  entry that is UTF-8, whichever prefix comes first in the map.

Text in bytes entries that is not UTF-8 is simply not an attribute; text in string entries
that is not UTF-8 is a damaged file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.capture.arrow_schema import EVENT_COLUMNS, PROPERTY_MAP, PROPERTY_VALUE, UTC_MICROS
from eda_lake.capture.container import CaptureFileError, EnvelopeLayout, open_container
from eda_lake.capture.envelope import EnqueuedTimeError, parse_enqueued_time
from eda_lake.capture.windows import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_MAX_EVENT_BYTES,
    Oversized,
    decoded_batches,
)
from eda_lake.events.cloudevents import CloudEventError, parse_time
from eda_lake.events.wire import PayloadError, schema_id_from_content_type, schema_id_from_uri
from eda_lake.native import avro as native
from eda_lake.registry.base import InvalidSchemaIdError
from eda_lake.shared.trace_context import parse

# Slots of the attributes the decoder finds per record, in its order.
FOUND = ("ce_id", "ce_type", "ce_source", "ce_time", "dataschema", "traceparent",
         "partition_key", "system_content_type", "property_content_type", "kafka_key")  # fmt: skip


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def ce_time_micros(text: str | None) -> int | None:
    """CloudEvents `time` as epoch microseconds; None when absent or not RFC 3339."""
    if text is None:
        return None
    try:
        return _micros(parse_time(text))
    except CloudEventError:
        return None


def _schema_ids(content_type: pa.Array, dataschema: pa.Array) -> pa.Array:
    """Per distinct value, the same rules as `events.wire.schema_id_of`; then take."""

    def from_content_type(value: str | None) -> tuple[str | None, bool]:
        if not value or not value.strip().lower().startswith("avro/binary"):
            return None, False  # not a registry payload: the dataschema may still name one
        try:
            return schema_id_from_content_type(value), True
        except (PayloadError, InvalidSchemaIdError):
            return None, True

    def from_uri(value: str | None) -> str | None:
        if not value:
            return None
        try:
            return schema_id_from_uri(value)
        except (PayloadError, InvalidSchemaIdError):
            return None

    ct = pc.dictionary_encode(content_type)
    parsed = [from_content_type(v) for v in ct.dictionary.to_pylist()]
    decided = pc.take(pa.array([p[1] for p in parsed], pa.bool_()), ct.indices)
    by_ct = pc.take(pa.array([p[0] for p in parsed], pa.string()), ct.indices)
    ds = pc.dictionary_encode(dataschema)
    by_uri = pc.take(
        pa.array([from_uri(v) for v in ds.dictionary.to_pylist()], pa.string()), ds.indices
    )
    return pc.if_else(pc.fill_null(decided, False), by_ct, by_uri)


def _ce_time(texts: pa.Array) -> pa.Array:
    try:
        return pc.cast(texts, UTC_MICROS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([ce_time_micros(t) for t in texts.to_pylist()], UTC_MICROS)


def _lenient_trace_id(traceparent: bytes) -> str | None:
    context = parse(traceparent.decode("utf-8", "replace"))
    return None if context is None else context.trace_id


def _trace_ids(traceparents: pa.Array) -> pa.Array:
    """The trace id of each `traceparent` (`trace_context.parse`'s), null where it is
    absent or malformed: the canonical form read in compiled code, no Python object per
    event; only another form is parsed in Python (`native.trace_ids`). The column is one the
    decoder made: its buffers start at its first row."""
    bits, offsets, data = traceparents.buffers()
    rows = len(traceparents)
    valid, ids, nulls = native.trace_ids(
        b"" if bits is None else memoryview(bits).cast("B"),
        memoryview(offsets).cast("i"),
        b"" if data is None else memoryview(data).cast("B"),
        rows,
        _lenient_trace_id,
    )
    # Every id is 32 characters: the offsets are a range (a null row's bytes are unused).
    id_offsets = np.arange(0, 32 * (rows + 1), 32, dtype=np.int32)
    buffers = [pa.py_buffer(valid) if nulls else None, pa.py_buffer(id_offsets), pa.py_buffer(ids)]
    return pa.Array.from_buffers(pa.string(), rows, buffers, null_count=nulls)


def _enqueued(millis: pa.Array, texts: pa.Array) -> pa.Array:
    if millis.null_count == 0:
        return pc.cast(pc.multiply_checked(millis, 1000), UTC_MICROS)
    micros = []
    for ms, text in zip(millis.to_pylist(), texts.to_pylist(), strict=True):
        if ms is not None:
            micros.append(ms * 1000)
            continue
        try:
            moment = parse_enqueued_time(text)
        except EnqueuedTimeError as exc:
            raise ValueError(str(exc)) from None
        micros.append(_micros(moment))
    return pa.array(micros, UTC_MICROS)


def assemble(columns: dict[str, pa.Array], name: str, total: int) -> pa.RecordBatch:
    """The batch of EVENT_COLUMNS from the decoded columns (`sequence`, `offset`,
    `enqueued_ms`, `enqueued_text`, `system`, `properties`, `body` and the `FOUND`
    attribute texts), validated in full: CaptureFileError names the file on any defect."""
    try:
        system_ct, property_ct = columns["system_content_type"], columns["property_content_type"]
        content_type = pc.if_else(
            pc.fill_null(pc.greater(pc.utf8_length(system_ct), 0), False), system_ct, property_ct
        )
        derived = {
            "sequence_number": columns["sequence"],
            "offset": columns["offset"],
            "enqueued_time": _enqueued(columns["enqueued_ms"], columns["enqueued_text"]),
            "partition_key": pc.coalesce(columns["partition_key"], columns["kafka_key"]),
            "system_properties": columns["system"],
            "properties": columns["properties"],
            "schema_id": _schema_ids(content_type, columns["dataschema"]),
            "ce_id": columns["ce_id"],
            "ce_type": columns["ce_type"],
            "ce_source": columns["ce_source"],
            "ce_time": _ce_time(columns["ce_time"]),
            "trace_id": _trace_ids(columns["traceparent"]),
            "body": columns["body"],
        }
        batch = pa.RecordBatch.from_arrays(
            [derived[n] for n in EVENT_COLUMNS.names], schema=EVENT_COLUMNS
        )
        batch.validate(full=True)  # e.g. string values that are not UTF-8
        columns["enqueued_text"].validate(full=True)  # read whether or not it is used
    except (ValueError, pa.ArrowException) as exc:
        raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
    return batch


class CompiledDecoder:
    """`windows.RecordDecoder` over the compiled `BlockDecoder`."""

    def __init__(self, layout: EnvelopeLayout) -> None:
        self.block = native.BlockDecoder(
            list(layout.system_branches), list(layout.property_branches), layout.body_null_branch
        )

    def scan(
        self, data: bytearray, start: int, count: int, budget: int, rest: int, limit: int
    ) -> tuple[int, int, int]:
        try:
            found: tuple[int, int, int] = self.block.scan(data, start, count, budget, rest, limit)
        except native.Oversized as exc:
            raise Oversized(exc.index, exc.size) from None
        return found

    def decode(self, data: bytearray, start: int, end: int, count: int) -> None:
        self.block.decode(data, start, end, count)


def read_capture_batches(
    stream: IO[bytes],
    name: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Record batches of EVENT_COLUMNS; CaptureFileError names the file on any defect,
    `windows.EventTooLargeError` an event over `max_event_bytes`."""
    for batch, _ in read_decoded(stream, name, batch_rows, max_event_bytes):
        yield batch


def read_decoded(
    stream: IO[bytes],
    name: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Iterator[tuple[pa.RecordBatch, dict[str, pa.Array]]]:
    """Each batch of EVENT_COLUMNS with the decoded columns it was assembled from (the
    `FOUND` attribute texts among them)."""
    framed, container = open_container(stream, name)
    decoder = CompiledDecoder(container.layout)
    for total in decoded_batches(framed, container, decoder, batch_rows, max_event_bytes):
        try:
            columns = _columns(decoder.block)
        except (ValueError, pa.ArrowException) as exc:
            raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
        batch = assemble(columns, name, total)
        decoder.block.reset()
        yield batch, columns


def _buffer(data: Any) -> pa.Buffer | None:
    """An Arrow buffer over bytes or a `native.Released` (kept alive by the buffer)."""
    return None if data is None else pa.py_buffer(data)


def _int64(
    parts: tuple[bytes | None, bytes, int, int], type_: pa.DataType | None = None
) -> pa.Array:
    bits, values, nulls, length = parts
    buffers = [_buffer(bits), pa.py_buffer(values)]
    return pa.Array.from_buffers(type_ or pa.int64(), length, buffers, null_count=nulls)


def _binary(parts: tuple[bytes | None, bytes, Any, int, int], type_: pa.DataType) -> pa.Array:
    bits, offsets, data, nulls, length = parts
    return pa.Array.from_buffers(
        type_, length, [_buffer(bits), pa.py_buffer(offsets), _buffer(data)], null_count=nulls
    )


def _map(parts: dict[str, Any], rows: int) -> pa.Array:
    keys = _binary(parts["keys"], pa.string())
    entries = len(keys)
    values = pa.Array.from_buffers(
        PROPERTY_VALUE,
        entries,
        [_buffer(parts["entry_validity"])],
        null_count=parts["entry_nulls"],
        children=[
            _int64(parts["long"]),
            _int64(parts["double"], pa.float64()),
            _binary(parts["string"], pa.string()),
            _binary(parts["bytes"], pa.binary()),
        ],
    )
    offsets = pa.Array.from_buffers(pa.int32(), rows + 1, [None, pa.py_buffer(parts["offsets"])])
    return pa.MapArray.from_arrays(offsets, keys, values, type=PROPERTY_MAP)


def _columns(decoder: Any) -> dict[str, pa.Array]:
    rows = decoder.rows
    found = {
        key: _binary(col.release(), pa.string())
        for key, col in zip(FOUND, decoder.found, strict=True)
    }
    return {
        "sequence": _int64(decoder.sequence.finish()),
        "offset": _binary(decoder.offset.release(), pa.string()),
        "enqueued_ms": _int64(decoder.enqueued_ms.finish()),
        "enqueued_text": _binary(decoder.enqueued_text.release(), pa.string()),
        "system": _map(decoder.system.release(), rows),
        "properties": _map(decoder.properties.release(), rows),
        "body": _binary(decoder.body.release(), pa.binary()),
        **found,
    }
