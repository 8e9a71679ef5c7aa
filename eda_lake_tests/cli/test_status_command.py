"""`eda-lake status` as a user runs it: a table for a person, JSON for a tool, and one line
with the way out where there is no lake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.lake.status import table_names
from eda_lake.settings import Settings


def test_status_without_a_lake_is_one_line_with_the_way_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = Path(os.environ["EDA_LAKE_HOME"])
    for output in ("text", "json"):
        assert main(["status", "--format", output]) == 2
        seen = capsys.readouterr()
        assert seen.out == ""
        [line] = seen.err.splitlines()
        assert line.startswith(f"eda-lake: error: no lake at {home / 'lake'}")
        assert "provision, capture, ingest" in line
    assert not home.exists()  # a status creates nothing


def test_status_of_an_empty_lake_as_a_table_and_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings.from_env()
    LakeLayout.from_settings(settings).create()
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "capture files    no files pending ingestion (listed 120 min back)" in text
    assert "quarantine       no files, no events not resolved" in text
    for name in table_names(Lake(settings)):
        assert f"{name}" in text
    assert text.count("not built yet") == len(table_names(Lake(settings)))

    assert main(["status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status) == {
        "lake", "checked_at", "newest_captured", "capture", "quarantined_files",
        "quarantined_events", "tables",
    }  # fmt: skip
    assert status["newest_captured"] is None and status["capture"]["pending_files"] == 0
    assert [t["table"] for t in status["tables"]] == table_names(Lake(settings))
    for table in status["tables"]:
        assert set(table) == {"table", "version", "rows", "last_commit", "newest_event", "lag_s"}
        assert table["version"] is None and table["lag_s"] is None


def test_status_lines_give_lags_in_a_persons_units_and_name_an_unknown_watermark() -> None:
    from datetime import UTC, datetime

    from eda_lake.console.freshness import status_lines
    from eda_lake.lake.status import CaptureStatus, LakeStatus, TableStatus

    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    status = LakeStatus(
        lake="/lake",
        checked_at=at,
        newest_captured=at,
        capture=CaptureStatus(120, "ns/hub/0/2026/11/02/08/55/00.avro", at, 2, at),
        quarantined_files=1,
        quarantined_events=0,
        tables=(
            TableStatus("bronze.events", 3, 10, at, at, 0.0),
            TableStatus("silver.customers", 2, 5, at, at, 150.0),
            TableStatus("gold.funnel_daily", 1, 4, at, None, None),
            TableStatus("gold.sales_daily", None, None, None, None, None),
        ),
    )
    lines = status_lines(status)
    assert "2 files pending ingestion, the oldest of the window 2026-11-02 09:00:00" in lines[2]
    assert "1 file, no events not resolved" in lines[3]
    rows = {line.split()[0]: line for line in lines[5:] if line}
    assert rows["bronze.events"].split()[-4:] == ["2026-11-02", "09:00:00", "0.0", "s"]
    assert rows["silver.customers"].endswith(" 2.5 min")
    assert rows["gold.funnel_daily"].split()[-2:] == ["unknown", "-"]
    assert "not built yet" in rows["gold.sales_daily"]
    assert lines[-1].startswith("unknown: committed before the lake kept")
