"""Silver: what the events mean. Bodies decoded through the registry, typed, deduplicated.

Per catalogue event, new bronze rows (from bronze's change feed, after the bronze version the
table records as consumed) are decoded with their writer's schema and projected onto the
catalogue's schema by name, so a field added later is null for older events. Hub names match
case-insensitively, as Event Hubs treats them. Rows are deduplicated exactly on CloudEvents
`source` + `id` against the whole table, reading only the key columns of the existing rows
with those ids, then appended: nothing already there is rewritten. The bronze version read is
committed with the rows (`commits`), also when nothing is new, so a re-run or a crash neither
skips nor repeats anything.

A run holds neither bronze's change feed nor its decoded rows whole: the feed is read once,
only the catalogue's hubs (a predicate on bronze's partition column skips the others' files),
batch by batch; each batch is split once by hub and CloudEvents type and decoded into its
table's staged data files, keeping only each row's delivery order in memory for the exact
dedup; then each table lands on its own, in one commit that adds its staged files (or, when
some staged rows are not new, their kept rows written anew).

Every row read ends in exactly one outcome: inserted, duplicate, quarantined (a known schema
that fails to decode, a value later layers cannot hold, no CloudEvents key), no schema (a body
naming no registry schema: it stays in bronze only), or unknown schema (a schema id the
registry does not know: also quarantined, so a retry lands it once the schema is registered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import BloomFilterProperties, ColumnProperties, DeltaTable, WriterProperties
from deltalake.transaction import AddAction

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.catalogue import Catalogue, EventSpec, Hub
from eda_lake.lake.arrow.avro import arrow_fields
from eda_lake.lake.arrow.key_hashes import pair_hashes, repeated
from eda_lake.lake.arrow.memory import give_back
from eda_lake.lake.bronze.schema import QUALIFIED_NAME
from eda_lake.lake.delta import commits, freshness, tables
from eda_lake.lake.delta.commits import TableRun, Write
from eda_lake.lake.delta.data_files import ROW_GROUP_ROWS, DataFileWriter
from eda_lake.lake.derived.declarations import event_table, qualified
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import COORDINATES, EVENTS_SCHEMA, Quarantine, now
from eda_lake.lake.silver.masking import Masker, mask_personal_columns
from eda_lake.lake.silver.payloads import decode_payloads
from eda_lake.registry.base import RegistryError, SchemaNotFoundError, SchemaRegistry
from eda_lake.registry.schema import SchemaDefinitionError
from eda_lake.shared.progress import Progress, no_progress

BRONZE = QUALIFIED_NAME
NO_KEY = "no CloudEvents id and source: cannot deduplicate"
META_PASSTHROUGH = (
    "hub", "partition_id", "sequence_number", "enqueued_time", "schema_id", "source_file",
)  # fmt: skip
META_SOURCE_COLUMNS = ["ce_source", "ce_id", "ce_time", *META_PASSTHROUGH]
BRONZE_COLUMNS = [
    "hub", "partition_id", "sequence_number", "enqueued_time", "schema_id",
    "ce_id", "ce_source", "ce_time", "ce_type", "body", "source_file", "trace_id",
]  # fmt: skip
# The lake's own columns added after the event tables' first release, last in every table
# (after the payload's): a table written before them takes them in place (`evolution`).
# Each is read from bronze's column of the same name, which a bronze not written since it
# gained it lacks: its rows read null.
ADDED_FIELDS = [pa.field("trace_id", pa.string())]
META_FIELDS = [
    pa.field("event_source", pa.string(), nullable=False),
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("event_time", UTC_MICROS),
    pa.field("hub", pa.string(), nullable=False),
    pa.field("partition_id", pa.string(), nullable=False),
    pa.field("sequence_number", pa.int64(), nullable=False),
    pa.field("enqueued_time", UTC_MICROS, nullable=False),
    pa.field("schema_id", pa.string(), nullable=False),
    pa.field("source_file", pa.string(), nullable=False),
]
# What each metadata column holds, for the data dictionary (`lake.dictionary`).
META_DESCRIPTIONS: dict[str, str] = {
    "event_source": "CloudEvents `source` of the event (bronze's `ce_source`): the producing "
    "team's URI reference; with `event_id` it identifies the event, once in the table.",
    "event_id": "CloudEvents `id` of the event (bronze's `ce_id`), unique per `event_source`.",
    "event_time": "CloudEvents `time`: when the producer says it happened, UTC; null when "
    "the producer sent none.",
    "hub": "Event hub the event was read from.",
    "partition_id": "Event hub partition that held the event, as text.",
    "sequence_number": "Position of the event in its hub partition, assigned by Event Hubs; "
    "with `hub` and `partition_id` it finds the row in bronze.",
    "enqueued_time": "When Event Hubs accepted the event (its first delivery, when it was "
    "sent twice), UTC.",
    "schema_id": "Schema registry id of the writer schema the body was decoded with.",
    "source_file": "Path of the capture file the event came in, as in bronze.",
    "trace_id": "W3C trace id of the event's CloudEvents `traceparent` (bronze's `trace_id`): "
    "the trace it belongs to, shared by the events it caused and was caused by; null when it "
    "carried none (a foreign producer's, or sent before events carried one) or a malformed one.",
}


def event_table_description(spec: EventSpec) -> str:
    """What a catalogue event's silver table holds: how it was made, then the .avsc doc."""
    return (
        f"{spec.name}, decoded through the schema registry, deduplicated on source + id, "
        f"personal fields masked: {spec.schema.parsed.get('doc', '')}"
    )


