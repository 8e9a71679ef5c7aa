"""Reading a table's change feed: a feed that is gone (vacuumed, its log cleaned up) is
"unavailable", and the callers read the whole snapshot; any other failure raises as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import DeltaError

from eda_lake.lake.delta import tables
from eda_lake.lake.delta.tables import ChangeFeedUnavailableError, all_changes, inserted_batches

APPENDS = 4  # versions 0..3, two rows each


def _table(tmp_path: Path) -> DeltaTable:
    uri = str(tmp_path / "t")
    for version in range(APPENDS):
        rows = pa.table({"n": pa.array([version, 10 + version], pa.int64())})
        write_deltalake(uri, rows, mode="append", configuration=tables.CHANGE_FEED)
    return DeltaTable(uri)


def _inserted(table: DeltaTable, after: int | None) -> list[int]:
    batches = inserted_batches(table, after, table.version(), ["n"])
    return sorted(n for batch in batches for n in batch["n"].to_pylist())


def _all_changes(table: DeltaTable, after: int | None) -> list[int]:
    return sorted(all_changes(table, after, table.version())["n"].to_pylist())


READERS = [_inserted, _all_changes]


@pytest.mark.parametrize("read", READERS)
def test_the_versions_asked_for_and_nothing_when_nothing_is_new(tmp_path: Path, read) -> None:
    table = _table(tmp_path)
    assert read(table, None) == [0, 1, 2, 3, 10, 11, 12, 13]
    assert read(table, 1) == [2, 3, 12, 13]
    assert read(table, table.version()) == []


@pytest.mark.parametrize("read", READERS)
def test_a_vacuumed_feed_is_unavailable(tmp_path: Path, read) -> None:
    table = _table(tmp_path)
    table.optimize.compact()
    table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
    with pytest.raises(ChangeFeedUnavailableError, match=r"Object at location .* not found"):
        read(DeltaTable(table.table_uri), None)


@pytest.mark.parametrize("read", READERS)
def test_a_feed_whose_log_was_cleaned_up_is_unavailable_not_empty(tmp_path: Path, read) -> None:
    table = _table(tmp_path)
    table.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
    table = DeltaTable(table.table_uri)
    table.create_checkpoint()
    table.cleanup_metadata()
    with pytest.raises(ChangeFeedUnavailableError, match="Invalid table version: 0"):
        read(DeltaTable(table.table_uri), None)


@pytest.mark.parametrize("read", READERS)
def test_a_storage_error_opening_the_feed_is_raised_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read
) -> None:
    table = _table(tmp_path)
    refused = "Generic MicrosoftAzure error: error sending request: Connection refused"

    def storage_refuses(*args: Any, **kwargs: Any) -> Any:
        raise DeltaError(refused)

    monkeypatch.setattr(DeltaTable, "load_cdf", storage_refuses)
    with pytest.raises(DeltaError, match="Connection refused"):
        read(table, None)


def test_a_storage_error_while_reading_the_feed_is_raised_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table(tmp_path)
    load_cdf = DeltaTable.load_cdf

    def fails_after_the_first_batch(self: DeltaTable, **kwargs: Any) -> pa.RecordBatchReader:
        feed = pa.RecordBatchReader.from_stream(load_cdf(self, **kwargs))

        def batches() -> Any:
            yield feed.read_next_batch()
            raise pa.ArrowIOError("Generic LocalFileSystem error: Permission denied (os error 13)")

        return pa.RecordBatchReader.from_batches(feed.schema, batches())

    monkeypatch.setattr(DeltaTable, "load_cdf", fails_after_the_first_batch)
    with pytest.raises(OSError, match="Permission denied"):
        _inserted(table, None)


def test_a_damaged_data_file_is_raised_not_unavailable(tmp_path: Path) -> None:
    table = _table(tmp_path)
    Path(table.file_uris()[0]).write_bytes(b"not parquet" * 100)
    with pytest.raises(pa.ArrowException, match="Parquet"):
        _inserted(DeltaTable(table.table_uri), None)
