"""The lake lock: shared leases add up, exclusive ones never overlap, lapsed ones are gone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eda_lake.lake import lake_lock
from eda_lake.lake.lake_lock import LakeLock
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.maintenance import vacuum as maintenance


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake_lock, "POLL_SECONDS", 0.02)


def test_writers_taking_leases_at_once_each_keep_theirs(layout: LakeLayout) -> None:
    """Each change is one commit Delta serialises: none overwrites another's lease."""
    writers = 4
    all_in, counted = threading.Barrier(writers), list[int]()

    def write() -> None:
        lock = LakeLock(layout)
        with lock.shared("silver"):
            all_in.wait(60)
            counted.append(len(lock.leases()))
            all_in.wait(60)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted == [writers] * writers
    assert LakeLock(layout).leases() == []


def test_exclusive_holders_never_overlap_and_writers_wait_for_them(layout: LakeLayout) -> None:
    holders, met = set[str](), list[tuple[str, frozenset[str]]]()
    guard = threading.Lock()

    def hold(operation: str) -> None:
        lock = LakeLock(layout)
        exclusive = operation.startswith("rebuild")
        with lock.exclusive(operation) if exclusive else lock.shared(operation):
            with guard:
                met.append((operation, frozenset(holders)))
                holders.add(operation)
            LakeLock(layout).leases()  # some work under the lease
            with guard:
                holders.remove(operation)

    operations = [f"{kind} {n}" for n in range(3) for kind in ("rebuild", "silver")]
    threads = [threading.Thread(target=hold, args=(op,)) for op in operations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(op for op, _ in met) == sorted(operations)
    for operation, others in met:
        if operation.startswith("rebuild"):
            assert not others, f"{operation} held the lake beside {others}"
        else:
            assert not any(o.startswith("rebuild") for o in others), operation


def test_a_lapsed_lease_holds_nothing(layout: LakeLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake_lock, "LEASE_SECONDS", 0.0)  # taken already lapsed, as if killed
    killed = LakeLock(layout)
    killed._take(lake_lock.Lease("gone", "rebuild", True, "host:1", datetime.now(UTC)))
    assert killed.leases() == []
    monkeypatch.setattr(lake_lock, "LEASE_SECONDS", 30.0)
    waits = list[str]()
    with LakeLock(layout, waiting=waits.append).shared("silver"):
        assert [lease.operation for lease in LakeLock(layout).leases()] == ["silver"]
    assert waits == []


def test_vacuum_keeps_the_lock_files_the_shortest_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = LakeLayout(tmp_path / "lake")
    lock = LakeLock(layout)
    for operation in ("ingest", "silver", "gold"):
        with lock.shared(operation):
            pass
    files = set((tmp_path / "lake" / "_lock").glob("*.parquet"))
    monkeypatch.setattr(maintenance, "MIN_RETENTION_HOURS", 0)  # as if an hour went by
    report = maintenance.vacuum_lake(layout, retention_hours=168)
    kept = set((tmp_path / "lake" / "_lock").glob("*.parquet"))
    assert kept == set() and report.files_deleted["lock"] == len(files) > 0  # none held now
    with lock.shared("silver"):
        assert [lease.operation for lease in lock.leases()] == ["silver"]
