"""Capture files as Arrow batches through the compiled block decoder.

Same batches as `columnar.read_capture_batches`, several times faster: the container is
framed here (header, blocks, sync markers, codecs), each block is decoded by
`native.BlockDecoder` into column buffers, and derived columns (enqueue time, schema id,
CloudEvents time) are computed with Arrow's vectorised kernels. `available()` says whether
the compiled module was built; `supports(schema)` whether a file's envelope fits it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.capture.arrow_schema import EVENT_COLUMNS, PROPERTY_MAP, PROPERTY_VALUE, UTC_MICROS
from eda_lake.capture.columnar import DEFAULT_BATCH_ROWS, ce_time_micros
from eda_lake.capture.envelope import FIELD_NAMES, EnqueuedTimeError, parse_enqueued_time
from eda_lake.capture.reader import ENVELOPE_NAME, CaptureFileError, corrupt
from eda_lake.events.wire import PayloadError, schema_id_from_content_type, schema_id_from_uri
from eda_lake.native import avro as native
from eda_lake.registry.base import InvalidSchemaIdError

MAGIC = b"Obj\x01"
_CODES = {"long": 0, "double": 1, "string": 2, "bytes": 3, "null": 4}
_FOUND = ("ce_id", "ce_type", "ce_source", "ce_time", "dataschema", "partition_key",
          "system_content_type", "property_content_type")  # fmt: skip


def available() -> bool:
    return native is not None


def _union_codes(node: Any) -> list[int] | None:
    if not isinstance(node, dict) or node.get("type") != "map":
        return None
    values = node["values"]
    branches = values if isinstance(values, list) else [values]
    codes = [_CODES.get(b) if isinstance(b, str) else None for b in branches]
    return None if any(c is None for c in codes) else [c for c in codes if c is not None]


def _layout(schema: Any) -> tuple[list[int], list[int], int] | None:
    """Branch codes of the two maps and the Body's null branch, if the envelope fits."""
    if not isinstance(schema, dict):
        return None
    fields = schema.get("fields", [])
    if tuple(f.get("name") for f in fields) != FIELD_NAMES:
        return None
    types = [f["type"] for f in fields]
    if types[0] != "long" or types[1] != "string" or types[2] != "string":
        return None
    system, properties = _union_codes(types[3]), _union_codes(types[4])
    body = types[5]
    if system is None or properties is None or not isinstance(body, list):
        return None
    if sorted(body) != ["bytes", "null"]:
        return None
    return system, properties, body.index("null")


class _Stream:
    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream = stream
        self.name = name

    def exactly(self, size: int, what: str) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise CaptureFileError(f"{self.name}: corrupt or truncated in {what}")
        return bytes(data)

    def long(self, what: str, eof_ok: bool = False) -> int | None:
        result, shift = 0, 0
        while True:
            byte = self.stream.read(1)
            if not byte:
                if eof_ok and shift == 0:
                    return None
                raise CaptureFileError(f"{self.name}: corrupt or truncated in {what}")
            b = byte[0]
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7

    def header(self) -> tuple[dict[str, bytes], bytes]:
        if self.stream.read(4) != MAGIC:
            raise CaptureFileError(f"{self.name}: not an Avro container file: bad magic")
        meta: dict[str, bytes] = {}
        while True:
            count = self.long("header")
            assert count is not None
            if count == 0:
                break
            if count < 0:
                count = -count
                self.long("header")
            for _ in range(count):
                key = self.exactly(self.long("header") or 0, "header").decode()
                meta[key] = self.exactly(self.long("header") or 0, "header")
        return meta, self.exactly(16, "header sync marker")


def open_fast(stream: IO[bytes], name: str) -> tuple[_Stream, dict[str, bytes], bytes, Any] | None:
    """Frame the file; None when its schema or codec is not one the fast path decodes
    (the caller then rewinds and uses the pure path)."""
    framed = _Stream(stream, name)
    meta, sync = framed.header()
    try:
        schema = json.loads(meta.get("avro.schema", b"{}"))
    except json.JSONDecodeError as exc:
        raise CaptureFileError(f"{name}: header schema is not JSON: {exc}") from None
    codec = meta.get("avro.codec", b"null").decode()
    layout = _layout(schema)
    if layout is None or codec not in ("null", "deflate"):
        names = (
            [f.get("name") for f in schema.get("fields", [])] if isinstance(schema, dict) else []
        )
        if tuple(names) != FIELD_NAMES:
            raise CaptureFileError(
                f"{name}: not an Event Hubs Capture file: record fields are {names}, "
                f"expected {list(FIELD_NAMES)} of {ENVELOPE_NAME}"
            )
        return None
    assert native is not None  # callers check available() first
    return framed, meta, sync, native.BlockDecoder(*layout)


