"""Big capture files land in bronze; a file holding an event over the limit is quarantined
with a reason naming the limit and the setting, and lands once the setting is raised."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.capture.big_files import capture_path, write_big_capture

MIB = 1 << 20


def _bronze_bodies(lake: Lake) -> list[tuple[str, int, int]]:
    """(source file, events, body bytes) per file in bronze, read by DuckDB a row group at a
    time (DataFusion casts binary to text for its length)."""
    table = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert table is not None
    files = [uri.removeprefix("file://") for uri in table.file_uris()]
    rows = (
        duckdb.connect()
        .execute(
            "SELECT source_file, count(*), sum(octet_length(body)) FROM read_parquet($files) "
            "GROUP BY source_file ORDER BY source_file",
            {"files": files},
        )
        .fetchall()
    )
    return [(source, count, int(size)) for source, count, size in rows]


@pytest.mark.slow
def test_a_file_of_more_than_2_gib_of_1_mib_bodies_lands(tmp_path: Path) -> None:
    # 2,100 events of 1 MiB in one 2.2 GB file: one batch of them would pass 2 GiB in its
    # body column; bronze cuts batches by bytes, so the file lands whole.
    root = tmp_path / "capture"
    path = write_big_capture(capture_path(root), [MIB] * 2100)
    lake = Lake(Settings(home=tmp_path / "home"))
    report = lake.ingest(str(root))
    assert report.quarantined == []
    assert report.rows == 2100
    relative = path.relative_to(root).as_posix()
    assert _bronze_bodies(lake) == [(relative, 2100, 2100 * MIB)]


def test_an_event_over_the_limit_quarantines_its_file_until_the_limit_is_raised(
    tmp_path: Path,
) -> None:
    root = tmp_path / "capture"
    small = write_big_capture(capture_path(root, partition="0"), [100, MIB - 300, 100])
    big = write_big_capture(capture_path(root, partition="1"), [100, 2 * MIB, 100])
    home = tmp_path / "home"
    report = Lake(Settings(home=home, max_event_mib=1)).ingest(str(root))
    big_path = big.relative_to(root).as_posix()
    assert report.files_ingested == 1 and report.rows == 3
    [reason] = report.quarantined
    assert reason.startswith(f"{big_path}: {big_path}: event 2 takes at least 2,097,")
    assert "over the limit of 1,048,576 bytes (1 MiB) per event" in reason
    assert "raise EDA_LAKE_MAX_EVENT_MIB" in reason and "corrupt" not in reason
    lake = Lake(Settings(home=home, max_event_mib=1))
    assert set(lake.quarantine.quarantined_files()) == {big_path}
    # The same file, retried with the limit raised: it lands and is resolved.
    raised = Lake(Settings(home=home, max_event_mib=4))
    retried = raised.recovery.retry_quarantine(files=True, events=False, capture_root=str(root))
    assert retried.files_resolved == 1 and retried.files_still_quarantined == 0
    assert _bronze_bodies(raised) == [
        (small.relative_to(root).as_posix(), 3, 200 + MIB - 300),
        (big_path, 3, 200 + 2 * MIB),
    ]
