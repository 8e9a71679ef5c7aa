"""Silver's staged data files are the table's once a commit adds them, and only then: a
commit whose answer is lost (it landed, yet raised) keeps them, a retry never adds them
twice, and no run leaves a file in the table's directory that its log does not hold. Bronze
writes its data files the same way (`data_files`), and keeps them on the same terms."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver import event_tables as silver
from eda_lake.settings import Settings
from eda_lake_tests.lake.test_silver_and_gold import KEY, _rows
from eda_lake_tests.simulation.helpers import provisioned

CUSTOMERS = 20
TABLE = "customer_created"


def _lake(settings: Settings) -> Lake:
    simulation = provisioned(settings)
    simulation.publish_customers(seed=5, count=CUSTOMERS)
    simulation.close()
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    return lake


def _in_log(lake: Lake, name: str = TABLE) -> set[str]:
    table = tables.open_table(lake.layout.table_uri("silver", name), lake.layout.storage_options)
    return {u.rpartition("/")[2] for u in table.file_uris()} if table else set()


def _in_directory(lake: Lake, name: str = TABLE) -> set[str]:
    listed = lake.layout.fs.get_file_info(
        pafs.FileSelector(lake.layout.fs_path("silver", name), allow_not_found=True)
    )
    return {f.base_name for f in listed if f.extension == "parquet"}


def _landed_ids(lake: Lake) -> list[str]:
    return sorted(r["event_id"] for r in _rows(lake, "silver", TABLE, "SELECT event_id FROM t"))


def _answer_lost_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next commit of staged files lands, then raises as a refused commit does (its
    answer lost: a timed-out log write that did land, say); the versions it landed."""
    real = commits.commit_files
    landed: list[int] = []

    def lands_then_raises(table: Any, *args: Any, **kwargs: Any) -> int:
        version = real(table, *args, **kwargs)
        if not landed:
            landed.append(version)
            raise commits.ConcurrentCommitError("version already exists")
        return version

    monkeypatch.setattr(commits, "commit_files", lands_then_raises)
    return landed


