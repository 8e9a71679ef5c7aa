"""The Avro container around Capture's records: header, envelope layout, blocks, codecs.

The compiled record decoder reads the records; the container around them is framed here,
with one clear decision on every damaged byte outside the records: a bad magic, header
metadata that is not UTF-8 or not the envelope, a length or count that overflows or runs
past the file, a sync marker that differs, a deflate block that does not inflate. Every such
defect is a `CaptureFileError` naming the file and the cause; nothing is allocated from a
length before it is checked against what is left.

A block is read a window at a time (`Block.read`), never whole: Capture's codecs both stream
(`null` is stored bytes, `deflate` inflates piecewise), so a block of any size costs the
window it is read through. A codec that compresses each block as one unit (Avro's `snappy`)
would have to hold a whole block; Capture does not write one and it is refused.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from eda_lake.capture.envelope import FIELD_NAMES
from eda_lake.shared.errors import UserError

MAGIC = b"Obj\x01"
ENVELOPE_NAME = "Microsoft.ServiceBus.Messaging.EventData"
CODECS = ("null", "deflate")  # what Capture writes (encodings Avro and AvroDeflate)
MAX_LONG_BYTES = 10  # a zig-zag varint of 64 bits
MAX_HEADER_BYTES = 1 << 20  # Azure's header is well under 1 KiB
_READ_CHUNK = 1 << 20
# Branch codes of the property map unions, as the decoders number them.
BRANCH_CODES = {"long": 0, "double": 1, "string": 2, "bytes": 3, "null": 4}


class CaptureFileError(UserError, ValueError):
    """A file that is not a readable Capture file; the message names the file and the cause."""


@dataclass(frozen=True)
class EnvelopeLayout:
    """How one file's writer schema encodes the envelope: the union branch codes of the two
    property maps and which branch of Body is null."""

    system_branches: tuple[int, ...]
    property_branches: tuple[int, ...]
    body_null_branch: int


@dataclass(frozen=True)
class Container:
    name: str
    codec: str
    sync: bytes
    layout: EnvelopeLayout


def _map_branches(node: Any, field: str, name: str) -> tuple[int, ...]:
    values = node.get("values") if isinstance(node, dict) and node.get("type") == "map" else None
    branches = values if isinstance(values, list) else [values]
    codes = [BRANCH_CODES.get(b) if isinstance(b, str) else None for b in branches]
    if values is None or not codes or len(codes) > 8 or None in codes:
        raise CaptureFileError(
            f"{name}: not an Event Hubs Capture file: {field} is {json.dumps(node)}, expected a "
            "map of a union of long, double, string, bytes (and null)"
        )
    return tuple(c for c in codes if c is not None)


def envelope_layout(schema: Any, name: str) -> EnvelopeLayout:
    """The layout of a writer schema that is Capture's envelope, else CaptureFileError."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    names = (
        [f.get("name") if isinstance(f, dict) else None for f in fields]
        if isinstance(fields, list)
        else []
    )
    if tuple(names) != FIELD_NAMES or not isinstance(fields, list):
        raise CaptureFileError(
            f"{name}: not an Event Hubs Capture file: record fields are {names}, "
            f"expected {list(FIELD_NAMES)} of {ENVELOPE_NAME}"
        )
    types = [f.get("type") for f in fields]
    for index, expected in ((0, "long"), (1, "string"), (2, "string")):
        if types[index] != expected:
            raise CaptureFileError(
                f"{name}: not an Event Hubs Capture file: {FIELD_NAMES[index]} is "
                f"{json.dumps(types[index])}, expected {expected!r}"
            )
    body = types[5]
    if not isinstance(body, list) or sorted(str(b) for b in body) != ["bytes", "null"]:
        raise CaptureFileError(
            f"{name}: not an Event Hubs Capture file: Body is {json.dumps(body)}, "
            'expected ["null", "bytes"]'
        )
    return EnvelopeLayout(
        _map_branches(types[3], "SystemProperties", name),
        _map_branches(types[4], "Properties", name),
        body.index("null"),
    )


