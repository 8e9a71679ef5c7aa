"""Valid Capture files with big bodies, written a piece at a time (never held whole)."""

from __future__ import annotations

import json
import os
import random
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from eda_lake.capture import avro_binary
from eda_lake.capture.envelope import CAPTURE_SCHEMA
from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.writer import EnqueuedText, encode_record
from eda_lake.hub.base import ReceivedEvent

CHUNK = 1 << 20
WINDOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def capture_path(root: Path, hub: str = "big", partition: str = "0", minute: int = 0) -> Path:
    """Where Capture would put a file of this hub and partition (the default name format)."""
    window = WINDOW + timedelta(minutes=minute)
    return root / ArchiveNameFormat().render("big-ns", hub, partition, window)


def body_byte(index: int) -> int:
    """What every byte of event `index`'s body is (compressible bodies)."""
    return index % 251


def _body_chunks(index: int, size: int, incompressible: bool) -> Iterator[bytes]:
    chunk = (
        random.Random(index).randbytes(CHUNK)
        if incompressible
        else bytes([body_byte(index)]) * CHUNK
    )
    while size > 0:
        yield chunk[: min(size, CHUNK)]
        size -= CHUNK


def _record_parts(index: int, size: int, incompressible: bool) -> Iterator[bytes]:
    event = ReceivedEvent(
        hub="big", partition_id="0", sequence_number=index, offset=index * 4096,
        enqueued_time=WINDOW + timedelta(milliseconds=index), partition_key=f"k{index}",
        content_type="application/octet-stream", properties={"cloudEvents_id": f"e{index}"},
        body=b"",
    )  # fmt: skip
    # The body is the record's last field: an empty one ends in its length 0.
    yield encode_record(event, EnqueuedText())[:-1] + avro_binary.long(size)
    yield from _body_chunks(index, size, incompressible)


def _record_size(index: int, size: int) -> int:
    head = next(_record_parts(index, 0, incompressible=False))
    return len(head) - 1 + len(avro_binary.long(size)) + size


def write_big_capture(
    path: Path,
    body_sizes: Sequence[int],
    *,
    codec: str = "null",
    per_block: int = 1,
    incompressible: bool = False,
    cut_after: int | None = None,
) -> Path:
    """A valid Capture file whose events carry bodies of these sizes, `per_block` events to
    an Avro block; event i's body is `body_byte(i)` repeated (or random bytes). `cut_after`:
    the file ends after that many bytes of its first block's data (`null` codec)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sync = os.urandom(16)
    schema = json.dumps(CAPTURE_SCHEMA).encode()
    with path.open("wb") as out:
        out.write(b"Obj\x01" + avro_binary.long(2))
        out.write(avro_binary.string("avro.codec") + avro_binary.raw(codec.encode()))
        out.write(avro_binary.string("avro.schema") + avro_binary.raw(schema) + b"\x00" + sync)
        for first in range(0, len(body_sizes), per_block):
            indexes = range(first, min(first + per_block, len(body_sizes)))
            _write_block(out, indexes, body_sizes, codec, incompressible, cut_after)
            if cut_after is not None:
                break
            out.write(sync)
    return path


def _write_block(
    out: IO[bytes], indexes: range, sizes: Sequence[int], codec: str, incompressible: bool,
    cut_after: int | None,
) -> None:  # fmt: skip
    parts = (part for i in indexes for part in _record_parts(i, sizes[i], incompressible))
    out.write(avro_binary.long(len(indexes)))
    if codec == "null":
        out.write(avro_binary.long(sum(_record_size(i, sizes[i]) for i in indexes)))
        written = 0
        for part in parts:
            if cut_after is not None and written + len(part) > cut_after:
                out.write(part[: cut_after - written])
                return
            out.write(part)
            written += len(part)
        return
    deflate = zlib.compressobj(wbits=-15)
    compressed = [deflate.compress(part) for part in parts] + [deflate.flush()]
    out.write(avro_binary.long(sum(len(c) for c in compressed)))
    for piece in compressed:
        out.write(piece)
