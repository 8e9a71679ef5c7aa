"""A capture file's records fed to a decoder a window at a time, cut into bounded batches.

The compiled record decoder (`columnar.CompiledDecoder`) is driven from here. A block that
fits in one window (Azure's are about 1 MiB) is decoded whole; a larger one is scanned for
whole records first, decoded a window of records at a time, and its reading continues where
the last whole record ended. Memory therefore holds one window (at least one whole event)
and one batch, whatever the size of the file or of its blocks.

A batch ends at `batch_rows` rows or `BATCH_BYTES` of encoded records, whichever comes
first (one event larger than that is a batch of its own), so no Arrow column of a batch comes
near 2 GiB. An event larger than the limit (`EDA_LAKE_MAX_EVENT_MIB`) is refused as soon as
its encoding says so, before it is read: `EventTooLargeError`, not damage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from eda_lake.capture.container import (
    Block,
    CaptureFileError,
    Container,
    FramedStream,
    blocks,
    corrupt,
)
from eda_lake.settings import DEFAULT_MAX_EVENT_MIB, MAX_EVENT_VAR

DEFAULT_BATCH_ROWS = 16_384
WINDOW_BYTES = 4 << 20  # decoded block bytes read at a time (more when one event needs it)
BATCH_BYTES = 16 << 20  # encoded records per batch, at most (or one larger event)
DEFAULT_MAX_EVENT_BYTES = DEFAULT_MAX_EVENT_MIB << 20


class EventTooLargeError(CaptureFileError):
    """An event larger than the limit: a readable file that the setting would let in."""


class Oversized(ValueError):  # noqa: N818 - a signal between scanner and driver
    """Raised by a scanner: the `index`-th record of the scan takes at least `size` bytes."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(index, size)
        self.index = index
        self.size = size


class RecordDecoder(Protocol):
    """What the driver needs of a decoder (`columnar.CompiledDecoder`)."""

    def scan(
        self, data: bytearray, start: int, count: int, budget: int, rest: int, limit: int
    ) -> tuple[int, int, int]:
        """Find up to `count` whole records in `data` from `start`: (records, where they
        end, bytes of `data` the next one needs at least, 0 when it is not cut off). Stops
        before a record that would pass `budget` bytes, unless it is the first. `rest`: the
        block's bytes after `data`, -1 when unknown (deflate). Raises `Oversized` for a
        record whose encoding passes `limit` bytes, ValueError for damage."""
        ...

    def decode(self, data: bytearray, start: int, end: int, count: int) -> None:
        """Decode `count` records that fill `data[start:end]` exactly into the batch."""
        ...


def event_too_large(name: str, number: int, size: int, limit: int) -> EventTooLargeError:
    return EventTooLargeError(
        f"{name}: event {number} takes at least {size:,} bytes, over the limit of "
        f"{limit:,} bytes ({limit / (1 << 20):g} MiB) per event: raise {MAX_EVENT_VAR} "
        "and run `eda-lake quarantine retry --files`"
    )


def decoded_batches(
    framed: FramedStream, container: Container, decoder: RecordDecoder, batch_rows: int,
    limit: int,
) -> Iterator[int]:  # fmt: skip
    """Feed the records of an opened file to `decoder`; yields the number of events read so
    far each time the decoder holds a batch, which the caller takes (and empties) before
    resuming. CaptureFileError names the file on any defect."""
    name = container.name
    held = rows = total = 0  # encoded bytes and records in the decoder's batch; events read
    for block in blocks(framed, container):
        total = block.before + block.count
        window = block.read(WINDOW_BYTES)
        if block.done and len(window) <= limit:  # the whole block at once: the usual case
            if rows and held + len(window) > BATCH_BYTES:
                yield block.before
                held = rows = 0
            _decode(decoder, block, window, 0, len(window), block.count, 0)
            held, rows = held + len(window), rows + block.count
            if rows >= batch_rows or held >= BATCH_BYTES:
                yield block.before + block.count
                held = rows = 0
            continue
        done = start = 0
        while done < block.count:
            rest = 0 if block.done else (-1 if block.inflater else block.stored_left)
            try:
                wanted = min(block.count - done, batch_rows - rows)
                found, end, needed = decoder.scan(
                    window, start, wanted, BATCH_BYTES - held, rest, limit
                )
            except Oversized as exc:
                refused = event_too_large(
                    name, block.before + done + exc.index + 1, exc.size, limit
                )
                if rows:  # the events before it are checked first (the decoder checks
                    yield block.before + done  # text as it builds a batch)
                raise refused from None
            except (ValueError, MemoryError) as exc:
                raise corrupt(name, block.before + done, exc) from None
            if found:
                if rows and held + end - start > BATCH_BYTES:
                    yield block.before + done
                    held = rows = 0
                _decode(decoder, block, window, start, end, found, done)
                held, rows, done, start = held + end - start, rows + found, done + found, end
                if rows >= batch_rows or held >= BATCH_BYTES:
                    # What was decoded is not held while the batch is written.
                    window, start, needed = window[start:], 0, max(needed - start, 0)
                    yield block.before + done
                    held = rows = 0
            if needed:  # the next record is cut off by the window's end: read on
                more = max(needed - len(window), WINDOW_BYTES)
                window, start = block.read(more, memoryview(window)[start:]), 0
        left = len(window) - start + block.drain()
        if left:
            leftover = ValueError(f"block has {left} bytes left after {block.count} records")
            raise corrupt(name, block.before, leftover)
    if rows:
        yield total


def _decode(
    decoder: RecordDecoder, block: Block, window: bytearray, start: int, end: int, count: int,
    done: int,
) -> None:  # fmt: skip
    try:
        decoder.decode(window, start, end, count)
    except (ValueError, MemoryError) as exc:
        raise corrupt(block.name, block.before + done, exc) from None
