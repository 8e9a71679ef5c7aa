"""`lake_status`: each table's lag behind the newest captured event, the capture files not
ingested yet and the quarantine, read from the tables' logs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import write_deltalake

from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.delta.metadata import null_count, row_count
from eda_lake.lake.discovery.listing import discover_all
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.lake.status import lake_status, table_names
from eda_lake.settings import Settings
from eda_lake_tests.lake.helpers import NAMES
from eda_lake_tests.lake.test_silver_and_gold import KEY, _capture, _lake_after_chain


def _capture_files(settings: Settings) -> set[str]:
    root = str(settings.capture_dir.resolve())
    return {f.path for f in discover_all(pafs.LocalFileSystem(), root, NAMES)}


def test_status_shows_each_tables_lag_the_pending_files_and_the_quarantine(
    lake_settings: Settings,
) -> None:
    simulation, _, lake = _lake_after_chain(lake_settings, customers=30)
    silver_uri = lake.layout.table_uri("silver", "customer_created")
    silver = tables.open_table(silver_uri, lake.layout.storage_options)
    assert silver is not None
    taken_in = freshness.watermark(silver)
    assert taken_in is not None
    # newer events reach bronze, not silver: silver and gold fall behind
    simulation.publish_customers(seed=94, count=3)
    _capture(lake_settings, simulation)
    broken = lake_settings.capture_dir / "eda-lake-local/customer-created/0/2026/11/01/00/00"
    broken.mkdir(parents=True)
    (broken / "00.avro").write_bytes(b"not an avro file")
    lake.ingest()
    # and newer still are captured, not ingested
    listed = _capture_files(lake_settings)
    simulation.publish_customers(seed=95, count=2)
    _capture(lake_settings, simulation)
    captured = _capture_files(lake_settings) - listed

    status = lake_status(lake)
    assert [t.table for t in status.tables] == table_names(lake)
    assert status.capture.pending_files == len(captured) > 0
    assert status.capture.newest_file is not None and status.capture.newest_window is not None
    assert status.quarantined_files == 1 and status.quarantined_events == 0
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    newest_in_bronze = freshness.newest_in_files(bronze, "enqueued_time")
    assert newest_in_bronze is not None and newest_in_bronze > taken_in
    assert status.newest_captured == max(newest_in_bronze, status.capture.newest_window)
    by_name = {t.table: t for t in status.tables}
    assert by_name["bronze.events"].rows == row_count(bronze)
    behind = (status.newest_captured - taken_in).total_seconds()
    for name in ("silver.customer_created", "silver.customers", "gold.funnel_daily"):
        table = by_name[name]
        assert table.newest_event == taken_in, name
        assert table.lag_s == behind > 0, name
        assert table.last_commit is not None and table.version is not None
    assert status.to_json()["tables"][0]["newest_event"].endswith("Z")


def test_status_of_an_empty_lake_names_every_table_not_built(settings: Settings) -> None:
    LakeLayout.from_settings(settings).create()
    status = lake_status(Lake(settings, pii_key=KEY))
    assert status.tables and all(t.version is None and t.lag_s is None for t in status.tables)
    assert status.newest_captured is None
    assert status.capture.pending_files == 0
    assert status.quarantined_files == status.quarantined_events == 0


def test_null_counts_come_from_the_log_or_from_the_column_where_files_have_no_statistics(
    tmp_path: Path,
) -> None:
    rows = pa.table({"item": ["a", "b", "c"], "resolved_at": [None, 1, None]})
    for name, indexed in (("with_stats", "32"), ("without_stats", "0")):
        write_deltalake(
            str(tmp_path / name), rows, configuration={"delta.dataSkippingNumIndexedCols": indexed}
        )
        table = tables.open_table(str(tmp_path / name))
        assert table is not None
        actions = pa.table(table.get_add_actions(flatten=True))
        assert ("null_count.resolved_at" in actions.column_names) == (indexed != "0")
        assert null_count(table, "resolved_at") == 2, name
