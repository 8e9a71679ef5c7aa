"""The data file writer bounds its row groups and its queue in bytes, not only in rows."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from eda_lake.lake.delta import commits, data_files, tables
from eda_lake.lake.delta.data_files import DataFileWriter

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


def test_statistics_are_in_deltas_json_form_and_hold_every_value(tmp_path: Path) -> None:
    utc = UTC
    late = datetime(2024, 5, 6, 7, 8, 9, 456789, utc)  # finer than a millisecond
    schema = pa.schema([
        ("id", pa.string()), ("n", pa.int64()), ("day", pa.date32()),
        ("at", pa.timestamp("us", "UTC")), ("amount", pa.float64()),
        ("tags", pa.list_(pa.string())), ("local", pa.timestamp("us")),
    ])  # fmt: skip
    rows = pa.table({
        "id": ["b", "a", None], "n": [3, 1, 2],
        "day": [date(2024, 1, 2), date(2024, 1, 1), None],
        "at": [datetime(2024, 5, 6, 7, 8, 9, 123456, utc), late, None],
        "amount": [1.5, float("nan"), 2.0], "tags": [["x"], [], None],
        "local": [datetime(2024, 1, 1), None, None],
    }, schema=schema)  # fmt: skip
    assert data_files.statistics_columns(schema) == ("id", "n", "day", "at")
    uri = str(tmp_path / "t")
    table = commits.ensure_table(uri, schema)
    writer = DataFileWriter(
        pafs.LocalFileSystem(), uri, schema, [],
        stats_columns=data_files.statistics_columns(schema), target_bytes=1 << 40,
    )  # fmt: skip
    writer.write(rows.to_batches()[0], {})
    [action] = writer.finish()
    stats = json.loads(action.stats)
    assert stats["minValues"] == {
        "id": "a", "n": 1, "day": "2024-01-01", "at": "2024-05-06T07:08:09.123Z"
    }  # fmt: skip
    assert stats["maxValues"] == {
        "id": "b", "n": 3, "day": "2024-01-02", "at": "2024-05-06T07:08:09.457Z"
    }  # fmt: skip
    assert stats["nullCount"] == {"id": 1, "n": 0, "day": 1, "at": 1}
    commits.commit_files(
        table, schema, [action], partition_by=[], inputs={}, app_transactions={},
        metadata={}, mode="append",
    )  # fmt: skip
    opened = tables.open_table(uri)
    assert opened is not None
    # Delta's reader takes the file with these statistics and finds the latest value.
    found = tables.query(
        f"SELECT n FROM t WHERE at >= TIMESTAMP '{late.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z' "
        "AND day <= DATE '2024-01-01'",
        t=opened,
    )
    assert found["n"].to_pylist() == [1]


def test_an_overwrite_that_brings_a_column_without_time_zone_leaves_the_table_readable(
    tmp_path: Path,
) -> None:
    """delta-rs's create_write_transaction replaces the schema, never the protocol: a
    timestamp without zone committed to a table without the timestampNtz feature landed, and
    the table could not be opened again (a silver column read as local-timestamp-micros, a
    change the registry accepts, makes an entity's next whole build do this)."""
    uri = str(tmp_path / "t")
    before = pa.schema([("id", pa.string()), ("at", pa.timestamp("us", "UTC"))])
    table = commits.ensure_table(uri, before, configuration=tables.CHANGE_FEED)
    after = pa.schema([("id", pa.string()), ("at", pa.timestamp("us"))])
    rows = pa.table({"id": ["a"], "at": [datetime(2024, 1, 1)]}, schema=after)

    def overwrite(table: Any) -> int:
        writer = DataFileWriter(
            pafs.LocalFileSystem(), uri, after, [],
            stats_columns=data_files.statistics_columns(after), target_bytes=1 << 40,
        )  # fmt: skip
        try:
            writer.write(rows.to_batches()[0], {})
            return writer.land(
                lambda files: commits.commit_files(
                    table,
                    after,
                    files,
                    partition_by=[],
                    inputs={"silver.x": 1},
                    app_transactions={},
                    metadata={},
                    mode="overwrite",
                ),
                lambda: tables.open_table(uri),
            )
        finally:
            writer.abort()

    with pytest.raises(commits.ConcurrentCommitError):  # the protocol first: decide again
        overwrite(table)
    opened = tables.open_table(uri)
    assert opened is not None
    overwrite(opened)
    opened = tables.open_table(uri)
    assert opened is not None
    assert {"timestampNtz", "changeDataFeed"} <= set(opened.protocol().writer_features or [])
    assert opened.metadata().configuration == tables.CHANGE_FEED
    assert tables.query("SELECT id, at FROM t", t=opened).to_pylist() == [
        {"id": "a", "at": datetime(2024, 1, 1)}
    ]
    assert len({f.name for f in tmp_path.joinpath("t").glob("*.parquet")}) == 1  # no stray


def test_files_of_a_commit_that_landed_are_kept_when_a_later_commit_removed_them(
    tmp_path: Path,
) -> None:
    """An overwrite lands but its answer is lost, and a rebuild beside it replaces every file
    before `land` looks: the table no longer holds the files, its log's version does."""
    uri = str(tmp_path / "t")
    schema = pa.schema([("k", pa.string()), ("n", pa.int64())])
    table = commits.ensure_table(uri, schema, configuration=tables.CHANGE_FEED)
    first = commits.commit(
        table, commits.Write(schema, pa.table({"k": ["a"], "n": [1]}, schema=schema)), {}
    )
    writer = DataFileWriter(
        pafs.LocalFileSystem(), uri, schema, [], stats_columns=("k", "n"), target_bytes=1 << 40
    )
    writer.write(pa.record_batch({"k": ["a"], "n": [2]}, schema=schema), {})

    def lands_then_answer_lost(files: list[Any]) -> int:
        commits.commit_files(
            table, schema, files, partition_by=[], inputs={"silver.x": 2},
            app_transactions={}, metadata={}, mode="overwrite",
        )  # fmt: skip
        rebuild = tables.open_table(uri)
        assert rebuild is not None
        rows = pa.table({"k": ["a"], "n": [3]}, schema=schema)
        commits.commit(rebuild, commits.Write(schema, rows, mode="overwrite"), {"silver.x": 3})
        raise commits.ConcurrentCommitError("version already exists")

    try:
        landed = writer.land(lands_then_answer_lost, lambda: tables.open_table(uri), since=first)
    finally:
        writer.abort()
    assert landed == first + 2  # its refusal was its success
    opened = tables.open_table(uri)
    assert opened is not None
    assert len(tables.all_changes(opened, first, opened.version())) == 4  # both versions read