def read_fast_batches(
    framed: _Stream, sync: bytes, codec: str, decoder: Any, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    name, total = framed.name, 0
    while True:
        count = framed.long("block count", eof_ok=True)
        if count is None:
            break
        size = framed.long("block size")
        if count < 0 or size is None or size < 0:
            raise CaptureFileError(f"{name}: corrupt block header after {total} events")
        data = framed.exactly(size, f"a block after {total} events")
        if framed.exactly(16, "a sync marker") != sync:
            raise CaptureFileError(f"{name}: corrupt: sync marker mismatch after {total} events")
        if codec == "deflate":
            try:
                data = zlib.decompress(data, -15)
            except zlib.error as exc:
                raise CaptureFileError(
                    f"{name}: corrupt deflate block after {total} events: {exc}"
                ) from None
        try:
            decoder.decode(data, count)
        except (ValueError, MemoryError) as exc:
            raise corrupt(name, total, exc) from None
        total += count
        if decoder.rows >= batch_rows:
            yield _finish(decoder, name, total)
    if decoder.rows:
        yield _finish(decoder, name, total)


def _finish(decoder: Any, name: str, total: int) -> pa.RecordBatch:
    try:
        batch = _batch(decoder)
        batch.validate(full=True)  # e.g. text attributes taken from non-UTF-8 bytes values
    except (ValueError, pa.ArrowInvalid) as exc:
        raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
    decoder.reset()
    return batch


def _buffer(data: bytes | None) -> pa.Buffer | None:
    return None if data is None else pa.py_buffer(data)


def _int64(
    parts: tuple[bytes | None, bytes, int, int], type_: pa.DataType | None = None
) -> pa.Array:
    bits, values, nulls, length = parts
    buffers = [_buffer(bits), pa.py_buffer(values)]
    return pa.Array.from_buffers(type_ or pa.int64(), length, buffers, null_count=nulls)


def _binary(parts: tuple[bytes | None, bytes, bytes, int, int], type_: pa.DataType) -> pa.Array:
    bits, offsets, data, nulls, length = parts
    return pa.Array.from_buffers(
        type_, length, [_buffer(bits), pa.py_buffer(offsets), pa.py_buffer(data)], null_count=nulls
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


def _enqueued(decoder: Any) -> pa.Array:
    millis = _int64(decoder.enqueued_ms.finish())
    if millis.null_count == 0:
        return pc.cast(pc.multiply(millis, 1000), UTC_MICROS)
    texts = _binary(decoder.enqueued_text.finish(), pa.string()).to_pylist()
    micros = []
    for ms, text in zip(millis.to_pylist(), texts, strict=True):
        if ms is not None:
            micros.append(ms * 1000)
            continue
        try:
            moment = parse_enqueued_time(text)
        except EnqueuedTimeError as exc:
            raise ValueError(str(exc)) from None
        micros.append(round(moment.timestamp() * 1_000_000))
    return pa.array(micros, UTC_MICROS)


def _batch(decoder: Any) -> pa.RecordBatch:
    rows = decoder.rows
    found = {
        key: _binary(col.finish(), pa.string())
        for key, col in zip(_FOUND, decoder.found, strict=True)
    }
    system_ct, property_ct = found["system_content_type"], found["property_content_type"]
    content_type = pc.if_else(
        pc.fill_null(pc.greater(pc.utf8_length(system_ct), 0), False), system_ct, property_ct
    )
    columns = {
        "sequence_number": _int64(decoder.sequence.finish()),
        "offset": _binary(decoder.offset.finish(), pa.string()),
        "enqueued_time": _enqueued(decoder),
        "partition_key": found["partition_key"],
        "system_properties": _map(decoder.system.finish(), rows),
        "properties": _map(decoder.properties.finish(), rows),
        "schema_id": _schema_ids(content_type, found["dataschema"]),
        "ce_id": found["ce_id"],
        "ce_type": found["ce_type"],
        "ce_source": found["ce_source"],
        "ce_time": _ce_time(found["ce_time"]),
        "body": _binary(decoder.body.finish(), pa.binary()),
    }
    return pa.RecordBatch.from_arrays(
        [columns[n] for n in EVENT_COLUMNS.names], schema=EVENT_COLUMNS
    )
