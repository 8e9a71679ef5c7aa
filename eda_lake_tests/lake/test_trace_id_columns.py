"""The trace id in bronze and silver, and lakes written before it taking the column in place:
no rebuild, nothing rewritten, beside concurrent writers and a SIGKILL between commits."""

from __future__ import annotations

import os
import signal
import tarfile
from pathlib import Path

import pyarrow as pa
import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.evolution import pending_upgrades
from eda_lake.settings import Settings
from eda_lake.shared.trace_context import root_context
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.lake.release_lake import FIXTURES, PII_KEY, lake_tables
from eda_lake_tests.processes import run_together

RELEASE = sorted(FIXTURES.glob("lake-made-by-*.tar.gz"))[-1]  # written before the trace id
SEED = 77


@pytest.fixture
def released(tmp_path: Path) -> Lake:
    with tarfile.open(RELEASE) as archive:
        archive.extractall(tmp_path / "released", filter="data")
    return Lake(Settings(home=tmp_path / "released" / "home"), pii_key=PII_KEY)


def _publish_new_customers(lake: Lake, count: int = 5) -> None:
    simulation = Simulation(lake.settings)
    try:
        simulation.publish_customers(seed=SEED, count=count)
    finally:
        simulation.close()
    run_capture(lake.settings, flush=True)


def _rows(lake: Lake, name: str, sql: str) -> pa.Table:
    """`sql` over the table `name` (`bronze`, `silver.customer_created`) as `t`."""
    return tables.query(sql, t=lake_tables(lake)[name])


def _columns(lake: Lake, name: str) -> list[str]:
    return [n for n, _ in tables.delta_columns(lake_tables(lake)[name].schema())]


def _bronze_trace_ids(lake: Lake) -> dict[str, str | None]:
    rows = _rows(lake, "bronze", "SELECT ce_source, ce_id, trace_id FROM t WHERE ce_id IS NOT NULL")
    return {
        f"{s}|{i}": t
        for s, i, t in zip(*(rows[c].to_pylist() for c in rows.column_names), strict=True)
    }


def test_a_released_lake_takes_the_trace_id_in_place(released: Lake) -> None:
    lake = released
    assert "trace_id" not in _columns(lake, "bronze")
    upgrades = {u.table: u for u in pending_upgrades(lake.layout, lake.catalogue)}
    assert upgrades and all("trace_id added" in u.changes for u in upgrades.values())
    in_place = [name for name, u in upgrades.items() if u.in_place]
    assert "silver.customer_created" in in_place
    files = {name: set(lake_tables(lake)[name].file_uris()) for name in in_place}

    lake.silver()  # upgrades first; bronze, not written since, is read without the column
    assert not pending_upgrades(lake.layout, lake.catalogue)
    for name in in_place:
        assert _columns(lake, name)[-1] == "trace_id"
        assert set(lake_tables(lake)[name].file_uris()) == files[name]  # nothing rewritten
    old = _rows(
        lake, "silver.customer_created", "SELECT count(*) AS n FROM t WHERE trace_id IS NULL"
    )
    assert old["n"][0].as_py() > 0

    _publish_new_customers(lake)
    lake.ingest()  # bronze's next write: the column first, then the rows
    assert _columns(lake, "bronze")[-1] == "trace_id"
    lake.silver()
    traced = {k: v for k, v in _bronze_trace_ids(lake).items() if v is not None}
    assert len(traced) == 5  # the new customers: the rows before read null
    for key, trace_id in traced.items():
        source, event_id = key.split("|")
        assert trace_id == root_context(source, event_id).trace_id
    silver = _rows(
        lake, "silver.customer_created", "SELECT event_source, event_id, trace_id FROM t"
    )
    by_key = {
        f"{s}|{i}": t
        for s, i, t in zip(*(silver[c].to_pylist() for c in silver.column_names), strict=True)
    }
    assert {k: v for k, v in by_key.items() if v is not None} == traced


def _ingest(settings: Settings) -> None:
    Lake(settings, pii_key=PII_KEY).ingest()


def test_concurrent_ingestions_upgrade_bronze_once_and_lose_nothing(released: Lake) -> None:
    lake = released
    before = lake_tables(lake)["bronze"].count()
    _publish_new_customers(lake, 40)
    run_together(_ingest, (lake.settings,), 2, 180)
    bronze = lake_tables(lake)["bronze"]
    assert _columns(lake, "bronze").count("trace_id") == 1
    rows = _rows(lake, "bronze", "SELECT hub, partition_id, sequence_number, trace_id FROM t")
    assert rows.num_rows == bronze.count() == before + 40
    keys = set(
        zip(*(rows[c].to_pylist() for c in ("hub", "partition_id", "sequence_number")), strict=True)
    )
    assert len(keys) == rows.num_rows  # each event once
    assert rows.num_rows - rows["trace_id"].null_count == 40


def _ingest_killed_after_the_upgrade(settings: Settings) -> None:
    def killed(*_: object, **__: object) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    commits.commit_files = killed
    Lake(settings, pii_key=PII_KEY).ingest()


def test_a_sigkill_between_the_upgrade_and_the_rows_loses_nothing(released: Lake) -> None:
    lake = released
    before = lake_tables(lake)["bronze"].count()
    _publish_new_customers(lake)
    with pytest.raises(AssertionError, match="exited with -9"):
        run_together(_ingest_killed_after_the_upgrade, (lake.settings,), 1, 120)
    assert _columns(lake, "bronze")[-1] == "trace_id"  # its own commit: landed whole
    assert lake_tables(lake)["bronze"].count() == before  # the rows' commit never ran
    lake.ingest()
    rows = _rows(lake, "bronze", "SELECT trace_id FROM t")
    assert rows.num_rows == before + 5 and rows.num_rows - rows["trace_id"].null_count == 5


def test_columns_are_added_in_place_only_when_nullable_and_racing_writers_decide_again(
    tmp_path: Path,
) -> None:
    old = pa.schema([pa.field("a", pa.string(), nullable=False)])
    uri = str(tmp_path / "t")
    table = commits.ensure_table(uri, old)
    stale = tables.open_table(uri)
    assert stale is not None
    required = old.append(pa.field("b", pa.string(), nullable=False))
    with pytest.raises(ValueError, match=r"\['b'\] cannot be added in place"):
        commits.add_columns(table, required, inputs={})
    wider = old.append(pa.field("trace_id", pa.string()))
    assert commits.add_columns(table, wider, inputs={"bronze.events": 4}) is True
    assert table.transaction_version("input:bronze.events") == 4
    assert commits.add_columns(table, wider, inputs={}) is False  # already there
    with pytest.raises(commits.ConcurrentCommitError):
        commits.add_columns(stale, wider, inputs={})  # decided on the snapshot before
    with pytest.raises(commits.ConcurrentCommitError):  # a writer of the old schema too
        commits.commit(stale, commits.Write(old, pa.table({"a": ["x"]}, schema=old)), {})
