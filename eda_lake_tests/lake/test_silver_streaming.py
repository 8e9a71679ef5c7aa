"""Silver reads bronze's change feed batch by batch and only its own hubs: another producer's
hub is never read, an event lands once however the batches cut its deliveries, and a run
that dies between two tables' commits loses and doubles nothing when run again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.declarations import event_table
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver import event_tables as silver
from eda_lake.native import _keys as key_hashes
from eda_lake.settings import Settings
from eda_lake_tests.benchmarks.lake_data import write_foreign_container
from eda_lake_tests.lake.test_silver_and_gold import KEY, _rows
from eda_lake_tests.simulation.helpers import provisioned

FOREIGN_EVENTS = 400


class _CountedFeed:
    """Wraps bronze's change feed: counts the rows it hands silver, cut into small batches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, batch_rows: int | None = None) -> None:
        self.rows = 0
        self.batches = 0
        feed = tables.inserted_batches

        def counted(*args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
            for batch in feed(*args, **kwargs):
                size = batch_rows or batch.num_rows
                for start in range(0, batch.num_rows, size):
                    piece = batch.slice(start, size)
                    self.rows += piece.num_rows
                    self.batches += 1
                    yield piece

        monkeypatch.setattr(tables, "inserted_batches", counted)


def _bronze_rows(lake: Lake, where: str = "TRUE") -> int:
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    found = tables.query(f"SELECT count(*) AS n FROM bronze WHERE {where}", bronze=bronze)
    count: int = found["n"][0].as_py()
    return count


def _keys(lake: Lake, table: str) -> list[tuple[str, str]]:
    rows = _rows(lake, "silver", table, "SELECT event_source, event_id FROM t")
    return sorted((r["event_source"], r["event_id"]) for r in rows)


def test_another_producers_hub_is_not_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local lake: the foreign container is written straight into its capture folder (which
    # part of the change feed is read does not depend on the storage).
    simulation = provisioned(settings)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    write_foreign_container(lake.layout.capture, FOREIGN_EVENTS, 1, 2)
    lake.ingest()
    assert _bronze_rows(lake) == FOREIGN_EVENTS
    feed = _CountedFeed(monkeypatch)
    run = lake.silver_events()
    assert (feed.rows, run.rows_read) == (0, 0)  # nothing of it read, nothing decoded
    # Our events beside theirs: exactly ours are read.
    simulation.publish_customers(seed=3, count=25)
    simulation.close()
    run_capture(settings, flush=True)
    lake.ingest()
    run = lake.silver_events()
    ours = _bronze_rows(lake, "hub <> 'telemetry'")
    assert feed.rows == run.rows_read == ours == 25


@pytest.mark.parametrize("hashes", ["real", "all colliding"])
def test_events_land_once_when_their_deliveries_are_in_different_batches(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch, hashes: str
) -> None:
    simulation = provisioned(lake_settings)
    spec = simulation.catalogue.event("CustomerCreated")
    simulation.publish_customers(seed=4, count=60)
    # At-least-once: deliveries of the same events again, in a later capture of their own
    # and again within it, so each run's batches hold an event's deliveries apart.
    first = simulation.hub.read(spec.hub, "0", None, 10**6)  # type: ignore[attr-defined]
    assert len(first) > 6
    again = [EventData(e.body, dict(e.properties), e.partition_key, e.content_type) for e in first]
    run_capture(lake_settings, flush=True)
    lake = Lake(lake_settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    simulation.hub.send(spec.hub, again)
    simulation.hub.send(spec.hub, again[: len(again) // 2])
    simulation.close()
    run_capture(lake_settings, flush=True)
    lake.ingest()
    feed = _CountedFeed(monkeypatch, batch_rows=7)
    if hashes == "all colliding":  # every key compared exactly: a collision loses nothing
        monkeypatch.setattr(
            key_hashes, "pair_hashes", lambda offsets, *_: np.zeros(len(offsets) - 1, np.uint64)
        )
    run = lake.silver_events(["CustomerCreated"])
    assert feed.batches > 10
    duplicates = len(again) + len(again) // 2
    assert run.rows_read == 60 + duplicates
    assert (run.inserted["CustomerCreated"], run.duplicates) == (60, duplicates)
    keys = _keys(lake, "customer_created")
    assert len(keys) == len(set(keys)) == 60
    # The first delivery is the one kept: its enqueue time is the earliest of the event's.
    landed = _rows(lake, "silver", "customer_created", "SELECT event_id, enqueued_time FROM t")
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    earliest = tables.query(
        "SELECT ce_id, min(enqueued_time) AS t FROM bronze GROUP BY ce_id", bronze=bronze
    )
    first_seen = dict(zip(earliest["ce_id"].to_pylist(), earliest["t"].to_pylist(), strict=True))
    assert all(r["enqueued_time"] == first_seen[r["event_id"]] for r in landed)


def test_a_run_dying_between_two_tables_commits_loses_and_doubles_nothing(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulation = provisioned(lake_settings)
    simulation.run_chain(seed=6, customers=30)
    simulation.close()
    run_capture(lake_settings, flush=True)
    lake = Lake(lake_settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    landed: list[str] = []
    commit_staged = silver._commit_staged

    def dies_in_the_second(table: Any, stage: silver._Staged, *args: Any) -> int:
        landed.append(stage.spec.name)
        if len(landed) == 2:
            raise RuntimeError("the process died while landing its second table")
        return commit_staged(table, stage, *args)

    monkeypatch.setattr(silver, "_commit_staged", dies_in_the_second)
    with contextlib.suppress(Exception):
        lake.silver_events()
    assert len(landed) >= 2  # the second table's landing died
    # Its staged files were deleted: the table's directory holds only what its log adds.
    name = event_table(landed[1])
    table = tables.open_table(lake.layout.table_uri("silver", name), lake.layout.storage_options)
    in_table = {u.rpartition("/")[2] for u in table.file_uris()} if table else set()
    listed = lake.layout.fs.get_file_info(
        pafs.FileSelector(lake.layout.fs_path("silver", name), allow_not_found=True)
    )
    assert {f.base_name for f in listed if f.extension == "parquet"} <= in_table
    monkeypatch.undo()
    after_crash = lake.silver_events()
    names = list(simulation.catalogue.events)
    by_run = {name: _keys(lake, event_table(name)) for name in names}
    assert after_crash.inserted[landed[0]] == 0  # committed before the crash: nothing again
    assert after_crash.inserted[landed[1]] > 0
    lake.recovery.rebuild()  # every table again, from all of bronze
    for name in names:
        keys = by_run[name]
        assert len(keys) == len(set(keys)), name
        assert keys == _keys(lake, event_table(name)), name


KILLED_WHILE_LANDING = """
import os, signal, sys
from pathlib import Path
from eda_lake.catalogue import load_catalogue
from eda_lake.lake.silver import event_tables as silver
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings

def killed(table, stage, *args):
    os.kill(os.getpid(), signal.SIGKILL)  # every table's rows are staged by now

silver._commit_staged = killed
settings = Settings(home=Path(sys.argv[1]))
Lake(settings, load_catalogue(settings.schema_dir), pii_key=sys.argv[2]).silver_events()
"""


@pytest.mark.servers  # a whole process, killed
def test_a_killed_run_loses_and_doubles_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    simulation = provisioned(settings)
    simulation.run_chain(seed=7, customers=20)
    simulation.close()
    run_capture(settings, flush=True)
    Lake(settings, simulation.catalogue, pii_key=KEY).ingest()
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_LANDING, str(settings.home), KEY],
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert list(temporary.rglob("*")) == []  # nothing temporary outlives the process
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    run = lake.silver_events()
    assert run.inserted["CustomerCreated"] == 20  # the run again lands what the killed one read
    # The killed run's staged files are in no snapshot (a vacuum deletes them).
    assert len(set(_keys(lake, "customer_created"))) == len(_keys(lake, "customer_created")) == 20
