"""Capture files as Arrow batches through the compiled block decoder.

Same batches as `columnar.read_pure_batches`, several times faster: the container is framed
by `container` (the same checks as the pure path), each block is decoded by
`native.BlockDecoder` into column buffers, and the derived columns (enqueue time, schema id,
CloudEvents time) by `columnar.assemble`, shared with the pure path. `available()` says
whether the compiled module was built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from eda_lake.capture.arrow_schema import PROPERTY_MAP, PROPERTY_VALUE
from eda_lake.capture.columnar import DEFAULT_BATCH_ROWS, assemble
from eda_lake.capture.container import CaptureFileError, blocks, corrupt, open_container
from eda_lake.capture.records import FOUND
from eda_lake.native import avro as native


def available() -> bool:
    return native is not None


def read_fast_batches(
    stream: IO[bytes], name: str, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of EVENT_COLUMNS; CaptureFileError names the file on any defect."""
    assert native is not None  # callers check available() first
    framed, container = open_container(stream, name)
    layout = container.layout
    decoder = native.BlockDecoder(
        list(layout.system_branches), list(layout.property_branches), layout.body_null_branch
    )
    total = 0
    for count, data, before in blocks(framed, container):
        try:
            decoder.decode(data, count)
        except (ValueError, MemoryError) as exc:
            raise corrupt(name, before, exc) from None
        total = before + count
        if decoder.rows >= batch_rows:
            yield _finish(decoder, name, total)
    if decoder.rows:
        yield _finish(decoder, name, total)


def _finish(decoder: Any, name: str, total: int) -> pa.RecordBatch:
    try:
        columns = _columns(decoder)
    except (ValueError, pa.ArrowException) as exc:
        raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
    batch = assemble(columns, name, total)
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


def _columns(decoder: Any) -> dict[str, pa.Array]:
    rows = decoder.rows
    found = {
        key: _binary(col.finish(), pa.string())
        for key, col in zip(FOUND, decoder.found, strict=True)
    }
    return {
        "sequence": _int64(decoder.sequence.finish()),
        "offset": _binary(decoder.offset.finish(), pa.string()),
        "enqueued_ms": _int64(decoder.enqueued_ms.finish()),
        "enqueued_text": _binary(decoder.enqueued_text.finish(), pa.string()),
        "system": _map(decoder.system.finish(), rows),
        "properties": _map(decoder.properties.finish(), rows),
        "body": _binary(decoder.body.finish(), pa.binary()),
        **found,
    }
