"""`eda-lake trace`'s lookup at two sizes: the same shape, one lake 100 times the other.

Bronze rows are generated directly (traces of four events: a root and three children, each
with its traceparent and tracestate), committed in the same number of commits to both lakes,
and indexed after each (`EventIndex.update`, as `eda-lake trace` brings the index up to
date). Two figures, medians of the same number of lookups on each lake, taken alternately:
the index lookup (an event by its id, then its trace's events by the trace id, each opening
the index afresh), and the whole of `eda-lake trace EVENT_ID` but its printing (a tracer made
from the settings, which opens the lake and brings the index up to date, then the event's
tree with every place of each event). These events are of no catalogue type, so the places
past bronze are looked for and not found: the silver, entity and gold lookups and the
customer's chain are not timed here.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from eda_lake.lake.bronze.ingest import BRONZE_CONFIGURATION
from eda_lake.lake.bronze.schema import BRONZE_SCHEMA, PARTITION_COLUMNS, PROPERTY_MAP
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.event_index import EVENT, TRACE, EventIndex, IndexReport
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings
from eda_lake.shared import trace_context
from eda_lake.shared.cloudevents_names import TRACEPARENT_PROPERTY, TRACESTATE_PROPERTY
from eda_lake.tracing.runtime import tracer

SMALL_EVENTS = 10_000
SCALE = 100
COMMITS = 12  # enough for merges of runs of several sizes
LOOKUPS = 25
TRACE_LENGTH = 4
SOURCE = "/bench"
START = datetime(2026, 11, 1, tzinfo=UTC)


def _event_id(n: int) -> str:
    """Event number n's id: random-looking, as a UUID is (no order for statistics to use)."""
    return str(uuid.UUID(bytes=hashlib.sha256(n.to_bytes(8)).digest()[:16]))


def _bronze_rows(first: int, count: int, commit: int) -> pa.Table:
    """`count` events from number `first` on, in traces of TRACE_LENGTH."""
    ids = [_event_id(n) for n in range(first, first + count)]
    parents: list[str] = []
    states: list[str | None] = []
    traces: list[str] = []
    for n, event_id in enumerate(ids, start=first):
        root = trace_context.root_context(SOURCE, _event_id(n - n % TRACE_LENGTH))
        child = trace_context.child_context(root, SOURCE, event_id)
        context = root if n % TRACE_LENGTH == 0 else child
        parents.append(context.traceparent())
        traces.append(context.trace_id)  # as the capture decoder reads it
        states.append(context.tracestate())
    entries = [
        [(TRACEPARENT_PROPERTY, {"string": p})]
        + ([(TRACESTATE_PROPERTY, {"string": s})] if s else [])
        for p, s in zip(parents, states, strict=True)
    ]
    moments = [START + timedelta(milliseconds=n) for n in range(first, first + count)]
    partition = [str(n % 4) for n in range(first, first + count)]
    day = START.date().isoformat()
    columns = {
        "namespace": pa.repeat(pa.scalar("bench-ns"), count),
        "hub": pa.repeat(pa.scalar("bench"), count),
        "partition_id": pa.array(partition),
        "sequence_number": pa.array(range(first, first + count), pa.int64()),
        "offset": pa.array([str(n) for n in range(first, first + count)]),
        "enqueued_time": pa.array(moments, BRONZE_SCHEMA.field("enqueued_time").type),
        "partition_key": pa.nulls(count, pa.string()),
        "system_properties": pa.nulls(count, PROPERTY_MAP),
        "properties": pa.array(entries, PROPERTY_MAP),
        "schema_id": pa.nulls(count, pa.string()),
        "ce_id": pa.array(ids),
        "ce_type": pa.repeat(pa.scalar("bench.Event"), count),
        "ce_source": pa.repeat(pa.scalar(SOURCE), count),
        "ce_time": pa.array(moments, BRONZE_SCHEMA.field("ce_time").type),
        "trace_id": pa.array(traces, pa.string()),
        "body": pa.repeat(pa.scalar(b"x" * 64), count),
        "source_file": pa.array([f"bench-ns/bench/{p}/commit-{commit:03d}" for p in partition]),
        "ingested_at": pa.array(moments, BRONZE_SCHEMA.field("ingested_at").type),
        "date": pa.repeat(pa.scalar(day), count),
    }
    # Any other column of bronze (the index reads none) is null.
    return pa.table(
        [columns.get(n, pa.nulls(count, BRONZE_SCHEMA.field(n).type)) for n in BRONZE_SCHEMA.names],
        schema=BRONZE_SCHEMA,
    )


