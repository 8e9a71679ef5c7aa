"""Capture files as Arrow batches through the compiled block decoder.

Same batches as `columnar.read_pure_batches`, several times faster: the file is framed and
windowed by `windows` (the same decisions as the pure path), records are scanned and decoded
by `native.BlockDecoder` into column buffers, which Arrow then wraps without a copy, and the
derived columns (enqueue time, schema id, CloudEvents time) come from `columnar.assemble`,
shared with the pure path. `available()` says whether the compiled module was built.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from eda_lake.capture.arrow_schema import PROPERTY_MAP, PROPERTY_VALUE
from eda_lake.capture.columnar import assemble
from eda_lake.capture.container import CaptureFileError, EnvelopeLayout, open_container
from eda_lake.capture.records import FOUND
from eda_lake.capture.windows import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_MAX_EVENT_BYTES,
    Oversized,
    decoded_batches,
)
from eda_lake.native import avro as native


def available() -> bool:
    return native is not None


class FastDecoder:
    """`windows.RecordDecoder` over the compiled `BlockDecoder`."""

    def __init__(self, layout: EnvelopeLayout) -> None:
        assert native is not None  # callers check available() first
        self.block = native.BlockDecoder(
            list(layout.system_branches), list(layout.property_branches), layout.body_null_branch
        )

    def scan(
        self, data: bytearray, start: int, count: int, budget: int, rest: int, limit: int
    ) -> tuple[int, int, int]:
        try:
            found: tuple[int, int, int] = self.block.scan(data, start, count, budget, rest, limit)
        except native.Oversized as exc:  # type: ignore[union-attr]
            raise Oversized(exc.index, exc.size) from None
        return found

    def decode(self, data: bytearray, start: int, end: int, count: int) -> None:
        self.block.decode(data, start, end, count)


def read_fast_batches(
    stream: IO[bytes],
    name: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Record batches of EVENT_COLUMNS; CaptureFileError names the file on any defect."""
    framed, container = open_container(stream, name)
    decoder = FastDecoder(container.layout)
    for total in decoded_batches(framed, container, decoder, batch_rows, max_event_bytes):
        yield _finish(decoder.block, name, total)


def _finish(decoder: Any, name: str, total: int) -> pa.RecordBatch:
    try:
        columns = _columns(decoder)
    except (ValueError, pa.ArrowException) as exc:
        raise CaptureFileError(f"{name}: corrupt after {total} events: {exc}") from None
    batch = assemble(columns, name, total)
    decoder.reset()
    return batch


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
