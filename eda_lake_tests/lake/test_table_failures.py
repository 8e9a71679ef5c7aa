"""One table's failure never stops the others: the run finishes every other table, and the
layers after it from the inputs that did advance; the failed table's inputs stay pending and
land exactly once when the run is made again after the fix. A fault of the whole lake (its
disk, its storage) still stops the run."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, SchemaMismatchError

from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES, event_table
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.lake.helpers import LakeAfterChain
from eda_lake_tests.lake.test_silver_and_gold import _capture, _rows

NEW_CUSTOMERS = 3
REFUSED = "Cannot cast schema, number of fields does not match: 11 vs 12"


def fail_once(
    monkeypatch: pytest.MonkeyPatch, layer: str, table: str, error: Exception
) -> list[str]:
    """The next commit to `layer.table` (of rows, or of staged files) raises `error`, once;
    returns the tables it failed."""
    real_commit, real_commit_files = commits.commit, commits.commit_files
    failed: list[str] = []

    def fails(target: DeltaTable) -> bool:
        if not failed and target.table_uri.rstrip("/").endswith(f"/{layer}/{table}"):
            failed.append(f"{layer}.{table}")
            return True
        return False

    def commit(target: DeltaTable, write: commits.Write, inputs: Mapping[str, int]) -> int:
        if fails(target):
            raise error
        return real_commit(target, write, inputs)

    def commit_files(target: DeltaTable, *args: Any, **kwargs: Any) -> int:
        if fails(target):
            raise error
        return real_commit_files(target, *args, **kwargs)

    monkeypatch.setattr(commits, "commit", commit)
    monkeypatch.setattr(commits, "commit_files", commit_files)
    return failed


def new_customers(settings: Settings, simulation: Simulation, lake: Lake) -> None:
    """New customers (and the leads they bring) in bronze, not yet in silver."""
    simulation.publish_customers(seed=99, count=NEW_CUSTOMERS)
    simulation.subscriber("conversions").run()
    _capture(settings, simulation)
    lake.ingest()


def versions(lake: Lake, names: list[str]) -> dict[str, int]:
    found = {}
    for name in names:
        layer, _, table = name.partition(".")
        uri = lake.layout.bronze_uri if layer == "bronze" else lake.layout.table_uri(layer, table)
        opened = tables.open_table(uri, lake.layout.storage_options)
        assert opened is not None, name
        found[name] = opened.version()
    return found


def consumed(lake: Lake, name: str, inputs: list[str]) -> dict[str, int | None]:
    layer, _, table = name.partition(".")
    opened = tables.open_table(lake.layout.table_uri(layer, table), lake.layout.storage_options)
    return commits.consumed(opened, inputs)


def assert_current(lake: Lake, runs: Mapping[str, TableRun], but: str | None = None) -> None:
    """Every declared table but `but` consumed its sources as they are now."""
    for declared in (*ENTITY_TABLES, *GOLD_TABLES):
        if declared.qualified_name == but or declared.name not in runs:
            continue
        sources = list(declared.sources)
        assert not runs[declared.name].failed, runs[declared.name]
        assert consumed(lake, declared.qualified_name, sources) == versions(lake, sources)


def customers_landed(lake: Lake) -> tuple[int, int]:
    rows = _rows(lake, "silver", "customer_created", "SELECT event_id FROM t")
    return len(rows), len({r["event_id"] for r in rows})


@pytest.fixture
def lake_with_new_customers(tmp_path: Path, lake_after_chain: LakeAfterChain) -> tuple[Lake, int]:
    """A lake whose layers are current, then new events in bronze; the customers before."""
    settings = Settings(home=tmp_path / "home")
    simulation, report, lake = lake_after_chain(settings, customers=20)
    new_customers(settings, simulation, lake)
    return lake, report.customers


def test_a_failed_event_table_leaves_the_others_and_the_entities_current(
    lake_with_new_customers: tuple[Lake, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, before = lake_with_new_customers
    pending = consumed(lake, "silver.customer_created", ["bronze.events"])
    failed = fail_once(monkeypatch, "silver", "customer_created", SchemaMismatchError(REFUSED))
    run = lake.silver()
    assert failed == ["silver.customer_created"]
    failure = run.events.runs["CustomerCreated"]
    assert failure.failed and failure.error == f"SchemaMismatchError: {REFUSED}"
    # Every other event table landed the bronze version read; the failed one's did not move.
    bronze = versions(lake, ["bronze.events"])
    for spec in lake.catalogue.events.values():
        table = f"silver.{event_table(spec.name)}"
        expected = pending if spec.name == "CustomerCreated" else bronze
        assert consumed(lake, table, ["bronze.events"]) == expected, table
    # The entities ran from the inputs that advanced: the new leads are in, gold follows.
    assert run.entities.runs["leads"].counts["keys_recomputed"] == NEW_CUSTOMERS
    assert_current(lake, run.entities.runs)
    gold = lake.gold()
    assert_current(lake, gold.runs)
    assert customers_landed(lake) == (before, before)

    again = lake.silver()  # the cause gone: the pending events land, each once
    assert not commits.failed_runs(again.events.runs, again.entities.runs)
    assert again.events.inserted["CustomerCreated"] == NEW_CUSTOMERS
    assert customers_landed(lake) == (before + NEW_CUSTOMERS,) * 2
    assert run.events.rows_read + again.events.rows_read == sum(
        sum(r.outcomes().values()) for r in (run.events, again.events)
    )
    lake.gold()
    funnel = _rows(lake, "gold", "funnel_daily")
    assert sum(r["customers"] for r in funnel) == before + NEW_CUSTOMERS


@pytest.mark.parametrize("layer,table", [("silver", "customers"), ("gold", "funnel_daily")])
def test_a_failed_entity_or_gold_table_leaves_the_others_current(
    lake_with_new_customers: tuple[Lake, int],
    monkeypatch: pytest.MonkeyPatch,
    layer: str,
    table: str,
) -> None:
    lake, _ = lake_with_new_customers
    name = f"{layer}.{table}"
    declared = next(d for d in (*ENTITY_TABLES, *GOLD_TABLES) if d.qualified_name == name)
    pending = consumed(lake, name, list(declared.sources))
    fail_once(monkeypatch, layer, table, SchemaMismatchError(REFUSED))
    silver = lake.silver()
    gold = lake.gold()
    runs = silver.entities.runs if layer == "silver" else gold.runs
    assert [r.table for r in commits.failed_runs(silver.entities.runs, gold.runs)] == [name]
    assert runs[table].error == f"SchemaMismatchError: {REFUSED}"
    assert consumed(lake, name, list(declared.sources)) == pending  # its progress stayed
    assert_current(lake, silver.entities.runs, but=name)
    assert_current(lake, gold.runs, but=name)

    lake.silver()  # the cause gone: the next runs bring it up to date
    again = lake.gold()
    assert_current(lake, {**lake.entities().runs, **again.runs})


@pytest.mark.parametrize(
    "fault",
    [
        lambda: OSError(errno.ENOSPC, "No space left on device", "/lake/silver/x.parquet"),
        lambda: PermissionError(errno.EACCES, "Permission denied"),
        lambda: DeltaError(  # a library's generic error, in the system's words
            'Failed to write: Os { code: 1, kind: PermissionDenied, message: "Operation not '
            'permitted" }'
        ),
    ],
    ids=["disk full", "denied", "immutable folder"],
)
def test_a_fault_of_the_whole_lake_still_stops_the_run(
    lake_with_new_customers: tuple[Lake, int],
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[], Any],
) -> None:
    lake, _ = lake_with_new_customers
    raised = fault()
    wrapped = RuntimeError("commit failed")  # a library's error caused by the storage's
    wrapped.__cause__ = raised
    fail_once(monkeypatch, "silver", "customer_created", wrapped)
    with pytest.raises(RuntimeError) as stopped:
        lake.silver()
    assert stopped.value.__cause__ is raised
