"""Whether a capture file is in bronze is read from the few data files that may hold it: each
stream's rows have data files of their own, and the add actions' `source_file` statistics
rule out the rest, also once compaction has merged streams and shortened the statistics."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable, write_deltalake

from eda_lake.analytics.sql import LakeSql
from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.delta import file_lookup, tables
from eda_lake.lake.discovery.listing import CaptureFile, discover_all
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.maintenance.compaction import compact_bronze
from eda_lake_tests.lake.helpers import NAMES, bronze_rows, ingest, synthetic_container


def _bronze(layout: LakeLayout) -> DeltaTable:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    return table


def _ranges(layout: LakeLayout) -> list[tuple[str, str]]:
    actions = pa.table(_bronze(layout).get_add_actions(flatten=True))
    return list(
        zip(
            actions["min.source_file"].to_pylist(),
            actions["max.source_file"].to_pylist(),
            strict=True,
        )
    )


def test_each_stream_has_data_files_of_its_own(tmp_path: Path, layout: LakeLayout) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=12, events_per_file=10, partitions=4)  # 3 windows each
    assert ingest(layout, root).commits == 1
    ranges = _ranges(layout)
    assert len(ranges) == 4
    streams = [(low.split("/")[2], high.split("/")[2]) for low, high in ranges]
    assert all(low == high for low, high in streams)  # one partition id per data file
    assert len({low for low, _ in streams}) == 4


def _in_time_order(root: Path) -> list[CaptureFile]:
    """The container's files as they arrive: a window of every partition after another."""
    files = discover_all(pafs.LocalFileSystem(), str(root), NAMES)
    return sorted(files, key=lambda f: (f.archive.window_time, f.path) if f.archive else ())


def _files_opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    read = file_lookup._values_in_file

    def recording(layout: LakeLayout, path: str, column: str, admitted: list[str]) -> set[str]:
        opened.append(path)
        return read(layout, path, column, admitted)

    monkeypatch.setattr(file_lookup, "_values_in_file", recording)
    return opened


def test_the_decision_opens_only_the_data_files_that_may_hold_a_file(
    tmp_path: Path, layout: LakeLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=32, events_per_file=5, partitions=4)  # 8 windows
    files = _in_time_order(root)
    ingestor = BronzeIngestor(layout, pafs.LocalFileSystem(), str(root))
    for start in range(0, 24, 4):  # six runs of one window each: 24 data files in one day
        ingestor.ingest(files[start : start + 4])
    assert len(_bronze(layout).file_uris()) == 24
    opened = _files_opened(monkeypatch)
    in_bronze, new = files[23], files[24]
    assert ingestor.new_files([in_bronze, new]) == [new]
    assert len(opened) == 1  # the data file holding `in_bronze`; none may hold `new`


@pytest.mark.parametrize("compact", [False, True])
def test_files_are_found_whatever_their_statistics(
    tmp_path: Path, layout: LakeLayout, compact: bool
) -> None:
    """Paths longer than 64 characters: delta-rs's compaction keeps shortened bounds."""
    root = tmp_path / "container"
    events = synthetic_container(root, files=16, events_per_file=5, namespace="n" * 50)
    files = _in_time_order(root)
    ingestor = BronzeIngestor(layout, pafs.LocalFileSystem(), str(root))
    for start in range(0, 16, 4):
        ingestor.ingest(files[start : start + 4])
    if compact:
        assert compact_bronze(layout).files_removed == 16
        assert all(len(high) < len(files[0].path) for _, high in _ranges(layout))
    assert ingestor.new_files(files) == []
    again = ingest(layout, root)
    assert (again.files_ingested, again.files_already_ingested) == (0, 16)
    assert len(bronze_rows(layout)) == events


def test_data_files_without_statistics_are_read(tmp_path: Path) -> None:
    """Another writer's table that keeps no column statistics: nothing can be ruled out."""
    layout = LakeLayout(tmp_path / "lake")
    uri = layout.table_uri("silver", "plain")
    for day, names in (("2026-11-01", ["a", "b"]), ("2026-11-02", ["c"])):
        write_deltalake(
            uri,
            pa.table({"day": [day] * len(names), "name": names}),
            mode="append",
            partition_by=["day"],
            configuration={"delta.dataSkippingNumIndexedCols": "0"},
        )
    table = DeltaTable(uri)
    assert "min.name" not in pa.table(table.get_add_actions(flatten=True)).column_names
    wanted: dict[file_lookup.Partition, list[str]] = {
        (("day", "2026-11-01"),): ["a", "c", "z"],
        (("day", "2026-11-02"),): ["c"],
    }
    root = layout.fs_path("silver", "plain")
    assert file_lookup.values_present(table, layout.fs, root, "name", wanted) == {"a", "c"}


def test_a_lake_under_a_name_that_needs_quoting_in_a_uri(tmp_path: Path) -> None:
    """Delta lists its files URI-encoded: a space, an umlaut and a '#' in the lake's path."""
    layout = LakeLayout(tmp_path / "my lake ü#1" / "lake")
    root = tmp_path / "container"
    events = synthetic_container(root, files=8, events_per_file=5)
    assert ingest(layout, root).files_ingested == 8
    again = ingest(layout, root)
    assert (again.files_ingested, again.files_already_ingested) == (0, 8)
    sql = LakeSql(layout)
    try:
        [(count,)] = list(sql.query("SELECT count(*) FROM bronze.events").rows)
    finally:
        sql.close()
    assert count == events
