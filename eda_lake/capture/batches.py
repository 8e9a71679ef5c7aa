"""Capture files as Arrow batches: the compiled decoder where it applies, else pure Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import pyarrow as pa

from eda_lake.capture import fast_columnar
from eda_lake.capture.columnar import DEFAULT_BATCH_ROWS, read_pure_batches


def read_capture_batches(
    stream: IO[bytes], name: str, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Record batches of `columnar.EVENT_COLUMNS`; CaptureFileError names the file on any
    defect. Both paths give the same batches (tested on Azure's files and our own)."""
    if fast_columnar.available():
        opened = fast_columnar.open_fast(stream, name)
        if opened is not None:
            framed, meta, sync, decoder = opened
            codec = meta.get("avro.codec", b"null").decode()
            yield from fast_columnar.read_fast_batches(framed, sync, codec, decoder, batch_rows)
            return
        stream.seek(0)  # an envelope or codec the compiled decoder does not take
    yield from read_pure_batches(stream, name, batch_rows)