def _grow(home: Path, events: int) -> tuple[Settings, list[str], float, IndexReport]:
    """A home whose lake holds `events` bronze events in COMMITS commits, indexed after
    each; the ids of a sample of its events and the seconds indexing took."""
    home.mkdir(mode=0o700)
    settings = Settings(home=home)
    layout = LakeLayout.from_settings(settings)
    layout.create()
    table = commits.ensure_table(
        layout.bronze_uri, BRONZE_SCHEMA, partition_by=PARTITION_COLUMNS,
        configuration=BRONZE_CONFIGURATION,
    )  # fmt: skip
    index = EventIndex(layout)
    per_commit = events // COMMITS // TRACE_LENGTH * TRACE_LENGTH  # whole traces only
    indexing = 0.0
    report = IndexReport()
    for commit in range(COMMITS):
        rows = _bronze_rows(commit * per_commit, per_commit, commit)
        commits.commit(table, Write(BRONZE_SCHEMA, rows, partition_by=PARTITION_COLUMNS), {})
        started = time.perf_counter()
        report = index.update()
        indexing += time.perf_counter() - started
    sample = random.Random(5).sample(range(per_commit * COMMITS), LOOKUPS)
    ids = [_event_id(n) for n in sample]
    return settings, ids, indexing, report


def _lookup(settings: Settings, event_id: str) -> float:
    """Seconds to find the event and every event of its trace, as `eda-lake trace` does."""
    layout = LakeLayout.from_settings(settings)
    started = time.perf_counter()
    index = EventIndex(layout)
    [trace_id] = index.find(EVENT, [event_id])["trace_id"].to_pylist()
    members = index.find(TRACE, [trace_id])
    elapsed = time.perf_counter() - started
    if members.num_rows != TRACE_LENGTH:
        raise AssertionError(f"trace of {event_id}: {members.num_rows} events")
    return elapsed


def _trace(settings: Settings, event_id: str) -> float:
    """Seconds `eda-lake trace EVENT_ID` takes but printing: the tracer, then the tree."""
    started = time.perf_counter()
    roots = tracer(settings).event(event_id)
    elapsed = time.perf_counter() - started
    events = [e for root in roots for e in root.walk()]
    if len(events) != TRACE_LENGTH or not any(e.asked for e in events):
        raise AssertionError(f"trace of {event_id}: {len(events)} events")
    return elapsed


def _files(settings: Settings) -> int:
    index = tables.open_table(LakeLayout.from_settings(settings).event_index_uri)
    assert index is not None
    return len(index.file_uris())


def bench_trace_lookup() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="eda-lake-bench-trace-") as scratch:
        small, small_ids, small_indexing, _ = _grow(Path(scratch) / "small", SMALL_EVENTS)
        large, large_ids, large_indexing, _ = _grow(Path(scratch) / "large", SMALL_EVENTS * SCALE)
        _lookup(small, small_ids[0]), _lookup(large, large_ids[0])  # warm both alike
        _trace(small, small_ids[0]), _trace(large, large_ids[0])
        small_s, large_s, small_trace_s, large_trace_s = [], [], [], []
        for small_id, large_id in zip(small_ids, large_ids, strict=True):
            small_s.append(_lookup(small, small_id))
            large_s.append(_lookup(large, large_id))
            small_trace_s.append(_trace(small, small_id))
            large_trace_s.append(_trace(large, large_id))
        small_median, large_median = statistics.median(small_s), statistics.median(large_s)
        small_trace, large_trace = (
            statistics.median(small_trace_s),
            statistics.median(large_trace_s),
        )
        return {
            "small_trace_s": small_trace,
            "large_trace_s": large_trace,
            "trace_ratio": large_trace / small_trace,
            "small_events": SMALL_EVENTS,
            "large_events": SMALL_EVENTS * SCALE,
            "small_s": small_median,
            "large_s": large_median,
            "ratio": large_median / small_median,
            "small_files": _files(small),
            "large_files": _files(large),
            "large_indexing_s": large_indexing,
            "small_indexing_s": small_indexing,
        }
