"""The event index: each bronze event found by its id and by its trace id, on a local lake and
in a container; a bucket's newest runs merged sorted, vacuumed with the lake."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from eda_lake.capture.writer import write_capture
from eda_lake.hub.base import ReceivedEvent
from eda_lake.lake import event_index
from eda_lake.lake.bronze.schema import QUALIFIED_NAME as BRONZE
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.event_index import EVENT, TRACE, EventIndex, bucket_of
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.maintenance.vacuum import vacuum_lake
from eda_lake.shared import trace_context
from eda_lake.shared.cloudevents_names import (
    ID_PROPERTY,
    KAFKA_PREFIX,
    SOURCE_PROPERTY,
    TRACEPARENT,
    TRACEPARENT_PROPERTY,
    TRACESTATE_PROPERTY,
)
from eda_lake_tests.lake.helpers import NAMES, ingest, synthetic_container
from eda_lake_tests.processes import run_together

WINDOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _traced_file(root: Path) -> tuple[trace_context.TraceContext, trace_context.TraceContext]:
    """One capture file: a root event, its child (under the Kafka binding's prefix), an
    event with a malformed traceparent, one with a version W3C forbids (the root's trace id
    in it), and one with none."""
    root_context = trace_context.root_context("/shop", "root")
    child = trace_context.child_context(root_context, "/shop", "child")
    properties: list[dict[str, str | int | float | bytes | None]] = [
        {TRACEPARENT_PROPERTY: root_context.traceparent()},
        {KAFKA_PREFIX + TRACEPARENT: child.traceparent(), TRACESTATE_PROPERTY: child.tracestate()},
        {TRACEPARENT_PROPERTY: "00-not-a-trace-01"},
        {TRACEPARENT_PROPERTY: "ff" + root_context.traceparent()[2:]},
        {},
    ]
    events = [
        ReceivedEvent(
            "orders",
            "0",
            n,
            n * 10,
            WINDOW + timedelta(seconds=n),
            None,
            None,
            {ID_PROPERTY: event_id, SOURCE_PROPERTY: "/shop", **extra},
            b"{}",
        )
        for n, (event_id, extra) in enumerate(
            zip(["root", "child", "malformed", "forbidden", "bare"], properties, strict=True)
        )
    ]
    path = root / NAMES.render("shop-ns", "orders", "0", WINDOW)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        write_capture(stream, events, "null")
    return root_context, child


def test_an_event_and_its_trace_are_found_with_their_bronze_place(
    tmp_path: Path, layout: LakeLayout
) -> None:
    root_context, child = _traced_file(tmp_path / "capture")
    assert EventIndex(layout).find(EVENT, ["root"]).num_rows == 0  # no index yet: nothing
    ingest(layout, tmp_path / "capture")
    index = EventIndex(layout)
    assert index.update().events == 5
    [found] = index.find(EVENT, ["child"]).to_pylist()
    assert (found["trace_id"], found["span_id"], found["parent_span_id"]) == (
        child.trace_id, child.span_id, root_context.span_id,
    )  # fmt: skip
    assert (found["hub"], found["partition_id"], found["sequence_number"]) == ("orders", "0", 1)
    assert found["source_file"] == NAMES.render("shop-ns", "orders", "0", WINDOW)
    bronze = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert bronze is not None and found["bronze_version"] == bronze.version()
    members = index.find(TRACE, [root_context.trace_id])
    assert sorted(members["ce_id"].to_pylist()) == ["child", "root"]
    for no_context in ("malformed", "forbidden", "bare"):
        [row] = index.find(EVENT, [no_context]).to_pylist()
        assert row["trace_id"] is None and row["span_id"] is None
    assert index.find(EVENT, ["x' OR '1'='1", root_context.trace_id]).num_rows == 0
    assert index.update().events == 0  # nothing new in bronze: nothing indexed twice


def test_keys_spread_over_every_bucket() -> None:
    buckets = {bucket_of(f"event-{n}") for n in range(1000)}
    assert buckets == {f"{n:x}" for n in range(event_index.BUCKETS)}
    assert bucket_of("../../_delta_log") in buckets  # any key names a bucket, never a path


def _runs_by_bucket(layout: LakeLayout) -> dict[str, list[int]]:
    """Each bucket's runs (its files by bronze-version range), oldest first: their rows."""
    table = tables.open_table(layout.event_index_uri, layout.storage_options)
    assert table is not None
    actions = pa.table(table.get_add_actions(flatten=True))
    rows: dict[str, dict[tuple[int, int], int]] = {}
    for bucket, low, high, count in zip(
        *(actions[c].to_pylist() for c in ("partition.bucket", "min.bronze_version",
                                           "max.bronze_version", "num_records")),
        strict=True,
    ):  # fmt: skip
        runs = rows.setdefault(bucket, {})
        runs[(low, high)] = runs.get((low, high), 0) + count
    return {bucket: [runs[r] for r in sorted(runs)] for bucket, runs in rows.items()}


def test_a_buckets_newest_runs_are_merged_sorted_and_every_event_is_still_found_once(
    tmp_path: Path, layout: LakeLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_index, "FANOUT", 2)
    monkeypatch.setattr(event_index, "MAX_RUNS", 3)
    root = tmp_path / "capture"
    index = EventIndex(layout)
    merged = []
    synthetic_container(root, files=2, events_per_file=20)  # bronze before any index
    ingest(layout, root)
    bronze = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert bronze is not None
    first_version = bronze.version()
    for update in range(1, 5):  # four updates of 80 events each, as 4 files of 20
        synthetic_container(root, files=4 * update, events_per_file=20)
        ingest(layout, root)
        merged.append(index.update().rows_merged)
        for runs in _runs_by_bucket(layout).values():  # oldest first
            assert len(runs) <= 3
    assert merged[0] == 0 and sum(merged) > 0
    ids = [f"{p}-{s}" for p in range(4) for s in range(80)]
    found = index.find(EVENT, ids)
    assert sorted(found["key"].to_pylist()) == sorted(ids)  # once each
    [first] = index.find(EVENT, ["0-0"]).to_pylist()
    assert first["bronze_version"] == first_version  # the version that added it, merged or not
    assert index.find(EVENT, ["4-0"]).num_rows == 0
    assert "event index" in vacuum_lake(layout, retention_hours=1).files_deleted


def test_rows_bronze_holds_without_a_trace_id_are_indexed_by_their_traceparent(
    tmp_path: Path,
) -> None:
    """Rows ingested before bronze had `trace_id` (null there) are parsed while indexing;
    a malformed header stays no trace."""
    layout = LakeLayout(tmp_path / "lake")
    layout.create()
    root_context, child = _traced_file(tmp_path / "capture")
    ingest(layout, tmp_path / "capture")
    bronze = tables.open_table(layout.bronze_uri)
    assert bronze is not None
    bronze.update({"trace_id": "CAST(NULL AS STRING)"})
    index = EventIndex(layout)
    assert index.update().events == 5
    members = index.find(TRACE, [root_context.trace_id])
    assert sorted(members["ce_id"].to_pylist()) == ["child", "root"]
    [found] = index.find(EVENT, ["child"]).to_pylist()
    assert (found["trace_id"], found["parent_span_id"]) == (child.trace_id, root_context.span_id)
    for no_context in ("malformed", "forbidden", "bare"):
        [row] = index.find(EVENT, [no_context]).to_pylist()
        assert row["trace_id"] is None and row["span_id"] is None


def test_an_index_written_before_it_kept_trace_ids_is_rebuilt_from_bronze_once(
    tmp_path: Path,
) -> None:
    layout = LakeLayout(tmp_path / "lake")
    layout.create()
    root_context, _ = _traced_file(tmp_path / "capture")
    ingest(layout, tmp_path / "capture")
    bronze = tables.open_table(layout.bronze_uri)
    assert bronze is not None
    old_schema = pa.schema([f for f in event_index.INDEX_SCHEMA if f.name != "trace_id"])
    old = commits.ensure_table(
        layout.event_index_uri, old_schema, partition_by=event_index.PARTITION_COLUMNS
    )
    commits.commit(old, Write(old_schema, old_schema.empty_table()), {BRONZE: bronze.version()})
    index = EventIndex(layout)
    assert index.update().events == 5  # up to date by its progress, but made whole anew
    assert index.update().events == 0
    assert sorted(index.find(TRACE, [root_context.trace_id])["ce_id"].to_pylist()) == [
        "child", "root",
    ]  # fmt: skip
    assert index.find(EVENT, ["bare"]).num_rows == 1


def _update_index(root: Path) -> None:
    """An index update whose commit waits a second: two at once both decide what to add
    before either commits, so one of them meets the other's commit."""
    commit = commits.commit

    def late(*args: Any, **kwargs: Any) -> int:
        time.sleep(1)
        return commit(*args, **kwargs)

    commits.commit = late
    EventIndex(LakeLayout(root)).update()


def test_two_processes_indexing_at_once_index_each_event_once(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path / "lake")
    layout.create()
    capture = tmp_path / "capture"
    for files in (4, 8):  # the index's first commit, then an append
        synthetic_container(capture, files=files, events_per_file=20)
        ingest(layout, capture)
        run_together(_update_index, (tmp_path / "lake",), 2, 120)
    index = tables.open_table(layout.event_index_uri)
    assert index is not None
    keys = tables.query("SELECT key FROM i WHERE kind = 'event'", i=index)["key"].to_pylist()
    assert sorted(keys) == sorted(f"{p}-{s}" for p in range(4) for s in range(40))
