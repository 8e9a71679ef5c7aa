"""Capture files as Arrow record batches, the pure-Python path.

fastavro decodes, Python builds the columns. It always works, for every envelope and codec
fastavro reads; `capture.batches` prefers the compiled decoder where it applies, which yields
the same batches faster. Memory holds one batch, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import IO, Any

import pyarrow as pa

from eda_lake.capture.arrow_schema import EVENT_COLUMNS
from eda_lake.capture.envelope import parse_enqueued_time
from eda_lake.capture.reader import corrupt, open_capture
from eda_lake.events.cloudevents import CloudEventError, attributes, parse_time
from eda_lake.events.wire import PayloadError, schema_id_of
from eda_lake.registry.base import InvalidSchemaIdError

DEFAULT_BATCH_ROWS = 4_096


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


def _map(values: Mapping[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    return [(key, _entry(value)) for key, value in values.items()]


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _enqueued_micros(record: Mapping[str, Any]) -> int:
    millis = record["SystemProperties"].get("x-opt-enqueued-time")
    if type(millis) is int:
        return millis * 1000
    return _micros(parse_enqueued_time(record["EnqueuedTimeUtc"]))


def ce_time_micros(text: str | None) -> int | None:
    """CloudEvents `time` as epoch microseconds; None when absent or not RFC 3339."""
    if text is None:
        return None
    try:
        return _micros(parse_time(text))
    except CloudEventError:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Columns:
    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS.names}

    def __len__(self) -> int:
        return len(self.columns["sequence_number"])

    def add(self, record: Mapping[str, Any]) -> None:
        system, props = record["SystemProperties"], record["Properties"]
        ce = attributes(props) if props else {}
        content_type = _text(system.get("content-type") or props.get("content-type"))
        try:
            schema_id = schema_id_of(content_type, ce.get("dataschema"))
        except (PayloadError, InvalidSchemaIdError):
            schema_id = None
        ce_time = ce_time_micros(ce.get("time"))
        c = self.columns
        c["sequence_number"].append(record["SequenceNumber"])
        c["offset"].append(record["Offset"])
        c["enqueued_time"].append(_enqueued_micros(record))
        c["partition_key"].append(_text(system.get("x-opt-partition-key")))
        c["system_properties"].append(_map(system))
        c["properties"].append(_map(props))
        c["schema_id"].append(schema_id)
        c["ce_id"].append(ce.get("id"))
        c["ce_type"].append(ce.get("type"))
        c["ce_source"].append(ce.get("source"))
        c["ce_time"].append(ce_time)
        c["body"].append(record["Body"])

    def batch(self) -> pa.RecordBatch:
        arrays = [pa.array(self.columns[f.name], type=f.type) for f in EVENT_COLUMNS]
        return pa.RecordBatch.from_arrays(arrays, schema=EVENT_COLUMNS)


def read_pure_batches(
    stream: IO[bytes], name: str, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of EVENT_COLUMNS; CaptureFileError names the file on any defect."""
    records = open_capture(stream, name)
    columns, count = _Columns(), 0
    try:
        for record in records:
            columns.add(record)
            count += 1
            if len(columns) >= batch_rows:
                yield columns.batch()
                columns = _Columns()
    except Exception as exc:
        raise corrupt(name, count, exc) from None
    if len(columns):
        yield columns.batch()