# Rows written anew (a run that dropped duplicates, a quarantine retry): as the staged files.
SILVER_WRITER = WriterProperties(
    max_row_group_size=64 * 1024,
    compression="ZSTD",
    column_properties={
        "event_id": ColumnProperties(
            bloom_filter_properties=BloomFilterProperties(set_bloom_filter_enabled=True, fpp=0.01)
        ),
    },
)
MAX_LOOKED_UP_IDS = 10_000
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Timestamps a later layer (DataFusion dates, Python datetimes, pandas) can hold.
EARLIEST = datetime(1678, 1, 1, tzinfo=UTC)
LATEST = datetime(2261, 12, 31, tzinfo=UTC)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def event_schema(spec: EventSpec) -> pa.Schema:
    """The silver table of a catalogue event: its metadata columns, its fields, then the
    lake's columns added since (`ADDED_FIELDS`)."""
    return pa.schema(META_FIELDS + arrow_fields(spec.schema.parsed) + ADDED_FIELDS)


@dataclass
class SilverReport:
    bronze_version: int | None = None  # the bronze version every table not failed consumed
    rows_read: int = 0
    decoded: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # replays of an event already in silver (same source + id), dropped
    quarantined: int = 0
    no_schema: int = 0  # JSON or other bodies naming no registry schema: bronze only
    unknown_schema: int = 0  # a schema id the registry does not know: quarantined
    runs: dict[str, TableRun] = field(default_factory=dict)

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.rows_read if self.rows_read else 0.0

    def outcomes(self) -> dict[str, int]:
        """Every row read, in exactly one outcome: these add up to `rows_read`."""
        return {
            "inserted": sum(self.inserted.values()),
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "no_schema": self.no_schema,
            "unknown_schema": self.unknown_schema,
        }

    def add(self, spec: EventSpec, run: TableRun) -> None:
        self.runs[spec.name] = run
        self.rows_read += run.counts.get("rows_read", 0)
        self.decoded[spec.name] = run.counts.get("decoded", 0)
        self.inserted[spec.name] = run.counts.get("inserted", 0)
        self.duplicates += run.counts.get("duplicates", 0)
        self.quarantined += run.counts.get("quarantined", 0)
        self.no_schema += run.counts.get("no_schema", 0)
        self.unknown_schema += run.counts.get("unknown_schema", 0)


@dataclass
class _Decoded:
    rows: pa.Table  # as the silver table's schema
    failures: list[tuple[int, str]]  # (row of the input, reason): quarantined
    no_schema: int
    unknown: list[int]  # rows naming a schema the registry does not know
    positions: pa.Array  # the input row of each decoded row


# Failed rows (with their bodies) held in memory before they are quarantined.
MAX_HELD_QUARANTINE_ROWS = 20_000
# A staged row's key: its delivery's order is held in memory while the run reads bronze,
# its CloudEvents source and id (most of a key's bytes) read back from the staged files when
# the table lands.
ORDER_COLUMNS = ["enqueued_time", "sequence_number"]
ID_COLUMNS = ["event_source", "event_id"]
# The staged data files' layout: statistics for the columns a reader filters by, dictionary
# pages for the columns of few values (a payload column of many falls back to plain pages).
STATS_COLUMNS = ("hub", "partition_id", "sequence_number", "source_file")
PLAIN_COLUMNS = ("event_id", "event_time", "enqueued_time", "sequence_number")
# Exact dedup looks ids up in the existing table: a bloom filter per row group lets the
# reader skip row groups that cannot hold any of the new ids.
BLOOM_FILTERS = {"event_id": {"ndv": ROW_GROUP_ROWS, "fpp": 0.01}}


