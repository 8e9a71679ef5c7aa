"""Capture files as Arrow record batches, the pure-Python path.

`records` decodes, Python builds the columns. It works wherever the compiled decoder was not
built; `capture.batches` prefers the compiled one, which yields the same batches faster.
Both are driven by `windows` (which frames the file with `container`) and derive their
columns with `assemble`, so they agree on every file, damaged or not. Memory holds one
window and one batch, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.capture.arrow_schema import EVENT_COLUMNS, PROPERTY_MAP, UTC_MICROS
from eda_lake.capture.container import CaptureFileError, open_container
from eda_lake.capture.envelope import EnqueuedTimeError, parse_enqueued_time
from eda_lake.capture.records import FOUND, PureDecoder, RecordColumns
from eda_lake.capture.windows import DEFAULT_BATCH_ROWS, DEFAULT_MAX_EVENT_BYTES, decoded_batches
from eda_lake.events.cloudevents import CloudEventError, parse_time
from eda_lake.events.wire import PayloadError, schema_id_from_content_type, schema_id_from_uri
from eda_lake.registry.base import InvalidSchemaIdError


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
    `enqueued_ms`, `enqueued_text`, `system`, `properties`, `body` and the `records.FOUND`
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


def _entry(value: Any) -> dict[str, Any] | None:
    kind = type(value)
    if kind is str:
        return {"string": value}
    if kind is int:
        return {"long": value}
    if kind is bytes:
        return {"bytes": value}
    if kind is float:
        return {"double": value}
    return None  # Avro null


def _pure_batch(records: RecordColumns, name: str, total: int) -> pa.RecordBatch:
    try:
        columns = {
            "sequence": pa.array(records.sequence, pa.int64()),
            "offset": pa.array(records.offset, pa.string()),
            "enqueued_ms": pa.array(records.enqueued_ms, pa.int64()),
            "enqueued_text": pa.array(records.enqueued_text, pa.string()),
            "system": pa.array(
                [[(k, _entry(v)) for k, v in row] for row in records.system], PROPERTY_MAP
            ),
            "properties": pa.array(
                [[(k, _entry(v)) for k, v in row] for row in records.properties], PROPERTY_MAP
            ),
            "body": pa.array(records.body, pa.binary()),
            **{
                key: pa.array(values, pa.string())
                for key, values in zip(FOUND, records.found, strict=True)
            },
        }
    except pa.ArrowException as exc:  # e.g. a value Arrow cannot hold
        raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
    return assemble(columns, name, total)


def read_pure_batches(
    stream: IO[bytes],
    name: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Record batches of EVENT_COLUMNS; CaptureFileError names the file on any defect."""
    framed, container = open_container(stream, name)
    decoder = PureDecoder(container.layout)
    for total in decoded_batches(framed, container, decoder, batch_rows, max_event_bytes):
        yield _pure_batch(decoder.take(), name, total)
