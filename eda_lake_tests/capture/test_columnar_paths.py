"""The compiled and the pure-Python capture readers give the same batches."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from eda_lake.capture import fast_columnar
from eda_lake.capture.batches import read_capture_batches
from eda_lake.capture.columnar import read_pure_batches
from eda_lake.capture.reader import CaptureFileError
from eda_lake.capture.writer import write_capture
from eda_lake.hub.base import PropertyValue, ReceivedEvent

needs_native = pytest.mark.skipif(
    not fast_columnar.available(), reason="compiled decoder not built"
)


def _table(reader, data: bytes) -> pa.Table:
    batches = list(reader(io.BytesIO(data), "f.avro", 3))
    return pa.Table.from_batches(batches) if batches else pa.table({})


def _events() -> list[ReceivedEvent]:
    moment = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    properties: list[dict[str, PropertyValue]] = [
        {"cloudEvents_id": "a", "cloudEvents_source": "/s", "cloudEvents_type": "t",
         "cloudEvents_time": "2026-03-01T12:00:00Z", "cloudEvents_dataschema": "https://x/$schemas/abc"},
        {"cloudEvents:id": b"legacy", "cloudEvents:source": "/old", "n": 5, "f": 0.25, "z": None},
        {"content-type": "avro/binary+def", "cloudEvents_time": "not a time"},
        {"cloudEvents_id": "x", "cloudEvents:id": "y"},  # the first one wins in both paths
        {},
    ]  # fmt: skip
    return [
        ReceivedEvent("h", "0", i, i * 10, moment, None if i == 4 else f"k{i}",
                      "avro/binary+0a1b" if i == 0 else None, props, bytes([i]) * i)
        for i, props in enumerate(properties)
    ]  # fmt: skip


@needs_native
@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_same_batches_on_our_files(codec: str) -> None:
    stream = io.BytesIO()
    write_capture(stream, _events(), codec)
    fast, pure = (
        _table(read_capture_batches, stream.getvalue()),
        _table(read_pure_batches, stream.getvalue()),
    )
    assert fast.equals(pure), fast.to_pylist()
    assert fast["schema_id"].to_pylist() == ["0a1b", None, "def", None, None]
    assert fast["ce_id"].to_pylist() == ["a", "legacy", None, "x", None]


@needs_native
def test_same_batches_on_azure_files(azure_capture_dir: Path) -> None:
    for path in sorted(azure_capture_dir.glob("*.avro")):
        data = path.read_bytes()
        assert _table(read_capture_batches, data).equals(_table(read_pure_batches, data)), path.name


@pytest.mark.parametrize("reader", [read_capture_batches, read_pure_batches])
def test_both_paths_name_corrupt_files(reader, azure_capture_dir: Path) -> None:
    data = (azure_capture_dir / "meteredbilling_capture_p9--2022-12-09--16-50-12.avro").read_bytes()
    with pytest.raises(CaptureFileError, match=r"cut\.avro: corrupt or truncated"):
        list(reader(io.BytesIO(data[:-20]), "cut.avro"))
    with pytest.raises(CaptureFileError, match=r"junk\.avro: not an Avro container"):
        list(reader(io.BytesIO(b"nope"), "junk.avro"))
