"""A rebuild beside the lake's other writers and readers: the same tables as a rebuild alone,
no table ever missing, nothing left locked by a killed rebuild."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eda_lake.analytics.sql import LakeSql
from eda_lake.lake import lake_lock
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.event_tables import SilverBuilder, SilverReport
from eda_lake.settings import Settings
from eda_lake_tests.lake.helpers import LakeAfterChain
from eda_lake_tests.lake.test_silver_and_gold import KEY, _capture, _lake_after_chain

Snapshot = dict[str, list[str]]


@pytest.fixture(autouse=True)
def _short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake_lock, "POLL_SECONDS", 0.05)


def _snapshot(lake: Lake) -> Snapshot:
    """Every silver and gold table's rows, in a comparable order."""
    found = {}
    for name, uri in lake.layout.existing_tables().items():
        if name.startswith(("silver.", "gold.")):
            table = tables.open_table(uri, lake.layout.storage_options)
            assert table is not None
            found[name] = sorted(map(str, tables.query("SELECT * FROM t", t=table).to_pylist()))
    return found


def _lake_with_unread_bronze(settings: Settings, customers: int = 40) -> Lake:
    """A lake built once, then more events in bronze that silver has not read yet."""
    simulation, _, lake = _lake_after_chain(settings, customers=customers)
    simulation.publish_customers(seed=99, count=3)
    simulation.subscriber("conversions").run()
    _capture(settings, simulation)
    lake.ingest()
    return lake


def _other(lake: Lake, waiting: Callable[[str], None] | None = None) -> Lake:
    """Another writer of the same lake (another process's or run's)."""
    other = Lake(lake.settings, lake.catalogue, pii_key=KEY)
    if waiting is not None:
        other.lock.waiting = waiting
    return other


