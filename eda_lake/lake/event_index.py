"""The event index: where each bronze event is, found by its CloudEvents id or its trace id
at a cost that does not grow with the lake.

Event ids and trace ids are random, so bronze's own statistics (min and max per data file)
rule out nothing, and a bloom filter still costs a read of every data file's footer: on
Azure, a round trip per file, and bronze's log grows with every file too. The index is a
small Delta table beside the areas (`_index`, as the lock sits beside them), kept from
bronze's change feed by `Lake.index_events`, which the index's own asset runs after each
bronze commit and `eda-lake trace` before it looks up (indexing costs more than ingesting,
so it is no part of an ingestion). Its rows carry an
event's whole bronze place (hub, partition, sequence number, enqueued time, capture file,
the bronze version that added it and when), its trace id as bronze's `trace_id` column
holds it (the capture decoder's reading of the traceparent), and its traceparent and
tracestate, from which a lookup reads the span and its cause's for the few rows it returns;
but no body and no other property: nothing personal.

Every event has two rows: one keyed by its CloudEvents id, one by its trace id (when it
carried one), so one lookup finds an event and another every event of its trace. Rows
bronze holds from before its `trace_id` column (null there) are the only ones whose
traceparent is parsed while indexing (`trace_context.parse`); an index written before it
kept the trace id is rebuilt from bronze once. Rows are
partitioned by a bucket of the key's hash (`BUCKETS`), sorted by key in their data files,
with small row groups: a lookup opens the index's log (checkpointed every few commits), keeps
the files of one bucket whose key statistics admit the key, and reads one small row group of
each. Each update adds to a bucket one run of rows (a file, or several of disjoint key
ranges), sorted by key and covering a range of bronze versions; runs overlap each other in
key range, so a lookup reads a row group of each run. Runs are merged as a counter in base
`FANOUT` counts: a run's level is the base-`FANOUT` logarithm of its rows, and once a
bucket's newest `FANOUT` runs are of one level (or the bucket holds more than `MAX_RUNS`),
they become one sorted run, a level up. A merge replaces exactly their bronze-version range,
so a concurrent update's new run is untouched; the merges of one update are one commit. A
row is rewritten about once per level, a bucket holds fewer than `FANOUT` runs a level, and
an update's upkeep follows what it added, never the whole index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, WriterProperties

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.lake.arrow.key_hashes import text_hashes
from eda_lake.lake.bronze.schema import QUALIFIED_NAME as BRONZE
from eda_lake.lake.delta import commits, file_lookup, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared import cloudevents_names as ce
from eda_lake.shared import trace_context

BUCKETS = 16
FANOUT = 8  # runs of one level merged into one
MAX_RUNS = 3 * FANOUT  # a bucket's runs beyond which its newest are merged whatever their size
EVENT, TRACE = "event", "trace"  # what a row's key is
# Bronze's columns an index row copies, and those it reads to make one.
PLACE_COLUMNS = [
    "ce_id", "ce_source", "ce_type", "ce_time", "hub", "partition_id", "sequence_number",
    "enqueued_time", "source_file", "ingested_at", "date",
]  # fmt: skip
INDEX_SCHEMA = pa.schema(
    [
        pa.field("bucket", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("ce_id", pa.string()),
        pa.field("ce_source", pa.string()),
        pa.field("ce_type", pa.string()),
        pa.field("ce_time", UTC_MICROS),
        pa.field("trace_id", pa.string()),
        pa.field("traceparent", pa.string()),
        pa.field("tracestate", pa.string()),
        pa.field("hub", pa.string(), nullable=False),
        pa.field("partition_id", pa.string(), nullable=False),
        pa.field("sequence_number", pa.int64(), nullable=False),
        pa.field("enqueued_time", UTC_MICROS, nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("bronze_version", pa.int64(), nullable=False),
        pa.field("ingested_at", UTC_MICROS, nullable=False),
        pa.field("date", pa.string(), nullable=False),
    ]
)
PARTITION_COLUMNS = ["bucket"]
ROW_COLUMNS = [n for n in INDEX_SCHEMA.names if n not in ("bucket", "key", "kind")]
SPAN_COLUMNS = ["span_id", "parent_span_id"]  # read from the traceparent when looked up
FOUND_SCHEMA = pa.schema(  # what a lookup returns
    [INDEX_SCHEMA.field(n).with_nullable(True) for n in ["key", *ROW_COLUMNS]]
    + [pa.field(n, pa.string()) for n in SPAN_COLUMNS]
)
_HEX = np.array(list("0123456789abcdef"))
# Small row groups: a lookup reads one of them per admitted file.
INDEX_WRITER = WriterProperties(max_row_group_size=2048, compression="ZSTD")
INDEX_CONFIGURATION: dict[str, str | None] = {"delta.checkpointInterval": "10"}


def buckets_of(keys: pa.Array) -> pa.Array:
    """The bucket (partition) each key's rows are in: the top hex digit of its 64-bit
    FNV-1a hash (`arrow.key_hashes`, compiled), so that keys of any shape, hostile ones
    included, spread evenly and never name a path. The index's layout depends on it: a
    change of the hash is a rebuild of the index."""
    digits = (text_hashes(keys) >> np.uint64(64 - 4)).astype(np.intp)
    return pa.array(_HEX[digits], pa.string())


def bucket_of(key: str) -> str:
    bucket: str = buckets_of(pa.array([key], pa.string()))[0].as_py()
    return bucket


@dataclass
class IndexReport:
    bronze_version: int | None = None  # the bronze version the index holds up to
    events: int = 0  # events indexed by this update
    rows_merged: int = 0  # index rows this update rewrote, merging a bucket's newest runs


class EventIndex:
    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    @property
    def uri(self) -> str:
        return self.layout.event_index_uri

    def _table(self) -> DeltaTable | None:
        return tables.open_table(self.uri, self.layout.storage_options)

    def update(self) -> IndexReport:
        """Index the bronze events added since the index last read bronze."""
        return commits.with_retries(self._update, "the event index")

    def _update(self) -> IndexReport:
        report = IndexReport()
        bronze = tables.open_table(self.layout.bronze_uri, self.layout.storage_options)
        if bronze is None:
            return report
        index = commits.ensure_table(
            self.uri, INDEX_SCHEMA, options=self.layout.storage_options,
            partition_by=PARTITION_COLUMNS, configuration=INDEX_CONFIGURATION,
        )  # fmt: skip
        done = commits.consumed(index, [BRONZE])[BRONZE]
        rebuild = "trace_id" not in index.schema().to_arrow().names  # made before it kept it
        if rebuild:
            done = None
        report.bronze_version = version = bronze.version()
        if done is not None and done >= version:
            return report
        # A bronze not yet upgraded (no ingestion since it gained `trace_id`) has no column.
        has_trace_ids = "trace_id" in bronze.schema().to_arrow().names
        read = [*PLACE_COLUMNS, *(["trace_id"] if has_trace_ids else []), "properties"]
        mode: commits.Mode = "overwrite" if rebuild else "append"
        try:
            batches = list(tables.inserted_batches(bronze, done, version, read))
        except tables.ChangeFeedUnavailableError:  # vacuumed, or new: the whole snapshot
            batches = tables.query(
                f"SELECT {', '.join(read)}, "  # names only, no value
                f"CAST({version} AS BIGINT) AS _commit_version FROM bronze",
                bronze=bronze,
            ).to_batches()
            mode = "overwrite"
        rows = index_rows(batches)
        report.events = sum(b.num_rows for b in batches)
        write = Write(
            INDEX_SCHEMA, rows, mode=mode, partition_by=PARTITION_COLUMNS,
            writer_properties=INDEX_WRITER,
        )  # fmt: skip
        commits.commit(index, write, {BRONZE: version})
        merges = _runs_to_merge(index)
        if merges:
            report.rows_merged = _merge(index, merges)
        return report

    def find(self, kind: str, keys: list[str]) -> pa.Table:
        """The index's rows of these keys of one kind (EVENT or TRACE), as `FOUND_SCHEMA`;
        none when the index does not exist yet."""
        table = self._table()
        if table is None or not keys:
            return FOUND_SCHEMA.empty_table()
        wanted: dict[file_lookup.Partition, list[str]] = {}
        for key in keys:
            wanted.setdefault((("bucket", bucket_of(key)),), []).append(key)
        root = self.layout.fs_path("_index")
        rows = file_lookup.rows_holding(
            table, self.layout.fs, root, "key", wanted, ["key", "kind", *ROW_COLUMNS]
        )
        found = rows.filter(pc.equal(rows["kind"], kind))
        contexts = [
            trace_context.parse(parent, state) if trace else None
            for trace, parent, state in zip(
                found["trace_id"].to_pylist(),
                found["traceparent"].to_pylist(),
                found["tracestate"].to_pylist(),
                strict=True,
            )
        ]
        for name in SPAN_COLUMNS:
            values = [getattr(c, name) if c else None for c in contexts]
            found = found.append_column(name, pa.array(values, pa.string()))
        return found.select(FOUND_SCHEMA.names).cast(FOUND_SCHEMA)


def index_rows(batches: list[pa.RecordBatch]) -> pa.Table:
    """Bronze rows (`PLACE_COLUMNS`, `trace_id` if bronze has it, `properties`,
    `_commit_version`) as index rows: each keyed by its event id, and again by its trace id
    when it carried a valid traceparent; sorted by bucket and key, so that each data file's
    key statistics are narrow."""
    parts = []
    for batch in batches:
        if batch.num_rows == 0:
            continue
        parent = _property(batch, ce.TRACEPARENT)
        names = batch.schema.names
        known = batch.column("trace_id") if "trace_id" in names else pa.nulls(batch.num_rows)
        trace = _trace_ids(known.cast(pa.string()), parent)
        columns = {name: batch.column(name) for name in PLACE_COLUMNS}
        columns |= {
            "trace_id": trace,
            "traceparent": parent,
            "tracestate": _property(batch, ce.TRACESTATE),
            "bronze_version": batch.column("_commit_version").cast(pa.int64()),
        }
        rows = pa.table(columns)
        for kind, keys in ((EVENT, batch.column("ce_id")), (TRACE, trace)):
            present = pc.is_valid(keys)
            keyed = rows.filter(present)
            chosen = pc.filter(keys, present)
            parts.append(
                keyed.append_column("key", chosen.cast(pa.string()))
                .append_column("kind", pa.repeat(pa.scalar(kind), keyed.num_rows))
                .append_column("bucket", buckets_of(chosen))
            )
    if not parts:
        return INDEX_SCHEMA.empty_table()
    table = pa.concat_tables(parts).select(INDEX_SCHEMA.names)
    return table.cast(INDEX_SCHEMA).sort_by([("bucket", "ascending"), ("key", "ascending")])


def _trace_ids(column: pa.Array, parent: pa.Array) -> pa.Array:
    """Bronze's trace ids, and where it has none but a traceparent was sent (a row ingested
    before bronze had the column, or a malformed header) the one `trace_context.parse`
    reads: those rows alone are parsed here."""
    unread = pc.and_(pc.is_null(column), pc.is_valid(parent))
    if not pc.any(unread).as_py():
        return column
    contexts = (trace_context.parse(h) for h in pc.filter(parent, unread).to_pylist())
    parsed = pa.array([c.trace_id if c else None for c in contexts], pa.string())
    return pc.replace_with_mask(column, unread, parsed)


def _property(batch: pa.RecordBatch, attribute: str) -> pa.Array:
    """An attribute's text in each row's properties, under the first CloudEvents prefix
    that holds it."""
    found: pa.Array = pa.nulls(batch.num_rows, pa.string())
    properties = batch.column("properties")
    for prefix in ce.READ_PREFIXES:
        entry = pc.map_lookup(properties, prefix + attribute, "first")
        value = pc.struct_field(entry, "string")  # null where the entry is (`.field` is not)
        found = pc.coalesce(found, value)
    return found


def _runs_to_merge(index: DeltaTable) -> dict[str, tuple[int, int]]:
    """For each bucket whose newest runs are to be merged, the bronze versions they span.

    A run is the data files of one bronze-version range (a file's statistics give its
    range; an update's or a merge's files share theirs)."""
    actions = pa.table(index.get_add_actions(flatten=True))
    runs: dict[str, dict[tuple[int, int], int]] = {}
    for bucket, low, high, rows in zip(
        *(actions[c].to_pylist() for c in ("partition.bucket", "min.bronze_version",
                                           "max.bronze_version", "num_records")),
        strict=True,
    ):  # fmt: skip
        by_range = runs.setdefault(bucket, {})
        by_range[(low, high)] = by_range.get((low, high), 0) + rows
    chosen = {}
    for bucket, by_range in runs.items():
        newest = sorted(by_range, reverse=True)[:FANOUT]  # ranges are disjoint
        levels = {_level(by_range[r]) for r in newest}
        if len(newest) == FANOUT and (len(levels) == 1 or len(by_range) > MAX_RUNS):
            chosen[bucket] = (newest[-1][0], newest[0][1])
    return chosen


def _level(rows: int) -> int:
    return int(math.log(max(rows, 1), FANOUT))


def _merge(index: DeltaTable, merges: dict[str, tuple[int, int]]) -> int:
    """Rewrite each bucket's rows of these bronze versions as one run sorted by key, in
    place of the files holding them, in one commit; the rows rewritten."""
    where = " OR ".join(
        f"(bucket = '{bucket}' AND bronze_version >= {first} AND bronze_version <= {last})"
        for bucket, (first, last) in sorted(merges.items())
    )  # a bucket is a hex digit (`buckets_of`), versions are numbers: nothing else in it
    rows: pa.Table = tables.query(f"SELECT * FROM i WHERE {where} ORDER BY bucket, key", i=index)
    write = Write(
        INDEX_SCHEMA, rows.select(INDEX_SCHEMA.names).cast(INDEX_SCHEMA), mode="replace",
        predicate=where, writer_properties=INDEX_WRITER,
    )  # fmt: skip
    # No input version: a concurrent update may have recorded a newer one meanwhile.
    commits.commit(index, write, {})
    merged: int = rows.num_rows
    return merged
