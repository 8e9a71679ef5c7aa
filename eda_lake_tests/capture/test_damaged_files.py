"""Damaged capture files: the reader raises CaptureFileError naming the file, or reads what
fastavro reads.

For any bytes at all the batch reader gives a table or a CaptureFileError naming the file,
the event reader the same events, and whatever it reads fastavro (an independent decoder,
more lenient on damage) reads to the same values: property-based tests mutate real Azure
files and files of our writer (bit flips, truncations, insertions) and check each outcome.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from datetime import UTC, datetime
from typing import Any, cast

import fastavro
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_lake.capture import avro_binary
from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.envelope import CAPTURE_SCHEMA
from eda_lake.capture.reader import CaptureFileError, read_capture
from eda_lake.capture.writer import write_capture
from eda_lake.hub.base import PropertyValue, ReceivedEvent
from eda_lake_tests.conftest import AZURE_CAPTURE
from eda_lake_tests.mutations import damaged

MOMENT = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


def _events(count: int = 6) -> list[ReceivedEvent]:
    props: list[dict[str, PropertyValue]] = [
        {
            "cloudEvents_id": f"id-{i}",
            "cloudEvents_source": "/s",
            "cloudEvents_time": "2026-03-01T12:00:00Z",
            "n": i,
            "f": 0.5,
            "raw": b"\xff\x00",
            "z": None,
        }
        for i in range(count)
    ]
    return [
        ReceivedEvent("h", "0", i, i * 10, MOMENT, f"k{i}", "avro/binary+0a1b", p, bytes([i]) * i)
        for i, p in enumerate(props)
    ]


def _ours(codec: str) -> bytes:
    stream = io.BytesIO()
    write_capture(stream, _events(), codec)
    return stream.getvalue()


def _outcome(data: bytes) -> pa.Table | str:
    """The table the reader gives, or "CaptureFileError"; anything else fails the test."""
    try:
        batches = list(read_capture_batches(io.BytesIO(data), "damaged.avro", 4))
    except CaptureFileError as exc:
        assert str(exc).startswith("damaged.avro: "), exc
        return "CaptureFileError"
    return pa.Table.from_batches(batches) if batches else "empty"


def _events_outcome(data: bytes) -> list[tuple[Any, ...]] | str:
    try:
        events = list(read_capture(io.BytesIO(data), "damaged.avro"))
    except CaptureFileError as exc:
        assert str(exc).startswith("damaged.avro: "), exc
        return "CaptureFileError"
    return [
        (e.sequence_number, e.offset, _plain(e.system_properties), _plain(e.properties), e.body)
        for e in events
    ]


def _plain(properties: Any) -> dict[str, Any]:
    """NaN as text, so that equal maps compare equal."""
    return {k: "NaN" if isinstance(v, float) and math.isnan(v) else v
            for k, v in properties.items()}  # fmt: skip


def _fastavro_events(data: bytes) -> list[tuple[Any, ...]] | None:
    """The events as fastavro reads them; None where it cannot parse the header's schema
    (the lake's container reads only the envelope's fields and their types from it, so a
    damaged keyword elsewhere, `"secord"` for `"record"`, is no damage to it)."""
    try:
        reader = fastavro.reader(io.BytesIO(data))
    except Exception:
        return None
    records = [cast(dict[str, Any], r) for r in reader]
    return [
        (r["SequenceNumber"], r["Offset"], _plain(r["SystemProperties"]),
         _plain(r["Properties"]), r["Body"])
        for r in records
    ]  # fmt: skip


def _assert_outcome(data: bytes) -> bool:
    """A CaptureFileError from both readers, or the same events from both, which fastavro
    reads to the same values; whether fastavro read them (it cannot where the header's
    schema is damaged)."""
    table = _outcome(data)
    events = _events_outcome(data)
    if table == "CaptureFileError":
        assert events == "CaptureFileError"
        return False
    assert isinstance(events, list)
    if table == "empty":
        assert events == []
    else:
        assert isinstance(table, pa.Table)
        assert [e[0] for e in events] == table["sequence_number"].to_pylist()
        assert [e[4] for e in events] == table["body"].to_pylist()
    expected = _fastavro_events(data)
    if expected is None:
        return False
    assert events == expected
    return True


def _fixtures() -> list[bytes]:
    files = [_ours("null"), _ours("deflate")]
    if AZURE_CAPTURE.is_dir():
        files += [p.read_bytes() for p in sorted(AZURE_CAPTURE.glob("*.avro"))]
    return files


FIXTURES = _fixtures()


def _header_with_schema(schema_text: bytes, codec: bytes = b"null") -> bytes:
    meta = avro_binary.long(2) + avro_binary.string("avro.codec") + avro_binary.raw(codec)
    meta += avro_binary.string("avro.schema") + avro_binary.raw(schema_text) + b"\x00"
    return b"Obj\x01" + meta + b"S" * 16


def test_a_damaged_schema_byte_is_a_capture_file_error() -> None:
    # Seen: UnicodeDecodeError from the schema text in the compiled reader.
    data = bytearray(_ours("null"))
    at = data.index(b'"SequenceNumber"') + 3
    data[at] = 0xA2
    with pytest.raises(CaptureFileError, match=r"damaged\.avro: corrupt header: avro\.schema"):
        list(read_capture_batches(io.BytesIO(bytes(data)), "damaged.avro"))


@pytest.mark.parametrize(
    ("field", "node"),
    [
        ("SystemProperties", {"type": "map"}),  # seen: KeyError 'values'
        ("Properties", {"values": ["string"]}),  # seen: KeyError 'type'
        ("Body", "bytes"),
    ],
)
def test_a_schema_missing_parts_is_a_capture_file_error(field: str, node) -> None:
    schema = json.loads(json.dumps(CAPTURE_SCHEMA))
    for f in schema["fields"]:
        if f["name"] == field:
            f["type"] = node
    data = _header_with_schema(json.dumps(schema).encode())
    with pytest.raises(
        CaptureFileError, match=rf"damaged\.avro: not an Event Hubs Capture file: {field}"
    ):
        list(read_capture_batches(io.BytesIO(data), "damaged.avro"))


def test_huge_lengths_are_refused_before_allocating() -> None:
    schema = json.dumps(CAPTURE_SCHEMA).encode()
    huge_key = b"Obj\x01" + avro_binary.long(1) + avro_binary.long(2**62)
    with pytest.raises(CaptureFileError, match="header key"):
        list(read_capture_batches(io.BytesIO(huge_key), "damaged.avro"))
    huge_block = _header_with_schema(schema) + avro_binary.long(1) + avro_binary.long(2**62)
    with pytest.raises(CaptureFileError, match="corrupt or truncated in a block after 0"):
        list(read_capture_batches(io.BytesIO(huge_block), "damaged.avro"))
    # A body length past the end of its block, inside a well-formed block.
    record = avro_binary.long(0) + avro_binary.string("0") + avro_binary.string("t")
    record += b"\x00\x00\x02" + avro_binary.long(2**62)
    block = avro_binary.long(1) + avro_binary.long(len(record)) + record + b"S" * 16
    with pytest.raises(CaptureFileError, match="runs past the block"):
        list(read_capture_batches(io.BytesIO(_header_with_schema(schema) + block), "damaged.avro"))
    endless = _header_with_schema(schema) + b"\xff" * 20
    with pytest.raises(CaptureFileError, match="longer than 64 bits"):
        list(read_capture_batches(io.BytesIO(endless), "damaged.avro"))


def test_a_codec_capture_does_not_write_is_refused() -> None:
    data = _header_with_schema(json.dumps(CAPTURE_SCHEMA).encode(), codec=b"snappy")
    with pytest.raises(CaptureFileError, match="codec 'snappy' is not one Event Hubs Capture"):
        list(read_capture_batches(io.BytesIO(data), "damaged.avro"))


def test_a_deflate_bomb_is_refused_a_window_at_a_time() -> None:
    # 64 MiB of zeros inflate from 64 KiB: read a window at a time, the first record (all
    # zeros: empty strings and maps, a null body) ends the block's one record and the rest
    # is bytes left over, counted without being held.
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = deflate.compress(b"\x00" * (64 << 20)) + deflate.flush()
    head = _header_with_schema(json.dumps(CAPTURE_SCHEMA).encode(), codec=b"deflate")
    data = head + avro_binary.long(1) + avro_binary.long(len(bomb)) + bomb + b"S" * 16
    with pytest.raises(CaptureFileError, match=f"block has {(64 << 20) - 6} bytes left"):
        list(read_capture_batches(io.BytesIO(data), "damaged.avro"))


@pytest.mark.parametrize("index", range(len(FIXTURES)))
def test_every_single_bit_flip_is_refused_or_read_as_fastavro_reads_it(index: int) -> None:
    data = FIXTURES[index]
    read_by_fastavro = 0
    for position in range(len(data)):
        for bit in (0, 7):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            read_by_fastavro += _assert_outcome(bytes(damaged))
    assert read_by_fastavro > 0  # flips in the blocks: read, so compared with fastavro


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(FIXTURES))
    return damaged(draw, data, edits=(1, 4), max_insert=12, max_overwrite=10)


@given(_mutated())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_files_are_refused_or_read_as_fastavro_reads_them(data: bytes) -> None:
    _assert_outcome(data)


_TEXT = st.text(max_size=12)
_VALUE = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    _TEXT,
    st.binary(max_size=12),
)


@given(
    st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from(
                    [
                        "cloudEvents_id",
                        "ce_id",
                        "cloudEvents:source",
                        "ce_time",
                        "content-type",
                        "x",
                    ]
                )
                | _TEXT,
                _VALUE,
                max_size=6,
            ),
            st.none() | st.binary(max_size=20),
        ),
        max_size=6,
    ),
    st.sampled_from(["null", "deflate"]),
)
@settings(max_examples=150, deadline=None)
def test_valid_files_read_as_fastavro_reads_them(rows, codec: str) -> None:
    """On files fastavro writes, the reader's values are fastavro's (an independent
    decoder)."""
    records = [
        {
            "SequenceNumber": i,
            "Offset": str(i),
            "EnqueuedTimeUtc": "3/1/2026 12:00:00 PM",
            "SystemProperties": {"x-opt-enqueued-time": 1_772_366_400_000 + i},
            "Properties": props,
            "Body": body,
        }
        for i, (props, body) in enumerate(rows)
    ]
    stream = io.BytesIO()
    fastavro.writer(stream, fastavro.parse_schema(CAPTURE_SCHEMA), records, codec=codec)
    data = stream.getvalue()
    events = list(read_capture(io.BytesIO(data), "f.avro"))
    assert [e.properties for e in events] == [r["Properties"] for r in records]
    assert [e.body for e in events] == [r["Body"] for r in records]
    assert _assert_outcome(data)
