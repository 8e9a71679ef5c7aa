"""The data file writer bounds its row groups and its queue in bytes, not only in rows."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from eda_lake.lake import data_files
from eda_lake.lake.data_files import DataFileWriter

MIB = 1 << 20
SCHEMA = pa.schema([("part", pa.string()), ("body", pa.binary())])


def _batch(size: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(["a"]), pa.array([b"x" * size], pa.binary())], schema=SCHEMA
    )


def _writer(root: Path) -> DataFileWriter:
    return DataFileWriter(
        pafs.LocalFileSystem(), str(root), SCHEMA, ["part"], stats_columns=(),
        target_bytes=1 << 40,
    )  # fmt: skip


def test_row_groups_end_at_row_group_bytes(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    for _ in range(40):
        writer.write(_batch(MIB), {"part": "a"})
    [action] = writer.finish()
    metadata = pq.ParquetFile(tmp_path / action.path).metadata
    rows = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sum(rows) == 40
    assert max(rows) <= data_files.ROW_GROUP_BYTES // MIB, rows


def test_a_batch_of_queue_bytes_is_written_before_write_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer thread's work is held until the test lets it go: write() of a batch as large
    # as QUEUE_BYTES must wait for it, one smaller must not.
    monkeypatch.setattr(data_files, "QUEUE_BYTES", 4 * MIB)
    gate = threading.Event()
    original = DataFileWriter._buffer

    def held(self: DataFileWriter, *args: object) -> None:
        gate.wait(timeout=30)
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(DataFileWriter, "_buffer", held)
    writer = _writer(tmp_path)
    writer.write(_batch(MIB), {"part": "a"})  # returns: 1 MiB queued
    returned = threading.Event()

    def big() -> None:
        writer.write(_batch(4 * MIB), {"part": "a"})
        returned.set()

    thread = threading.Thread(target=big)
    thread.start()
    assert not returned.wait(timeout=0.5)  # 5 MiB queued or being written: it waits
    gate.set()
    assert returned.wait(timeout=30)
    thread.join()
    assert len(writer.finish()) == 1