class FramedStream:
    """Reads a container's framing from a binary stream, bounded by the bytes left."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream = stream
        self.name = name
        self.left = _size_left(stream)  # None when the stream cannot tell

    def corrupt(self, what: str) -> CaptureFileError:
        return CaptureFileError(f"{self.name}: corrupt or truncated in {what}")

    def exactly(self, size: int, what: str) -> bytes:
        if size < 0 or (self.left is not None and size > self.left):
            raise self.corrupt(what)
        parts, wanted = [], size
        while wanted:  # in chunks: a huge claimed size fails at the end, not in malloc
            chunk = self.stream.read(min(wanted, _READ_CHUNK))
            if not chunk:
                raise self.corrupt(what)
            parts.append(chunk)
            wanted -= len(chunk)
        if self.left is not None:
            self.left -= size
        return b"".join(parts)

    def into(self, view: memoryview, what: str) -> None:
        """Fill `view` from the stream (a piece at a time: no second copy of it all)."""
        if self.left is not None and len(view) > self.left:
            raise self.corrupt(what)
        filled = 0
        while filled < len(view):
            chunk = self.stream.read(min(len(view) - filled, _READ_CHUNK))
            if not chunk:
                raise self.corrupt(what)
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        if self.left is not None:
            self.left -= filled

    def long(self, what: str, eof_ok: bool = False) -> int | None:
        result = 0
        for shift in range(0, 7 * MAX_LONG_BYTES, 7):
            byte = self.stream.read(1)
            if not byte:
                if eof_ok and shift == 0:
                    return None
                raise self.corrupt(what)
            if self.left is not None:
                self.left -= 1
            result |= (byte[0] & 0x7F) << shift
            if not byte[0] & 0x80:
                if result >> 64:
                    break
                return (result >> 1) ^ -(result & 1)
        raise CaptureFileError(f"{self.name}: corrupt {what}: a number longer than 64 bits")

    def length(self, what: str, limit: int) -> int:
        size = self.long(what)
        assert size is not None
        if size < 0 or size > limit:
            raise CaptureFileError(f"{self.name}: corrupt {what}: length {size}")
        return size


def _size_left(stream: IO[bytes]) -> int | None:
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
    except (OSError, ValueError, AttributeError):
        return None
    return int(end - here)


def _text(data: bytes, what: str, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaptureFileError(f"{name}: corrupt header: {what} is not UTF-8 ({exc})") from None


def open_container(stream: IO[bytes], name: str) -> tuple[FramedStream, Container]:
    """Read and check the header: magic, metadata, the envelope schema, codec, sync."""
    framed = FramedStream(stream, name)
    if stream.read(4) != MAGIC:
        raise CaptureFileError(f"{name}: not an Avro container file: bad magic")
    if framed.left is not None:
        framed.left -= 4
    meta: dict[str, bytes] = {}
    used = 0
    while True:
        count = framed.long("header")
        assert count is not None
        if count == 0:
            break
        if count < 0:
            count = -count
            framed.long("header")
        for _ in range(count):
            key_size = framed.length("header key", MAX_HEADER_BYTES - used)
            key = _text(framed.exactly(key_size, "header"), "a metadata key", name)
            value_size = framed.length("header value", MAX_HEADER_BYTES - used - key_size)
            meta[key] = framed.exactly(value_size, "header")
            used += key_size + value_size
    sync = framed.exactly(16, "header sync marker")
    codec = _text(meta.get("avro.codec", b"null"), "avro.codec", name)
    if "avro.schema" not in meta:
        raise CaptureFileError(f"{name}: not an Avro container file: no avro.schema in header")
    try:
        schema = json.loads(_text(meta["avro.schema"], "avro.schema", name))
    except json.JSONDecodeError as exc:
        raise CaptureFileError(f"{name}: header schema is not JSON: {exc}") from None
    layout = envelope_layout(schema, name)
    if codec not in CODECS:
        raise CaptureFileError(
            f"{name}: codec {codec!r} is not one Event Hubs Capture writes ({', '.join(CODECS)})"
        )
    return framed, Container(name, codec, sync, layout)


class Block:
    """One data block: its record count, the events of the file before it, and its decoded
    bytes, read a piece at a time."""

    def __init__(self, framed: FramedStream, container: Container, count: int, size: int,
                 before: int) -> None:  # fmt: skip
        self.framed = framed
        self.name = container.name
        self.sync = container.sync
        self.count = count
        self.before = before
        self.stored_left = size  # stored bytes of the block not read from the file yet
        self.inflater = zlib.decompressobj(-15) if container.codec == "deflate" else None
        self.tail = b""  # stored bytes read but not inflated yet
        self.done = size == 0 and self.inflater is None  # every decoded byte handed out

    def _stored(self, size: int) -> bytes:
        data = self.framed.exactly(size, f"a block after {self.before} events")
        self.stored_left -= size
        return data

    def read(self, size: int, keep: memoryview | bytes = b"") -> bytearray:
        """`keep` followed by up to `size` more decoded bytes, fewer only at the block's end
        (which sets `done`). Filled a piece at a time: one copy of the bytes in memory."""
        if self.inflater is None:
            wanted = min(size, self.stored_left)
            out = bytearray(len(keep) + wanted)
            out[: len(keep)] = keep
            self.framed.into(memoryview(out)[len(keep) :], f"a block after {self.before} events")
            self.stored_left -= wanted
            self.done = self.stored_left == 0
            return out
        out, wanted = bytearray(keep), size
        while wanted and not self.inflater.eof:
            if not self.tail and self.stored_left:
                self.tail = self._stored(min(_READ_CHUNK, self.stored_left))
            try:
                piece = self.inflater.decompress(self.tail, min(wanted, _READ_CHUNK))
            except zlib.error as exc:
                raise CaptureFileError(
                    f"{self.name}: corrupt deflate block after {self.before} events: {exc}"
                ) from None
            self.tail = self.inflater.unconsumed_tail
            if not piece and not self.tail and not self.stored_left:
                break  # the stored bytes are spent and nothing more inflates: cut short
            out += piece
            wanted -= len(piece)
        self.done = bool(wanted)
        return out

    def drain(self) -> int:
        """Read what is left of the block; returns how many decoded bytes that was."""
        left = 0
        while not self.done:
            left += len(self.read(_READ_CHUNK))
        return left

    def close(self) -> None:
        """Check the block's end (a deflate stream that ends; bytes after it are let be:
        fastavro writes a checksum there) and the sync marker after it."""
        self.drain()
        if self.inflater is not None and not self.inflater.eof:
            raise CaptureFileError(
                f"{self.name}: corrupt deflate block after {self.before} events: the deflate "
                "stream is cut short"
            )
        while self.stored_left:
            self._stored(min(_READ_CHUNK, self.stored_left))
        total = self.before + self.count
        if self.framed.exactly(16, f"a sync marker after {total} events") != self.sync:
            raise CaptureFileError(
                f"{self.name}: corrupt: sync marker mismatch after {total} events"
            )


def blocks(framed: FramedStream, container: Container) -> Iterator[Block]:
    """The file's blocks in order; each must be read (or not) before the next is asked for."""
    name, total = container.name, 0
    while True:
        count = framed.long(f"a block header after {total} events", eof_ok=True)
        if count is None:
            return
        size = framed.long(f"a block header after {total} events")
        assert size is not None
        if count < 0 or size < 0 or count > max(size, 1):
            raise CaptureFileError(f"{name}: corrupt block header after {total} events")
        if framed.left is not None and size > framed.left:  # checked before reading any
            raise framed.corrupt(f"a block after {total} events")
        block = Block(framed, container, count, size, total)
        yield block
        block.close()
        total += count


def corrupt(name: str, count: int, exc: Exception) -> CaptureFileError:
    return CaptureFileError(
        f"{name}: corrupt or truncated after {count} events: {type(exc).__name__}: {exc}"
    )