class _Staged:
    """One table's share of a run: its rows decoded batch by batch into Parquet data files
    in the table's own directory (values already masked; raw bodies are never staged), and
    their keys, held in memory for exact dedup at the commit, so a run holds neither all its
    rows nor all its bodies (nor, until it lands, the text of their keys).

    The files are written on a thread of their own while the next batches decode
    (`data_files.DataFileWriter`, as bronze writes), and are no part of the table until a
    commit adds them: when every staged row is new (the usual case) the commit adds the
    files as they are; otherwise the kept rows are written anew and the staged files
    deleted. A run that dies leaves files no snapshot references, which the table's vacuum
    deletes."""

    def __init__(
        self, spec: EventSpec, done: int | None, *, staging: bool, layout: LakeLayout
    ) -> None:
        self.spec = spec
        self.done = done  # the bronze version the table had consumed when the read began
        self.schema = tables.stored_schema(event_schema(spec))  # as the staged files hold it
        self.staging = staging  # whether rows may be staged (a table that is behind)
        self.layout = layout
        self.root = layout.fs_path("silver", event_table(spec.name))
        self.writer: DataFileWriter | None = None
        self.files: list[AddAction] = []  # the staged files, once finished
        self.quarantine: list[pa.Table] = []  # failed rows not yet quarantined
        self.reset()

    def reset(self) -> None:
        """Forget what was staged (the read starts again)."""
        self.close()
        self._keys: list[pa.Table] = []
        self.staged = 0
        self.files = []
        self.quarantine.clear()
        self.counts = {
            "rows_read": 0, "decoded": 0, "quarantined": 0, "no_schema": 0, "unknown_schema": 0,
        }  # fmt: skip

    def close(self) -> None:
        """Delete the staged files, unless a commit made them the table's."""
        if self.writer is not None:
            self.writer.abort()
        self.writer = None

    def add(self, rows: pa.Table, versions: pa.Array) -> None:
        """Stage decoded rows (the table's schema), read from these bronze versions."""
        if rows.num_rows == 0:
            return
        if not self.staging:
            raise ValueError(f"{self.spec.name}: rows staged for a table that is not behind")
        if self.writer is None:
            self.writer = DataFileWriter(
                self.layout.fs, self.root, self.schema, [], stats_columns=STATS_COLUMNS,
                target_bytes=commits.TARGET_FILE_BYTES,
                dictionary_columns=tuple(n for n in self.schema.names if n not in PLAIN_COLUMNS),
                bloom_filters=BLOOM_FILTERS,
            )  # fmt: skip
        for batch in rows.cast(self.schema).to_batches():
            self.writer.write(batch, {})
        self._keys.append(rows.select(ORDER_COLUMNS).append_column("_commit_version", versions))
        self.staged += rows.num_rows
        self.counts["decoded"] += rows.num_rows

    def finish(self) -> None:
        """Wait for the staged files to be written."""
        if self.writer is not None and not self.files:
            self.files = self.writer.finish()

    def keys_table(self) -> pa.Table:
        """The staged rows' keys, with `_commit_version` and `_staged` (their position)."""
        types = {name: self.schema.field(name).type for name in ID_COLUMNS + ORDER_COLUMNS}
        if not self._keys:
            empty = {name: pa.array([], type_) for name, type_ in types.items()}
            return pa.table(
                {
                    **empty,
                    "_commit_version": pa.array([], pa.int64()),
                    "_staged": pa.array([], pa.int64()),
                }
            )
        ids = [b for f in self.files for b in self._file_batches(f, ID_COLUMNS)]
        order = pa.concat_tables(self._keys)
        id_schema = pa.schema([self.schema.field(name) for name in ID_COLUMNS])
        keys = pa.Table.from_batches([b.cast(id_schema) for b in ids], id_schema)
        if keys.num_rows != order.num_rows:
            raise RuntimeError(
                f"{self.spec.name}: {keys.num_rows} rows in the staged files, "
                f"{order.num_rows} staged"
            )
        for name in order.column_names:
            keys = keys.append_column(name, order[name])
        return keys.append_column("_staged", pa.array(np.arange(self.staged), pa.int64()))

    def _file_batches(
        self, action: AddAction, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        with self.layout.fs.open_input_file(f"{self.root}/{action.path}") as source:
            yield from pq.ParquetFile(source).iter_batches(ROW_GROUP_ROWS, columns=columns)

    def rows(self, positions: pa.Array | pa.ChunkedArray | None) -> Iterator[pa.RecordBatch]:
        """The staged rows at these positions (None: every row), batch by batch."""
        if self.staged == 0:
            return
        keep = None
        if positions is not None and len(positions) < self.staged:
            mask = np.zeros(self.staged, dtype=bool)
            mask[np.asarray(positions, dtype=np.int64)] = True
            keep = pa.array(mask)
        offset = 0
        for action in self.files:  # in the order the rows were staged
            for batch in self._file_batches(action):
                if keep is not None:
                    selected = keep.slice(offset, batch.num_rows)
                    offset += batch.num_rows
                    batch = batch.filter(selected)
                yield batch.cast(self.schema)


@contextmanager
def _released(stages: list[_Staged]) -> Iterator[None]:
    """Close every stage's file when the run ends, however it ends."""
    try:
        yield
    finally:
        for stage in stages:
            stage.close()


class _Route:
    """Which table each bronze row belongs to: the catalogue event of its hub (any case)
    and CloudEvents type; a type the hub does not carry goes to the hub's first event (which
    quarantines it, naming it). A hub may carry several events: a row of one this run does
    not build waits for that event's run."""

    def __init__(self, specs: list[EventSpec], catalogue: Catalogue) -> None:
        self.by_type: dict[tuple[str, str], int | None] = {}
        self.by_hub: dict[str, int] = {}
        staged = {spec.name: index for index, spec in enumerate(specs)}
        for hub in catalogue.hubs.values():
            for spec in hub.events:
                for name in spec.schema.names:
                    self.by_type.setdefault((hub.name.lower(), name), staged.get(spec.name))
            if hub.events[0].name in staged:
                self.by_hub[hub.name.lower()] = staged[hub.events[0].name]

    def targets(self, batch: pa.RecordBatch) -> pa.Array:
        """Each row's table (an index into the specs), or null: split once per batch."""
        hubs = pc.utf8_lower(batch["hub"])
        types = pc.fill_null(batch["ce_type"], "")
        pairs = pc.binary_join_element_wise(hubs, types, "\n")
        distinct = pc.unique(pairs)
        target = []
        for pair in distinct.to_pylist():
            hub, _, ce_type = pair.partition("\n")
            key = (hub, ce_type)
            target.append(self.by_type[key] if key in self.by_type else self.by_hub.get(hub))
        return pc.take(pa.array(target, pa.int32()), pc.index_in(pairs, value_set=distinct))


def _hubs_predicate(specs: list[EventSpec]) -> str:
    """The rows of these events' hubs, in any case: a predicate on bronze's partition
    column, so the other hubs' files are not read."""
    hubs = pa.array(sorted({spec.hub.lower() for spec in specs}), pa.string())
    return tables.in_list("lower(hub)", hubs)


class SilverBuilder:
    def __init__(
        self,
        layout: LakeLayout,
        catalogue: Catalogue,
        registry: SchemaRegistry,
        masker: Masker,
    ) -> None:
        self.layout = layout
        self.catalogue = catalogue
        self.registry = registry
        self.masker = masker
        self.quarantine = Quarantine(layout)
        self.options = layout.storage_options

    def uri(self, spec: EventSpec) -> str:
        return self.layout.table_uri("silver", event_table(spec.name))

    def run(
        self, events: Iterable[str] | None = None, progress: Progress = no_progress
    ) -> SilverReport:
        report = SilverReport()
        bronze = tables.open_table(self.layout.bronze_uri, self.options)
        if bronze is None:
            return report
        specs = [self.catalogue.events[name] for name in events or self.catalogue.events]
        report.bronze_version = bronze.version()
        consumed = {
            spec.name: commits.consumed(tables.open_table(self.uri(spec), self.options), [BRONZE])[
                BRONZE
            ]
            for spec in specs
        }
        # One read of bronze's change feed, from the table furthest behind, staged per
        # table; then each table lands on its own.
        behind = [
            _Staged(spec, consumed[spec.name], staging=True, layout=self.layout)
            for spec in specs
            if consumed[spec.name] is None or consumed[spec.name] < bronze.version()  # type: ignore[operator]
        ]
        # Every table's watermark: the newest event of the bronze snapshot it takes in.
        newest = freshness.newest_enqueued(bronze)
        with _released(behind):
            if behind:
                self._changes(bronze, behind)
                give_back()  # bronze's reader is done: its pages are not the landing's
            staged = {stage.spec.name: stage for stage in behind}
            for done, spec in enumerate(specs):
                stage = staged.get(spec.name) or _Staged(
                    spec, consumed[spec.name], staging=False, layout=self.layout
                )
                land = partial(self._attempt, spec, bronze, stage, newest=newest)
                run = commits.run_table(
                    qualified("silver", event_table(spec.name)),
                    partial(commits.with_retries, land, f"silver {event_table(spec.name)}"),
                )
                stage.close()  # landed or failed: its staged rows are not read again
                report.add(spec, run)
                progress("silver", done + 1, len(specs), "tables")
        return report

    def rebuild(self, progress: Progress = no_progress) -> SilverReport:
        """Every event table replaced by what all of bronze decodes to now, each in one
        overwrite commit recording the bronze version read: a reader sees the old table
        until the new one is committed."""
        report = SilverReport()
        bronze = tables.open_table(self.layout.bronze_uri, self.options)
        if bronze is None:
            return report
        report.bronze_version = bronze.version()
        specs = list(self.catalogue.events.values())
        stages = [_Staged(spec, None, staging=True, layout=self.layout) for spec in specs]
        newest = freshness.newest_enqueued(bronze)
        with _released(stages):
            self._stage(_snapshot(bronze, _hubs_predicate(specs)), stages)
            give_back()
            for done, (spec, stage) in enumerate(zip(specs, stages, strict=True)):
                attempt = partial(self._attempt, spec, bronze, stage, newest=newest, replace=True)
                run = commits.run_table(
                    qualified("silver", event_table(spec.name)),
                    partial(commits.with_retries, attempt, f"rebuilding {event_table(spec.name)}"),
                )
                stage.close()
                report.add(spec, run)
                progress("silver", done + 1, len(specs), "tables")
        return report

    def _changes(self, bronze: DeltaTable, stages: list[_Staged]) -> None:
        """Stage the rows of bronze's change feed each table has not consumed: only the
        catalogue's hubs are read, batch by batch."""
        done = [stage.done for stage in stages]
        after = None if None in done else min(v for v in done if v is not None)
        hubs = _hubs_predicate([stage.spec for stage in stages])
        try:
            self._stage(
                tables.inserted_batches(
                    bronze, after, bronze.version(), _bronze_columns(bronze), hubs
                ),
                stages,
            )
        except tables.ChangeFeedUnavailableError:
            # The change feed from there was vacuumed away: read the whole snapshot; exact
            # dedup makes re-reading what silver already holds harmless.
            for stage in stages:
                stage.reset()
            self._stage(_snapshot(bronze, hubs), stages)

    def _stage(self, batches: Iterable[pa.RecordBatch], stages: list[_Staged]) -> None:
        """Decode each batch's rows into the stage of their table: each batch is split once
        by (hub, CloudEvents type)."""
        route = _Route([stage.spec for stage in stages], self.catalogue)
        for batch in batches:
            targets = route.targets(batch)
            for index, stage in enumerate(stages):
                mine = pc.equal(targets, pa.scalar(index, pa.int32()))
                if stage.done is not None:
                    after = pa.scalar(stage.done, pa.int64())
                    mine = pc.and_(mine, pc.greater(batch["_commit_version"], after))
                rows = pa.Table.from_batches([batch.filter(mine)])
                if rows.num_rows:
                    self._stage_rows(stage, rows)
        for stage in stages:
            stage.finish()

    def _stage_rows(self, stage: _Staged, rows: pa.Table) -> None:
        spec = stage.spec
        decoded = self._decode(spec, rows)
        stage.add(decoded.rows, rows["_commit_version"].take(decoded.positions))
        stage.counts["rows_read"] += rows.num_rows
        stage.counts["quarantined"] += len(decoded.failures)
        stage.counts["no_schema"] += decoded.no_schema
        stage.counts["unknown_schema"] += len(decoded.unknown)
        if decoded.failures or decoded.unknown:
            reasons = decoded.failures + [
                (i, f"unknown schema id {rows['schema_id'][i].as_py()!r}: the registry does "
                 "not know it; register it, then run `eda-lake quarantine retry --events`")
                for i in decoded.unknown
            ]  # fmt: skip
            stage.quarantine.append(
                _quarantine_rows(rows, reasons, qualified("silver", event_table(spec.name)))
            )
            if sum(len(t) for t in stage.quarantine) >= MAX_HELD_QUARANTINE_ROWS:
                self._quarantine_held(stage)

    def _quarantine_held(self, stage: _Staged) -> None:
        """Quarantine the stage's failed rows held so far (their raw bodies are never staged
        on disk); quarantining is idempotent, so a run that dies after it repeats nothing."""
        if stage.quarantine:
            self.quarantine.add_events(pa.concat_tables(stage.quarantine))
            stage.quarantine.clear()

    def _attempt(
        self,
        spec: EventSpec,
        bronze: DeltaTable,
        stage: _Staged,
        *,
        newest: datetime | None,
        replace: bool = False,
    ) -> TableRun:
        """Land the staged rows the table has not consumed (with `replace`: replace the table
        by all of them), in one commit recording the bronze version read and its watermark
        (`newest`, the newest event of that bronze snapshot)."""
        run = TableRun(qualified("silver", event_table(spec.name)))
        target_version = bronze.version()
        table = tables.open_table(self.uri(spec), self.options)
        done = None if replace else commits.consumed(table, [BRONZE])[BRONZE]
        if done is not None and done >= target_version:
            run.version, run.inputs = table.version() if table else None, {BRONZE: done}
            return run
        self._quarantine_held(stage)
        keys = stage.keys_table()
        if done is not None and (stage.done is None or done > stage.done):
            # Another run landed more since this one read: only what it did not land.
            keys = keys.filter(pc.greater(keys["_commit_version"], pa.scalar(done, pa.int64())))
        unique = _first_per_key(keys)
        new = unique if replace else _not_in(table, unique)
        if table is None:
            table = commits.first_commit_table(
                self.uri(spec), stage.schema, options=self.options,
                configuration=tables.CHANGE_FEED,
            )  # fmt: skip
        mode: commits.Mode = "overwrite" if replace else "append"
        recorded = freshness.watermark_transaction(newest)
        if stage.files and new.num_rows == stage.staged and _holds(table, stage.schema):
            run.version = _commit_staged(table, stage, mode, {BRONZE: target_version}, recorded)
        else:  # some staged rows are not new, or the table's schema is older: write anew
            write = Write(
                stage.schema, stage.rows(new["_staged"]), mode=mode,
                writer_properties=SILVER_WRITER, app_transactions=recorded,
            )  # fmt: skip
            run.version = commits.commit(table, write, {BRONZE: target_version})
        if not replace:  # publish to this commit, of the events it inserted
            committed_at = freshness.commit_time(table, run.version)
            run.latency = freshness.latency(
                freshness.enqueued_micros(new["enqueued_time"]), committed_at
            )
        # Events quarantined once (an unknown schema since registered, a decoder since
        # fixed) that decoded now are in the table: their quarantine rows are resolved.
        resolved = self._resolve_landed(run.table, stage)
        run.outcome, run.inputs, run.rows_written = (
            "committed",
            {BRONZE: target_version},
            new.num_rows,
        )
        decoded = stage.counts["decoded"]
        run.counts = {
            **stage.counts,
            "inserted": new.num_rows,
            "duplicates": decoded - new.num_rows,
            "quarantine_resolved": resolved,
        }
        return run

    def _resolve_landed(self, table: str, stage: _Staged) -> int:
        open_rows = self.quarantine.open_events(table)
        if open_rows.num_rows == 0:
            return 0
        found: list[str] = []
        for batch in stage.rows(None):
            landed = pa.Table.from_batches([batch]).select(COORDINATES)
            hits = open_rows.join(landed, COORDINATES, join_type="left semi", use_threads=False)
            found += hits["quarantine_id"].to_pylist()
        return self.quarantine.resolve_events(found)

    def retry(self, quarantined: pa.Table) -> tuple[int, list[str]]:
        """Decode quarantined events again (after a fix) and land those that now decode, each
        once; returns (events landed, quarantine ids now resolved)."""
        landed, resolved = 0, []
        quarantined = self._with_types(quarantined)
        hubs = pc.utf8_lower(quarantined["hub"])
        for spec in self.catalogue.events.values():
            rows = quarantined.filter(pc.equal(hubs, spec.hub.lower()))
            if rows.num_rows == 0:
                continue
            decoded = self._decode(spec, rows)
            failed = {i for i, _ in decoded.failures} | set(decoded.unknown)
            ok = [
                i for i in range(rows.num_rows) if i not in failed and rows["schema_id"][i].is_valid
            ]

            def attempt(spec: EventSpec = spec, decoded: _Decoded = decoded) -> int:
                table = tables.open_table(self.uri(spec), self.options)
                new = _not_in(table, _first_per_key(decoded.rows))
                if table is None:
                    table = commits.first_commit_table(
                        self.uri(spec), new.schema, options=self.options,
                        configuration=tables.CHANGE_FEED,
                    )  # fmt: skip
                # Recording the progress it already has makes a concurrent silver run and
                # this retry conflict, so neither inserts what the other just did.
                done = commits.consumed(table, [BRONZE])[BRONZE]
                inputs = {} if done is None else {BRONZE: done}
                commits.commit(
                    table, Write(new.schema, new, writer_properties=SILVER_WRITER), inputs
                )
                landed: int = new.num_rows
                return landed

            landed += commits.with_retries(attempt, f"retrying {event_table(spec.name)}")
            resolved += [rows["quarantine_id"][i].as_py() for i in ok]
        return landed, resolved

    def _with_types(self, quarantined: pa.Table) -> pa.Table:
        """Quarantined events with their CloudEvents `type` and trace id, read from their
        bronze rows (the quarantine keeps the body, not these): a retry lands only each
        event's own type."""
        bronze = tables.open_table(self.layout.bronze_uri, self.options)
        if bronze is None:  # no bronze, no type: nothing lands
            return quarantined.append_column("ce_type", pa.nulls(len(quarantined), pa.string()))
        files = tables.in_list("source_file", pc.unique(quarantined["source_file"]))
        read = [c for c in _bronze_columns(bronze) if c in ("ce_type", "trace_id")]
        found = tables.query(
            f"SELECT {', '.join([*COORDINATES, *read])} FROM bronze WHERE {files}", bronze=bronze
        )
        keys = [quarantined.schema.field(c) for c in COORDINATES]
        found = found.cast(pa.schema([*keys, *(pa.field(c, pa.string()) for c in read)]))
        return quarantined.join(found, COORDINATES, join_type="left outer", use_threads=False)

    def _decode(self, spec: EventSpec, rows: pa.Table) -> _Decoded:
        """Decoded rows as the silver table's schema, and the rows that failed with why."""
        schema = event_schema(spec)
        keyed = pc.and_(pc.is_valid(rows["ce_id"]), pc.is_valid(rows["ce_source"]))
        names = pa.array(sorted(spec.schema.names), pa.string())
        typed = pc.fill_null(pc.is_in(rows["ce_type"], value_set=names), False)
        parts: list[pa.Table] = []
        positions: list[pa.Array] = []
        failures: list[tuple[int, str]] = []
        no_schema, unknown = 0, []
        schema_ids = rows["schema_id"]
        no_schema = schema_ids.null_count
        for schema_id in pc.unique(schema_ids).drop_null().to_pylist():
            in_group = pc.fill_null(pc.equal(schema_ids, schema_id), False)
            try:
                writer = self.registry.get(schema_id).schema
            except SchemaNotFoundError:
                unknown += pc.indices_nonzero(in_group).to_pylist()
                continue
            except RegistryError as exc:
                failures += [(i, f"{type(exc).__name__}: {exc}")
                             for i in pc.indices_nonzero(in_group).to_pylist()]  # fmt: skip
                continue
            except SchemaDefinitionError as exc:  # registered by a client that is not ours
                failures += [(i, f"writer schema {schema_id} is not one the lake reads: {exc}")
                             for i in pc.indices_nonzero(in_group).to_pylist()]  # fmt: skip
                continue
            unkeyed = pc.and_(in_group, pc.invert(keyed))
            failures += [(i, NO_KEY) for i in pc.indices_nonzero(unkeyed).to_pylist()]
            in_group = pc.and_(in_group, keyed)
            other_type = pc.and_(in_group, pc.invert(typed))  # usually none
            failures += [
                (
                    i,
                    _other_type(
                        rows["ce_type"][i].as_py(),
                        writer.full_name,
                        schema_id,
                        self.catalogue.hubs[spec.hub],
                    ),
                )
                for i in pc.indices_nonzero(other_type).to_pylist()
            ]
            indices = pc.indices_nonzero(pc.and_(in_group, typed))
            if len(indices) == 0:
                continue
            bodies = rows["body"].take(indices).combine_chunks()
            payloads = decode_payloads(writer, spec.schema, bodies)
            failures += [
                (indices[j].as_py(), f"body does not decode as {spec.schema.full_name} with "
                 f"writer schema {schema_id}: {reason}")
                for j, reason in payloads.failed
            ]  # fmt: skip
            invalid = _unholdable(spec.schema.parsed, payloads.columns)
            decoded_at = pc.take(indices, pa.array(payloads.decoded, pa.int64()))
            failures += [(decoded_at[j].as_py(), reason) for j, reason in invalid]
            kept = pa.array(np.arange(len(payloads.decoded)), pa.int64())
            if invalid:
                kept = pc.filter(kept, pc.invert(pc.is_in(kept, pa.array([j for j, _ in invalid]))))
            decoded_rows = pc.take(decoded_at, kept)
            meta = rows.select(META_SOURCE_COLUMNS).take(decoded_rows)  # the bodies stay
            columns = {
                "event_source": meta["ce_source"],
                "event_id": meta["ce_id"],
                "event_time": meta["ce_time"],
                **{name: meta[name] for name in META_PASSTHROUGH},
                **{
                    f.name: rows[f.name].take(decoded_rows)
                    if f.name in rows.column_names
                    else pa.nulls(len(decoded_rows), f.type)
                    for f in ADDED_FIELDS
                },
                **mask_personal_columns(spec.schema, _taken(payloads.columns, kept), self.masker),
            }
            parts.append(pa.table([columns[f.name] for f in schema], schema=schema))
            positions.append(decoded_rows)
        decoded = pa.concat_tables(parts) if parts else schema.empty_table()
        at = pa.concat_arrays(positions) if positions else pa.array([], pa.int64())
        return _Decoded(decoded, failures, no_schema, unknown, at)


def _holds(table: DeltaTable, schema: pa.Schema) -> bool:
    """Whether the table's schema is exactly `schema`: files staged with it can be added."""
    current = tables.plain_schema(pa.schema(table.schema().to_arrow()))
    return bool(current.equals(schema, check_metadata=False))


def _commit_staged(
    table: DeltaTable,
    stage: _Staged,
    mode: commits.Mode,
    inputs: dict[str, int],
    app_transactions: dict[str, int],
) -> int:
    """Add the stage's files to the table in one commit (`DataFileWriter.land`), with these
    application transactions besides the inputs; the new version."""
    assert stage.writer is not None  # rows were staged
    return stage.writer.land(
        lambda files: commits.commit_files(
            table,
            stage.schema,
            files,
            partition_by=[],
            inputs=inputs,
            app_transactions=app_transactions,
            metadata={},
            mode=mode,
        ),
        lambda: tables.open_table(table.table_uri, stage.layout.storage_options),
        since=table.version(),
    )


def _other_type(ce_type: str | None, writer: str, schema_id: str, hub: Hub) -> str:
    """Why an event whose CloudEvents `type` is none of its hub's events does not land."""
    carried = " or ".join(e.schema.full_name for e in hub.events)
    if ce_type is None:
        return (
            f"no CloudEvents type (writer's type {writer}, schema {schema_id}): the event hub "
            f"{hub.name} carries {carried}; send events of that type as CloudEvents"
        )
    return (
        f"CloudEvents type {ce_type!r} (writer's type {writer}, schema {schema_id}) is not "
        f"{carried}, what the event hub {hub.name} carries: another producer's events belong "
        "on their own hub"
    )


def _bronze_columns(bronze: DeltaTable) -> list[str]:
    """The columns silver reads that bronze has: one not written since it gained a column
    lacks it (`ADDED_FIELDS`)."""
    held = {name for name, _ in tables.delta_columns(bronze.schema())}
    return [name for name in BRONZE_COLUMNS if name in held]


def _snapshot(bronze: DeltaTable, predicate: str) -> Iterator[pa.RecordBatch]:
    """Bronze's rows that `predicate` admits, as its change feed's rows (every row at the
    snapshot's version), batch by batch."""
    version = bronze.version()
    sql = f"SELECT {', '.join(_bronze_columns(bronze))} FROM bronze WHERE {predicate}"
    for batch in tables.query_reader(sql, bronze=bronze):
        versions = pa.array(np.full(batch.num_rows, version, dtype=np.int64))
        yield batch.append_column("_commit_version", versions)


def _taken(columns: dict[str, pa.Array], rows: pa.Array) -> dict[str, pa.Array]:
    return {name: values.take(rows) for name, values in columns.items()}


def _unholdable(reader: dict[str, Any], columns: dict[str, pa.Array]) -> list[tuple[int, str]]:
    """Decoded values that later layers cannot hold: (position, reason)."""
    problems: list[tuple[int, str]] = []
    for field_ in reader["fields"]:
        node = field_["type"]
        branches = node if isinstance(node, list) else [node]
        logical = next(
            (b.get("logicalType") for b in branches if isinstance(b, dict) and "logicalType" in b),
            None,
        )
        values = columns.get(field_["name"])
        if values is None or logical is None:
            continue
        name = field_["name"]
        if logical == "uuid":
            valid = pc.match_substring_regex(values, UUID.pattern)
            bad = pc.and_(pc.is_valid(values), pc.invert(valid))
            problems += [
                (i, f"field {name!r} is not a uuid: {values[i].as_py()!r}")
                for i in pc.indices_nonzero(bad).to_pylist()
            ]
        elif logical.startswith("timestamp") or logical.startswith("local-timestamp"):
            # Compared as integers in the column's own unit: no cast that could overflow.
            unit = values.type.unit
            ticks = values.view(pa.int64())
            low, high = (
                pa.scalar(int(bound.timestamp()) * _PER_SECOND[unit], pa.int64())
                for bound in (EARLIEST, LATEST)
            )
            bad = pc.or_(pc.less(ticks, low), pc.greater(ticks, high))
            problems += [
                (i, f"field {name!r} is out of range (1678-2261): {ticks[i].as_py()} {unit}")
                for i in pc.indices_nonzero(pc.fill_null(bad, False)).to_pylist()
            ]
    merged: dict[int, list[str]] = {}
    for row, reason in problems:
        merged.setdefault(row, []).append(reason)
    return [(row, "; ".join(reasons)) for row, reasons in merged.items()]


def _not_in(table: DeltaTable | None, rows: pa.Table) -> pa.Table:
    """The rows whose (event_source, event_id) the table does not hold yet: only the key
    columns of rows with those ids are read."""
    if table is None or rows.num_rows == 0 or not table.file_uris():
        return rows
    ids = pc.unique(rows["event_id"])
    # A few new ids are looked up by name (row groups without them are skipped); a bulk load
    # reads the existing key columns once instead of a predicate as long as the load.
    where = f" WHERE {tables.in_list('event_id', ids)}" if len(ids) <= MAX_LOOKED_UP_IDS else ""
    existing = tables.query(f"SELECT event_source, event_id FROM t{where}", t=table)
    return tables.anti_join(rows, existing, ["event_source", "event_id"]).select(rows.column_names)


def _first_per_key(rows: pa.Table) -> pa.Table:
    """One row per (event_source, event_id): the first delivered (lowest enqueue time). Only
    the rows sharing a key hash (`key_hashes`: a run's duplicates) are compared exactly."""
    if rows.num_rows < 2:
        return rows
    hashes = np.concatenate(
        [pair_hashes(b["event_source"], b["event_id"]) for b in rows.to_batches()]
    )
    shared_hashes = repeated(hashes)
    if len(shared_hashes) == 0:
        return rows  # the usual case: nothing delivered twice
    shared = pa.array(np.isin(hashes, shared_hashes))
    return pa.concat_tables(
        [rows.filter(pc.invert(shared)), _first_per_key_of(rows.filter(shared))]
    )


def _first_per_key_of(rows: pa.Table) -> pa.Table:
    if rows.num_rows == 0:
        return rows
    keys = rows.group_by(["event_source", "event_id"], use_threads=False).aggregate([])
    if keys.num_rows == rows.num_rows:
        return rows  # the usual case: nothing delivered twice
    ordered = rows.sort_by([("enqueued_time", "ascending"), ("sequence_number", "ascending")])
    numbered = ordered.append_column("__row", pa.array(range(ordered.num_rows), pa.int64()))
    first = numbered.group_by(["event_source", "event_id"], use_threads=False).aggregate(
        [("__row", "min")]
    )
    keep = pc.sort_indices(first["__row_min"])
    return ordered.take(pc.take(first["__row_min"], keep))


def _quarantine_rows(rows: pa.Table, failures: list[tuple[int, str]], table: str) -> pa.Table:
    failed = rows.take(pa.array([index for index, _ in failures], pa.int64()))
    count = failed.num_rows

    def column(name: str) -> pa.Array:
        if name in failed.column_names:
            return failed[name]
        return pa.nulls(count, EVENTS_SCHEMA.field(name).type)

    values = {
        "quarantine_id": pa.array([""] * count),
        "layer": pa.array(["silver"] * count),
        "table": pa.array([table] * count),
        "reason": pa.array([reason for _, reason in failures]),
        "quarantined_at": pa.array([now()] * count, UTC_MICROS),
        "resolved_at": pa.nulls(count, UTC_MICROS),
    }
    return pa.table(
        [values[f.name] if f.name in values else column(f.name) for f in EVENTS_SCHEMA],
        schema=EVENTS_SCHEMA,
    )
