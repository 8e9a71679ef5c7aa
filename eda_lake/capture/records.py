"""Capture's EventData records decoded in Python, by the same rules as the compiled decoder.

The envelope is fixed, so its records are read here directly rather than through a generic
Avro reader: that way this path and `native/_avro.pyx` take the same decision on every
damaged byte (a negative or overlong length, a union branch out of range, text that is not
UTF-8, bytes left over in a block) and read attributes by the same rules:

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

import struct
from dataclasses import dataclass, field
from typing import Any

from eda_lake.capture.container import MAX_LONG_BYTES, EnvelopeLayout
from eda_lake.capture.windows import Oversized

LONG, DOUBLE, STRING, BYTES, NULL = range(5)  # container.BRANCH_CODES
# Slots of the attributes found per record (the compiled decoder's order).
FOUND = ("ce_id", "ce_type", "ce_source", "ce_time", "dataschema", "partition_key",
         "system_content_type", "property_content_type", "kafka_key")  # fmt: skip
CE_SLOTS = {"id": 0, "type": 1, "source": 2, "time": 3, "dataschema": 4}
CE_PREFIXES = ("cloudEvents_", "cloudEvents:", "ce_")
PROPERTY_SLOTS = {
    **{prefix + name: slot for prefix in CE_PREFIXES for name, slot in CE_SLOTS.items()},
    "content-type": 7,
}
SYSTEM_SLOTS = {"x-opt-partition-key": 5, "content-type": 6, "x-opt-kafka-key": 8}
ENQUEUED_KEY = "x-opt-enqueued-time"
_DOUBLE = struct.Struct("<d")

Entry = tuple[str, Any]


class RecordError(ValueError):
    """A record's bytes do not decode as the envelope."""


@dataclass
class RecordColumns:
    """The decoded records of one batch, column by column."""

    sequence: list[int] = field(default_factory=list)
    offset: list[str] = field(default_factory=list)
    enqueued_ms: list[int | None] = field(default_factory=list)
    enqueued_text: list[str] = field(default_factory=list)
    system: list[list[Entry]] = field(default_factory=list)
    properties: list[list[Entry]] = field(default_factory=list)
    body: list[bytes | None] = field(default_factory=list)
    found: list[list[str | None]] = field(default_factory=lambda: [[] for _ in FOUND])

    def __len__(self) -> int:
        return len(self.sequence)


def _attribute(value: Any) -> str | None:
    if type(value) is str:
        return value
    if type(value) is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