def test_a_silver_run_straddling_the_rebuilds_window_loses_nothing(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The silver run decided what to write before the rebuild began: the rebuild waits for
    it, then replaces every table; nothing it wrote is trusted without being read."""
    lake = _lake_with_unread_bronze(lake_settings)
    read, window = threading.Event(), threading.Event()
    changes = SilverBuilder._changes

    def paused(builder: SilverBuilder, *args: Any) -> Any:
        found = changes(builder, *args)
        if threading.current_thread().name == "concurrent-silver":
            read.set()  # its bookkeeping is decided
            window.wait(60)
        return found

    monkeypatch.setattr(SilverBuilder, "_changes", paused)
    runner = threading.Thread(target=_other(lake).silver_events, name="concurrent-silver")
    runner.start()
    assert read.wait(60)
    lake.lock.waiting = lambda _: window.set()  # the rebuild has begun: the silver run goes on
    lake.recovery.rebuild()
    runner.join()
    assert window.is_set()
    raced = _snapshot(lake)

    lake.recovery.rebuild()  # alone
    assert raced == _snapshot(lake)
    assert len(raced["silver.customer_created"]) == 43


def test_a_silver_run_started_inside_the_rebuild_waits_for_it(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake_with_unread_bronze(lake_settings)
    waiting, reports = threading.Event(), list[Any]()
    concurrent = _other(lake, waiting=lambda _: waiting.set())
    runner = threading.Thread(target=lambda: reports.append(concurrent.silver()))
    rebuild = SilverBuilder.rebuild
    before = _read(lake)
    assert before["silver.customer_created"] == 40

    def in_window(builder: SilverBuilder, *args: Any) -> SilverReport:
        runner.start()
        assert waiting.wait(60)  # the silver run met the rebuild and waits
        assert _read(lake) == before  # a reader sees the old tables until ...
        replaced = rebuild(builder, *args)
        during = _read(lake)  # ... each is replaced, in one commit
        assert set(during) == set(before) and during["silver.customer_created"] == 43
        return replaced

    monkeypatch.setattr(SilverBuilder, "rebuild", in_window)
    lake.recovery.rebuild()
    monkeypatch.undo()
    runner.join()
    [after] = reports
    assert after.events.rows_read == 0  # it read the rebuilt tables: nothing left to do
    raced = _snapshot(lake)
    lake.recovery.rebuild()
    assert raced == _snapshot(lake)


def _read(lake: Lake) -> dict[str, int]:
    """What `eda-lake sql` sees: each table and its rows."""
    sql = LakeSql(lake.layout)
    try:
        counted = {}
        for table in sql.tables:
            [(rows,)] = sql.query(f"SELECT count(*) FROM {table.qualified}").rows
            counted[table.qualified] = rows
        return counted
    finally:
        sql.close()


@dataclass
class Readers:
    """An analyst's `eda-lake sql`, again and again while a rebuild runs: every table
    there, each readable."""

    lake: Lake
    expected: set[str]
    rebuilding: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    missing: list[str] = field(default_factory=list)
    polls: int = 0

    def poll(self) -> None:
        while not self.stop.is_set():
            if not self.rebuilding.wait(0.05):
                continue
            sql = LakeSql(self.lake.layout)
            try:
                seen = {t.qualified for t in sql.tables}
                self.missing += sorted(self.expected - seen)
                for name in self.expected & seen:
                    sql.query(f"SELECT count(*) FROM {name}")
            finally:
                sql.close()
            self.polls += 1


@pytest.mark.slow
def test_rebuilds_beside_writers_and_readers_end_as_a_rebuild_alone(tmp_path: Path) -> None:
    lake = _lake_after_chain(Settings(home=tmp_path / "home"), customers=10)[2]
    lake.recovery.rebuild()
    alone = _snapshot(lake)
    readers = Readers(lake, set(alone) | {"bronze.events"})
    chance = random.Random(15)
    writers: list[Callable[[Lake], object]] = [
        Lake.ingest, Lake.silver_events, Lake.entities, Lake.silver, Lake.gold,
        lambda lake: lake.recovery.retry_quarantine(), lambda lake: lake.upkeep.compact(),
        lambda lake: lake.upkeep.vacuum(168), lambda lake: lake.recovery.rebuild(),
    ]  # fmt: skip
    reader = threading.Thread(target=readers.poll)
    reader.start()
    try:
        for _ in range(20):
            chosen = chance.sample(writers, chance.randint(1, 2))
            delays = [chance.random() * 0.2 for _ in chosen]
            others = [
                threading.Timer(delay, write, args=(_other(lake),))
                for delay, write in zip(delays, chosen, strict=True)
            ]
            for other in others:
                other.start()
            readers.rebuilding.set()
            lake.recovery.rebuild()
            for other in others:
                other.join()
            readers.rebuilding.clear()
            assert _snapshot(lake) == alone
    finally:
        readers.stop.set()
        reader.join()
    assert readers.polls >= 20 and readers.missing == []


def _rebuild_until_killed(home: str, killed_after: int, ready: Any) -> None:
    lake_lock.LEASE_SECONDS = 1.0  # the parent waits this long for the lapse
    lake = Lake(Settings(home=Path(home)), pii_key=KEY)

    def progress(stage: str, done: int, total: int | None = None, unit: str = "") -> None:
        if stage == "silver" and done == killed_after:
            ready.set()
            threading.Event().wait()  # until killed

    lake.recovery.rebuild(progress)


def test_a_killed_rebuild_leaves_old_or_new_tables_and_no_lock(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    lake = _lake_after_chain(settings, customers=20)[2]
    lake.recovery.rebuild()
    alone = _snapshot(lake)
    context = multiprocessing.get_context("spawn")
    for killed_after in (1, 5):
        ready = context.Event()
        worker = context.Process(
            target=_rebuild_until_killed, args=(str(settings.home), killed_after, ready)
        )
        worker.start()
        assert ready.wait(120)
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join()
        assert set(_snapshot(lake)) == set(alone)  # no table missing, each readable
        lake.silver()  # waits for the killed rebuild's lease to lapse, then runs
        lake.gold()
        assert lake.lock.leases() == []
        assert _snapshot(lake) == alone  # the sensors' runs carry on from what it committed
        lake.recovery.rebuild()
        assert _snapshot(lake) == alone


def test_an_interrupted_rebuild_leaves_old_or_new_tables_and_no_lock(
    tmp_path: Path, lake_after_chain: LakeAfterChain
) -> None:
    """The killed rebuild's in-process counterpart, for the fast tier: Ctrl-C where the
    SIGKILL lands."""
    settings = Settings(home=tmp_path / "home")
    lake = lake_after_chain(settings, customers=20)[2]
    lake.recovery.rebuild()
    alone = _snapshot(lake)
    for interrupted_after in (1, 5):

        def progress(
            stage: str,
            done: int,
            total: int | None = None,
            unit: str = "",
            at: int = interrupted_after,
        ) -> None:
            if stage == "silver" and done == at:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            lake.recovery.rebuild(progress)
        assert set(_snapshot(lake)) == set(alone)  # no table missing, each readable
        assert lake.lock.leases() == []
        lake.silver()
        lake.gold()
        assert _snapshot(lake) == alone
        lake.recovery.rebuild()
        assert _snapshot(lake) == alone