@pytest.mark.parametrize("how", ["run", "rebuild"])
def test_a_commit_that_landed_but_raised_keeps_its_files(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    lake = _lake(lake_settings)
    present: set[str] = set()
    if how == "rebuild":
        lake.silver_events(["CustomerCreated"])
        before = _landed_ids(lake)
    present = _in_directory(lake)  # files a rebuild removes stay until a vacuum
    lost = _answer_lost_once(monkeypatch)
    if how == "run":
        lake.silver_events(["CustomerCreated"])
    else:
        lake.recovery.rebuild()
    assert lost  # the commit of staged files landed, and its caller heard it refused
    held = _in_log(lake)
    assert held and held <= _in_directory(lake)  # every file the table holds is there
    ids = _landed_ids(lake)
    assert len(ids) == len(set(ids)) == CUSTOMERS
    if how == "rebuild":
        assert ids == before
    monkeypatch.undo()
    assert lake.silver_events(["CustomerCreated"]).inserted["CustomerCreated"] == 0
    assert _landed_ids(lake) == ids
    assert _in_directory(lake) - present == _in_log(lake)  # no staged file left behind


def test_a_refused_commit_of_staged_files_retries_with_them(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(lake_settings)
    real = commits.commit_files
    refused: list[int] = []

    def refused_once(table: Any, *args: Any, **kwargs: Any) -> int:
        if not refused:
            refused.append(table.version())
            raise commits.ConcurrentCommitError("another writer committed first")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(commits, "commit_files", refused_once)
    run = lake.silver_events(["CustomerCreated"])
    assert refused
    assert run.inserted["CustomerCreated"] == CUSTOMERS
    assert len(_landed_ids(lake)) == CUSTOMERS
    assert _in_directory(lake) == _in_log(lake)


def test_a_change_feed_lost_midway_leaves_no_staged_files(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(lake_settings)
    feed = tables.inserted_batches
    cut: list[int] = []

    def vacuumed_midway(*args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
        for batch in feed(*args, **kwargs):
            yield batch.slice(0, 5)  # some rows staged (their files written) first
            cut.append(5)
            raise tables.ChangeFeedUnavailableError("the change feed was vacuumed away")

    monkeypatch.setattr(tables, "inserted_batches", vacuumed_midway)
    run = lake.silver_events(["CustomerCreated"])
    assert cut
    assert run.inserted["CustomerCreated"] == CUSTOMERS
    assert len(set(_landed_ids(lake))) == len(_landed_ids(lake)) == CUSTOMERS
    assert _in_directory(lake) == _in_log(lake)


def test_two_runs_at_once_land_each_event_once_and_leave_no_staged_files(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(lake_settings)
    real = silver._commit_staged
    other_runs: list[int] = []
    began: list[bool] = []

    def another_run_first(table: Any, stage: silver._Staged, *args: Any) -> int:
        if not began:  # a second process lands the same events meanwhile
            began.append(True)
            with lake.silver_builder() as builder:
                other_runs.append(builder.run(["CustomerCreated"]).inserted["CustomerCreated"])
        return real(table, stage, *args)

    monkeypatch.setattr(silver, "_commit_staged", another_run_first)
    run = lake.silver_events(["CustomerCreated"])
    assert other_runs == [CUSTOMERS]
    assert run.inserted.get("CustomerCreated", 0) == 0
    assert len(set(_landed_ids(lake))) == len(_landed_ids(lake)) == CUSTOMERS
    assert _in_directory(lake) == _in_log(lake)


def test_a_table_of_another_nullability_gets_rows_written_anew(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = _lake(lake_settings)
    spec = lake.catalogue.event("CustomerCreated")
    # As older code made it: every column nullable.
    loose = pa.schema([f.with_nullable(True) for f in silver.event_schema(spec)])
    commits.ensure_table(
        lake.layout.table_uri("silver", TABLE), loose, options=lake.layout.storage_options,
        configuration=tables.CHANGE_FEED,
    )  # fmt: skip
    added: list[object] = []
    monkeypatch.setattr(commits, "commit_files", lambda *a, **k: added.append(a))
    run = lake.silver_events(["CustomerCreated"])
    assert added == []  # no staged file of the stage's schema joins the table
    assert run.inserted["CustomerCreated"] == CUSTOMERS
    assert len(_landed_ids(lake)) == CUSTOMERS
    assert _in_directory(lake) == _in_log(lake)


@pytest.mark.parametrize("fault", ["answer lost", "refused", "storage failed"])
def test_a_whole_entity_build_lands_once_and_leaves_no_stray_files(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    lake = _lake(lake_settings)
    lake.silver_events(["CustomerCreated"])
    real = commits.commit_files
    met: list[str] = []

    def faulty_once(table: Any, *args: Any, **kwargs: Any) -> int:
        if met or not table.table_uri.rstrip("/").endswith("/customers"):
            return real(table, *args, **kwargs)
        met.append(fault)
        if fault == "answer lost":
            real(table, *args, **kwargs)
            raise commits.ConcurrentCommitError("version already exists")
        if fault == "refused":
            raise commits.ConcurrentCommitError("another writer committed first")
        raise OSError("the storage went away")

    monkeypatch.setattr(commits, "commit_files", faulty_once)
    if fault == "storage failed":  # a fault of the whole lake: the run stops
        with pytest.raises(OSError, match="storage went away"):
            lake.entities(["customers"])
        assert _in_directory(lake, "customers") == _in_log(lake, "customers") == set()
    assert not lake.entities(["customers"]).runs["customers"].failed
    assert met == [fault]
    keys = [r["customer_id"] for r in _rows(lake, "silver", "customers", "SELECT * FROM t")]
    assert len(keys) == len(set(keys)) == CUSTOMERS
    assert _in_directory(lake, "customers") == _in_log(lake, "customers")


def test_a_bronze_commit_that_landed_but_raised_keeps_its_files(
    lake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulation = provisioned(lake_settings)
    simulation.publish_customers(seed=5, count=CUSTOMERS)
    simulation.close()
    run_capture(lake_settings, flush=True)
    lake = Lake(lake_settings, simulation.catalogue, pii_key=KEY)
    lost = _answer_lost_once(monkeypatch)
    with contextlib.suppress(Exception):
        lake.ingest()
    assert lost
    monkeypatch.undo()
    lake.ingest()
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    # Every file the table holds is there (a missing one fails the read), each event once.
    found = tables.query(
        "SELECT count(*) AS n, count(DISTINCT ce_id) AS ids FROM bronze", bronze=bronze
    )
    assert found["n"][0].as_py() == found["ids"][0].as_py() >= CUSTOMERS