class _Reader:
    __slots__ = ("data", "end", "pos", "view")

    def __init__(self, data: bytearray, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.view = memoryview(data)
        self.pos = start
        self.end = len(data) if end is None else end

    def long(self) -> int:
        pos = self.pos
        if pos < self.end:
            byte = self.data[pos]
            if byte < 0x80:  # most longs here: small counts, lengths and branches
                self.pos = pos + 1
                return (byte >> 1) ^ -(byte & 1)
        return self._long_at(pos)

    def _long_at(self, pos: int) -> int:
        data, end = self.data, self.end
        result = shift = 0
        while True:
            if pos >= end:
                raise RecordError("truncated long")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                raise RecordError("long longer than 10 bytes")
        self.pos = pos
        if result >> 64:
            raise RecordError("long longer than 64 bits")
        return (result >> 1) ^ -(result & 1)

    def raw(self) -> bytes:
        size = self.long()
        start = self.pos
        end = start + size
        if size < 0 or end > self.end:
            raise RecordError("string or bytes runs past the block")
        self.pos = end
        return bytes(self.view[start:end])

    def text(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"string is not UTF-8: {exc}") from None

    def double(self) -> float:
        if self.pos + 8 > self.end:
            raise RecordError("truncated double")
        value: float = _DOUBLE.unpack_from(self.data, self.pos)[0]
        self.pos += 8
        return value


def _read_map(
    reader: _Reader,
    branches: tuple[int, ...],
    slots: dict[str, int],
    found: list[str | None],
) -> list[Entry]:
    entries: list[Entry] = []
    while True:
        count = reader.long()
        if count == 0:
            return entries
        if count < 0:
            count = -count
            reader.long()  # the block's size in bytes: not needed
        for _ in range(count):
            key = reader.text()
            branch = reader.long()
            if branch < 0 or branch >= len(branches):
                raise RecordError("union branch out of range")
            kind = branches[branch]
            value: Any
            if kind == LONG:
                value = reader.long()
            elif kind == DOUBLE:
                value = reader.double()
            elif kind == STRING:
                value = reader.text()
            elif kind == BYTES:
                value = reader.raw()
            else:
                value = None
            slot = slots.get(key)
            if slot is not None and found[slot] is None and kind in (STRING, BYTES):
                found[slot] = _attribute(value)
            entries.append((key, value))


def decode_block(
    data: bytearray, start: int, end: int, count: int, layout: EnvelopeLayout, out: RecordColumns
) -> None:
    """Decode `count` records that must fill `data[start:end]` exactly, appending them to
    `out`."""
    reader = _Reader(data, start, end)
    for _ in range(count):
        found: list[str | None] = [None] * len(FOUND)
        sequence = reader.long()
        offset = reader.text()
        enqueued_text = reader.text()
        system = _read_map(reader, layout.system_branches, SYSTEM_SLOTS, found)
        properties = _read_map(reader, layout.property_branches, PROPERTY_SLOTS, found)
        branch = reader.long()
        if branch == layout.body_null_branch:
            body = None
        elif branch == 1 - layout.body_null_branch:
            body = reader.raw()
        else:
            raise RecordError("Body union branch out of range")
        out.sequence.append(sequence)
        out.offset.append(offset)
        out.enqueued_ms.append(
            next((v for k, v in reversed(system) if k == ENQUEUED_KEY and type(v) is int), None)
        )
        out.enqueued_text.append(enqueued_text)
        out.system.append(system)
        out.properties.append(properties)
        out.body.append(body)
        for column, value in zip(out.found, found, strict=True):
            column.append(value)
    if reader.pos != reader.end:
        raise RecordError(f"block has {reader.end - reader.pos} bytes left after {count} records")


class _CutOff(Exception):  # noqa: N818 - control flow within scan_records
    def __init__(self, needed: int) -> None:
        self.needed = needed


class _Scanner:
    """Walks records without decoding them: where each ends, by the compiled scanner's
    rules (`native/_avro.pyx` `BlockDecoder.scan`)."""

    __slots__ = ("data", "end", "limit", "pos", "record", "rest")

    def __init__(self, data: bytearray, rest: int, limit: int) -> None:
        self.data = data
        self.end = len(data)
        self.rest = rest
        self.limit = limit
        self.pos = self.record = 0

    def long(self) -> int:
        stop = min(self.end, self.pos + MAX_LONG_BYTES)
        cut_off = stop < self.pos + MAX_LONG_BYTES and all(
            b >= 0x80 for b in self.data[self.pos : stop]
        )
        if cut_off and self.rest != 0:  # more to read; at the block's end it is truncated
            raise _CutOff(self.end + 1)
        reader = _Reader(self.data, self.pos, self.end)
        value = reader.long()
        self.pos = reader.pos
        return value

    def skip(self, size: int) -> None:
        """Pass a string or bytes value of `size` bytes."""
        left = self.end - self.pos
        if size < 0 or (self.rest >= 0 and size > left + self.rest):
            raise RecordError("string or bytes runs past the block")
        if self.pos + size - self.record > self.limit:
            raise _Oversize(self.pos + size - self.record)
        if size > left:
            raise _CutOff(self.pos + size)
        self.pos += size

    def double(self) -> None:
        if self.pos + 8 > self.end:
            if self.rest == 0:
                raise RecordError("truncated double")
            raise _CutOff(self.pos + 8)
        self.pos += 8

    def map(self, branches: tuple[int, ...]) -> None:
        while True:
            count = self.long()
            if count == 0:
                return
            if count < 0:
                count = -count
                self.long()
            for _ in range(count):
                self.skip(self.long())
                branch = self.long()
                if branch < 0 or branch >= len(branches):
                    raise RecordError("union branch out of range")
                kind = branches[branch]
                if kind == LONG:
                    self.long()
                elif kind == DOUBLE:
                    self.double()
                elif kind in (STRING, BYTES):
                    self.skip(self.long())

    def record_end(self, layout: EnvelopeLayout) -> int:
        self.record = self.pos
        self.long()
        self.skip(self.long())
        self.skip(self.long())
        self.map(layout.system_branches)
        self.map(layout.property_branches)
        branch = self.long()
        if branch == 1 - layout.body_null_branch:
            self.skip(self.long())
        elif branch != layout.body_null_branch:
            raise RecordError("Body union branch out of range")
        return self.pos


class _Oversize(Exception):  # noqa: N818 - control flow within scan_records
    def __init__(self, size: int) -> None:
        self.size = size


def scan_records(
    data: bytearray, start: int, count: int, budget: int, rest: int, limit: int,
    layout: EnvelopeLayout,
) -> tuple[int, int, int]:  # fmt: skip
    """`windows.RecordDecoder.scan` for this path: (records, their end, bytes needed)."""
    scanner = _Scanner(data, rest, limit)
    scanner.pos = end = start
    for index in range(count):
        try:
            record_end = scanner.record_end(layout)
        except _CutOff as cut:
            return index, end, cut.needed
        except _Oversize as over:
            raise Oversized(index, over.size) from None
        if index and record_end - start > budget:
            return index, end, 0
        end = record_end
    return count, end, 0


class PureDecoder:
    """`windows.RecordDecoder` over `records`: the batch so far in `records`."""

    def __init__(self, layout: EnvelopeLayout) -> None:
        self.layout = layout
        self.records = RecordColumns()

    def scan(
        self, data: bytearray, start: int, count: int, budget: int, rest: int, limit: int
    ) -> tuple[int, int, int]:
        return scan_records(data, start, count, budget, rest, limit, self.layout)

    def decode(self, data: bytearray, start: int, end: int, count: int) -> None:
        decode_block(data, start, end, count, self.layout, self.records)

    def take(self) -> RecordColumns:
        records, self.records = self.records, RecordColumns()
        return records
