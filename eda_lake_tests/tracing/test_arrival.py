"""When a table first held or counted something, found by bisection over its versions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.tracing.arrival import Arrivals

RECORD = "input:bronze.events"


def _table(tmp_path: Path, reads: list[int]) -> tuple[LakeLayout, Arrivals]:
    """A silver table whose commit n records having read bronze version reads[n]."""
    layout = LakeLayout(tmp_path / "lake")
    layout.create()
    uri = layout.table_uri("silver", "t")
    for n, read in enumerate(reads):
        write_deltalake(
            uri, pa.table({"n": [n]}), mode="append",
            commit_properties=CommitProperties(app_transactions=[Transaction(RECORD, read)]),
        )  # fmt: skip
    return layout, Arrivals(
        layout, lambda layer, name: tables.open_table(layout.table_uri(layer, name))
    )


def test_the_first_version_whose_record_reaches_the_version_asked(tmp_path: Path) -> None:
    layout, arrivals = _table(tmp_path, [1, 3, 3, 7, 9])
    table = DeltaTable(layout.table_uri("silver", "t"))
    for at_least, version in [(0, 0), (1, 0), (2, 1), (4, 3), (8, 4)]:
        assert arrivals.first("silver", "t", RECORD, at_least) == (
            version, freshness.commit_time(table, version)
        ), at_least  # fmt: skip
    assert arrivals.first("silver", "t", RECORD, 10) is None  # not read yet
    assert arrivals.first("silver", "t", "input:other", 0) is None  # never recorded
    assert arrivals.first("silver", "missing", RECORD, 0) is None


def test_versions_whose_log_is_cleaned_up_are_passed_over(tmp_path: Path) -> None:
    layout, arrivals = _table(tmp_path, [1, 2, 3, 4, 5])
    uri = layout.table_uri("silver", "t")
    DeltaTable(uri, version=3).create_checkpoint()
    for version in range(3):
        (tmp_path / "lake" / "silver" / "t" / "_delta_log" / f"{version:020d}.json").unlink()
    # Version 0 read bronze version 1, but only versions 3 on can be read now.
    assert arrivals.first("silver", "t", RECORD, 1) == (
        3, freshness.commit_time(DeltaTable(uri), 3)
    )  # fmt: skip


def test_a_version_whose_log_entry_is_gone_has_no_commit_time(tmp_path: Path) -> None:
    layout, arrivals = _table(tmp_path, [1, 2, 3, 4, 5])
    DeltaTable(layout.table_uri("silver", "t"), version=3).create_checkpoint()
    for version in range(4):  # version 3 is read from its checkpoint alone
        (tmp_path / "lake" / "silver" / "t" / "_delta_log" / f"{version:020d}.json").unlink()
    assert arrivals.first("silver", "t", RECORD, 1) == (3, None)
