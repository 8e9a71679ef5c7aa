"""The capture batch reader's columns: the attributes it finds on our files, the values
fastavro reads on Azure's, and one error line naming a damaged file."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import fastavro
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.reader import CaptureFileError
from eda_lake.capture.writer import write_capture
from eda_lake.hub.base import PropertyValue, ReceivedEvent
from eda_lake.shared.trace_context import parse


def _table(data: bytes) -> pa.Table:
    batches = list(read_capture_batches(io.BytesIO(data), "f.avro", 3))
    return pa.Table.from_batches(batches) if batches else pa.table({})


def _events() -> list[ReceivedEvent]:
    moment = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    properties: list[dict[str, PropertyValue]] = [
        {"cloudEvents_id": "a", "cloudEvents_source": "/s", "cloudEvents_type": "t",
         "cloudEvents_time": "2026-03-01T12:00:00Z", "cloudEvents_dataschema": "https://x/$schemas/abc"},
        {"cloudEvents:id": b"legacy", "cloudEvents:source": "/old", "n": 5, "f": 0.25, "z": None},
        {"content-type": "avro/binary+def", "cloudEvents_time": "not a time"},
        {"cloudEvents_id": "x", "cloudEvents:id": "y"},  # the first one wins
        {},
    ]  # fmt: skip
    return [
        ReceivedEvent("h", "0", i, i * 10, moment, None if i == 4 else f"k{i}",
                      "avro/binary+0a1b" if i == 0 else None, props, bytes([i]) * i)
        for i, props in enumerate(properties)
    ]  # fmt: skip


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_our_files_give_their_attributes(codec: str) -> None:
    stream = io.BytesIO()
    write_capture(stream, _events(), codec)
    table = _table(stream.getvalue())
    assert table["sequence_number"].to_pylist() == [0, 1, 2, 3, 4]
    assert table["schema_id"].to_pylist() == ["0a1b", None, "def", None, None]
    assert table["ce_id"].to_pylist() == ["a", "legacy", None, "x", None]
    assert table["ce_source"].to_pylist() == ["/s", "/old", None, None, None]
    assert table["ce_type"].to_pylist() == ["t", None, None, None, None]
    assert table["ce_time"].to_pylist() == [datetime(2026, 3, 1, 12, tzinfo=UTC)] + [None] * 4
    assert table["partition_key"].to_pylist() == ["k0", "k1", "k2", "k3", None]
    assert table["body"].to_pylist() == [bytes([i]) * i for i in range(5)]
    moment = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert table["enqueued_time"].to_pylist() == [moment] * 5
    n, f, z = table["properties"].to_pylist()[1][2:]
    assert (n[1]["long"], f[1]["double"], z[1]) == (5, 0.25, None)


def test_azure_files_give_the_values_fastavro_reads(azure_capture_dir: Path) -> None:
    for path in sorted(azure_capture_dir.glob("*.avro")):
        data = path.read_bytes()
        records = [cast(dict[str, Any], r) for r in fastavro.reader(io.BytesIO(data))]
        table = _table(data)
        assert table.num_rows == len(records), path.name
        if not records:
            continue
        assert table["sequence_number"].to_pylist() == [r["SequenceNumber"] for r in records]
        assert table["offset"].to_pylist() == [r["Offset"] for r in records]
        assert table["body"].to_pylist() == [r["Body"] for r in records]
        for row, record in zip(table["system_properties"].to_pylist(), records, strict=True):
            values = {k: next(x for x in v.values() if x is not None) for k, v in row}
            assert values == record["SystemProperties"], path.name


def test_corrupt_files_are_named(azure_capture_dir: Path) -> None:
    data = (azure_capture_dir / "meteredbilling_capture_p9--2022-12-09--16-50-12.avro").read_bytes()
    with pytest.raises(CaptureFileError, match=r"cut\.avro: corrupt or truncated"):
        list(read_capture_batches(io.BytesIO(data[:-20]), "cut.avro"))
    with pytest.raises(CaptureFileError, match=r"junk\.avro: not an Avro container"):
        list(read_capture_batches(io.BytesIO(b"nope"), "junk.avro"))


TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def _trace_ids(
    values: Sequence[PropertyValue], key: str = "cloudEvents_traceparent"
) -> list[str | None]:
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    events = [
        ReceivedEvent("h", "0", i, i, moment, None, None, {key: v} if v is not None else {}, b"")
        for i, v in enumerate(values)
    ]
    stream = io.BytesIO()
    write_capture(stream, events, "null")
    found: list[str | None] = _table(stream.getvalue())["trace_id"].to_pylist()
    return found


def test_the_trace_id_is_read_from_traceparent_under_every_prefix() -> None:
    header = f"00-{TRACE}-{SPAN}-01"
    for key in ("cloudEvents_traceparent", "cloudEvents:traceparent", "ce_traceparent"):
        assert _trace_ids([header, header.encode()], key) == [TRACE, TRACE]
    assert _trace_ids([header], "traceparent") == [None]  # no CloudEvents attribute
    foreign = [None, "", "garbage", b"\xff\xfe", f"00-{'0' * 32}-{SPAN}-01",
               f"ff-{TRACE}-{SPAN}-01", f" 00-{TRACE.upper()}-{SPAN}-00 \n"]  # fmt: skip
    assert _trace_ids(foreign) == [None] * 6 + [TRACE]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=70),
        st.builds(
            lambda v, t, s, f, tail: f"{v}-{t}-{s}-{f}{tail}",
            st.sampled_from(["00", "01", "ff", "fe", "0F", "g0"]),
            st.sampled_from([TRACE, TRACE.upper(), "0" * 32, TRACE[:-1]]),
            st.sampled_from([SPAN, "0" * 16, SPAN + "0"]),
            st.sampled_from(["01", "00", "zz"]),
            st.sampled_from(["", "-x", "x", " ", "\n-more"]),
        ),
    )
)
def test_the_column_reads_traceparent_as_parse_does(header: str) -> None:
    parsed = parse(header)
    assert _trace_ids([header]) == [None if parsed is None else parsed.trace_id]
