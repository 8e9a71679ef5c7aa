"""Building a declared table (`declarations.Derived`) incrementally from its sources.

One step, for entities and gold alike: open every source once, read what the target says it
consumed, find what the sources' changes since then reach (entity keys, or business days),
recompute exactly that with the declaration's SQL, and replace it in one commit that records
the source versions read. The first build computes everything. A source that does not exist
yet makes the table wait (the run says which).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from eda_lake.lake.arrow.key_hashes import distinct, repeated, text_hashes
from eda_lake.lake.delta import commits, freshness, tables
from eda_lake.lake.delta.commits import TableRun, Write
from eda_lake.lake.delta.data_files import DataFileWriter, statistics_columns
from eda_lake.lake.delta.tables import schema_differs
from eda_lake.lake.derived.counted import Counting, counting
from eda_lake.lake.derived.declarations import Derived, short
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared.names import table_name

# Past this many reached keys a predicate listing them costs more than recomputing the table.
MAX_LISTED_KEYS = 20_000


@dataclass(frozen=True)
class Reached:
    """What a run must recompute: these values of `column` (a run given None recomputes
    everything)."""

    column: str
    values: pa.Array


def qualified_uri(layout: LakeLayout, name: str) -> str:
    layer, _, table = name.partition(".")
    return layout.table_uri(layer, table)


class DerivedBuilder:
    """Builds one declared table; `reach_column` names what its `reach` queries select
    (the key column for entities, `day` for gold)."""

    def __init__(
        self, layout: LakeLayout, declared: Derived, target_column: str, unit: str
    ) -> None:
        self.layout = layout
        self.unit = unit  # what a recomputed value is, in the run report: keys, days
        self.declared = declared
        self.target_column = target_column  # the table's column `reach` values are of
        self.uri = layout.table_uri(declared.layer, declared.name)
        self.options = layout.storage_options

    def _open_sources(self) -> dict[str, DeltaTable] | list[str]:
        opened = {
            name: tables.open_table(qualified_uri(self.layout, name), self.options)
            for name in self.declared.sources
        }
        missing = [name for name, table in opened.items() if table is None]
        return missing or {name: t for name, t in opened.items() if t is not None}

    def run(
        self, requested: Reached | None = None, record: bool = True, *, everything: bool = False
    ) -> TableRun:
        """Recompute what the sources' changes reach (or `requested`, or, with `everything`,
        the whole table in one overwrite commit, as a rebuild does). A failure of this table's
        own work is its run's outcome (`commits.run_table`): the tables after it still run."""
        name = self.declared.qualified_name
        return commits.run_table(
            name,
            lambda: commits.with_retries(
                lambda: self._attempt(requested, record, everything), f"building {name}"
            ),
        )

    def pending(self) -> Reached | None:
        """What the next run would recompute (None: everything; empty values: nothing)."""
        sources = self._open_sources()
        if isinstance(sources, list):
            return Reached(self.target_column, pa.array([], pa.string()))
        target = tables.open_table(self.uri, self.options)
        return self._reached(target, sources)

    def all_values(self) -> set[object]:
        """Every value of the target column a full build would write."""
        sources = self._open_sources()
        return set() if isinstance(sources, list) else self._values(sources)

    def _sql(self, sources: dict[str, DeltaTable], *, whole: bool) -> str:
        """The declaration's SQL. Its `{first}` relation ranks every key of its source, which a
        computation of a few listed keys restricts early; computing the `whole` table, only
        the keys with more than one row are ranked, and the other rows are read as they
        are."""
        first = self.declared.first_rows
        if first is None or not whole:
            return self.declared.query()
        source = next(t for n, t in sources.items() if short(n) == first.source)
        repeated = _repeated_keys(source, first.source, first.key)
        if repeated is None:
            return self.declared.query()
        if len(repeated) == 0:
            return self.declared.query(f"(SELECT * FROM {first.source})")
        listed = tables.in_list(first.key, repeated)
        return self.declared.query(
            f"(SELECT * FROM {first.source} WHERE NOT ({listed}) "
            f"UNION ALL SELECT * FROM {first.ranked(f' WHERE {listed}')})"
        )

    def _values(self, sources: dict[str, DeltaTable]) -> set[object]:
        registered = {short(n): s for n, s in sources.items()}
        column = self.target_column
        found = tables.query(
            f"SELECT DISTINCT {column} AS v FROM ({self._sql(sources, whole=True)}) AS derived",
            **registered,
        )
        return {v for v in found["v"].to_pylist() if v is not None}

    def _covers(
        self, chosen: Reached | None, pending: Reached | None, sources: dict[str, DeltaTable]
    ) -> bool:
        """Whether recomputing `chosen` leaves nothing pending behind, on the snapshots of
        `sources` the run decided on."""
        if chosen is None:
            return True
        wanted = self._values(sources) if pending is None else set(pending.values.to_pylist())
        return wanted <= set(chosen.values.to_pylist())

    def _reached(self, target: DeltaTable | None, sources: dict[str, DeltaTable]) -> Reached | None:
        if target is None:
            return None
        done = commits.consumed(target, sources)
        parts = []
        for name, source in sources.items():
            after = done[name]
            if after is None:
                return None  # a source this table has never read: recompute everything
            if after >= source.version():
                continue
            reach = self.declared.reach[name]
            try:
                changed = tables.all_changes(source, after, source.version())
            except tables.ChangeFeedUnavailableError:
                return None  # its change feed was vacuumed away: recompute everything
            values = pc.unique(changed[reach.column].combine_chunks()).drop_null()
            if reach.via is not None and len(values):
                values = _look_up(sources, reach.via, values)
            parts.append(values)
        if not parts:
            return Reached(self.target_column, pa.array([], pa.string()))
        values = pc.unique(pa.concat_arrays([p.cast(parts[0].type) for p in parts]))
        if len(values) > MAX_LISTED_KEYS:
            return None
        return Reached(self.target_column, values)

    def _attempt(self, requested: Reached | None, record: bool, everything: bool) -> TableRun:
        report = TableRun(self.declared.qualified_name)
        sources = self._open_sources()
        if isinstance(sources, list):
            report.outcome = f"waiting for {', '.join(sources)}"
            return report
        versions = {name: table.version() for name, table in sources.items()}
        target = tables.open_table(self.uri, self.options)
        counts = counting(target, sources)
        pending = None if everything else self._reached(target, sources)
        if requested is None and pending is not None and len(pending.values) == 0:
            assert target is not None
            if commits.consumed(target, versions) != versions:
                # The sources moved on but reach nothing here: record that, so the next run
                # does not read the same changes again.
                schema = pa.schema(target.schema().to_arrow())
                write = Write(schema, schema.empty_table(), app_transactions=counts.transactions())
                commits.commit(target, write, versions)
                report.outcome = "committed"
                report.latency = self._latency(counts, target.version())
            report.version, report.inputs = target.version(), versions
            return report
        chosen = pending if requested is None else requested
        # Progress is recorded only when what is recomputed covers everything pending, so a
        # partial recompute (one day of a backfill) never hides other reached values.
        covers = record and self._covers(chosen, pending, sources)
        registered = {short(n): s for n, s in sources.items()}
        # A row without its key or day could never be replaced by key or day later: such rows
        # (a lead whose customer has not arrived yet) wait for the row that gives them one.
        declared = "SELECT * FROM ({}) AS declared WHERE " + f"{self.target_column} IS NOT NULL"
        if chosen is not None:
            listed = tables.in_list(chosen.column, chosen.values)
            reader = tables.query_reader(
                f"{declared.format(self._sql(sources, whole=False))} AND {listed}", **registered
            )
            if target is not None and schema_differs(target, reader.schema):
                # A source's column changed type (a promoted event field): rows of the new
                # type cannot replace some of the table's, so the whole table is recomputed.
                chosen, covers = None, record
        inputs = versions if covers else {}
        # What the commit counts is recorded with its progress, and only then.
        recorded = counts.transactions() if covers else {}
        if chosen is None:
            whole = tables.query_stream(
                declared.format(self._sql(sources, whole=True)), **registered
            )
            written = _Written(whole, self.target_column)
            report.version = self._overwrite(target, written, inputs, recorded)
            recomputed = written.distinct()
        else:
            # Streamed into the commit: the recomputed rows are never all held at once.
            written = _Written(reader, self.target_column)
            report.version = self._replace(target, chosen, written, inputs, recorded)
            recomputed = len(pc.unique(chosen.values))
        report.outcome = "committed"
        report.inputs = inputs
        report.rows_written = written.rows
        report.counts[f"{self.unit}_recomputed"] = recomputed
        if covers:
            report.latency = self._latency(counts, report.version)
        return report

    def _latency(self, counts: Counting, version: int) -> freshness.Latency | None:
        """Publish to the commit `version` of the events it newly counted."""
        table = tables.open_table(self.uri, self.options)
        assert table is not None  # committed to
        return counts.latency(self.layout, freshness.commit_time(table, version))

    def _replace(
        self,
        target: DeltaTable | None,
        chosen: Reached,
        rows: _Written,
        inputs: dict[str, int],
        recorded: dict[str, int],
    ) -> int:
        """The rows of the `chosen` values replaced in one commit, with the `recorded`
        application transactions; the new version."""
        schema = rows.reader.schema
        if target is None:
            write = Write(schema, rows, mode="overwrite", app_transactions=recorded)
        else:
            predicate = tables.in_list(self.target_column, chosen.values)
            write = Write(
                schema, rows, mode="replace", predicate=predicate, app_transactions=recorded
            )
        table = target or commits.first_commit_table(
            self.uri, schema, options=self.options, configuration=tables.CHANGE_FEED
        )
        return commits.commit(table, write, inputs)

    def _overwrite(
        self,
        target: DeltaTable | None,
        rows: _Written,
        inputs: dict[str, int],
        recorded: dict[str, int],
    ) -> int:
        """The whole table anew in one commit (its files and schema replaced), with the
        `recorded` application transactions; the new version. The rows go into data files on
        a thread of their own while DataFusion computes the next ones (`data_files`), never
        all held at once."""
        schema = tables.stored_schema(rows.reader.schema)
        table = target or commits.first_commit_table(
            self.uri, schema, options=self.options, configuration=tables.CHANGE_FEED
        )
        commits.ready_for_schema(table, schema)  # before the rows are computed, not after
        directory = self.layout.fs_path(self.declared.layer, table_name(self.declared.name))
        writer = DataFileWriter(
            self.layout.fs, directory, schema, [], stats_columns=statistics_columns(schema),
            target_bytes=commits.TARGET_FILE_BYTES, dictionary_columns=tuple(schema.names),
        )  # fmt: skip
        try:
            for batch in rows:
                writer.write(batch.cast(schema), {})
            return writer.land(
                lambda files: commits.commit_files(
                    table,
                    schema,
                    files,
                    partition_by=[],
                    inputs=inputs,
                    app_transactions=recorded,
                    metadata={},
                    mode="overwrite",
                ),
                lambda: tables.open_table(self.uri, self.options),
                since=table.version(),
            )
        finally:
            writer.abort()  # the files of a commit that did not land


class _Written:
    """The batches of a recomputation as they go into the commit, counted, with the 64-bit
    hashes of the target column's values they hold (8 bytes a value, where a million entity
    keys' text and the table to count them would hold ~150 MB)."""

    def __init__(self, reader: pa.RecordBatchReader, column: str) -> None:
        self.reader = reader
        self.column = column
        self.rows = 0
        self._hashes: list[npt.NDArray[np.uint64]] = []

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self.reader:
            self.rows += batch.num_rows
            self._hashes.append(distinct(text_hashes(batch[self.column].cast(pa.string()))))
            yield batch

    def distinct(self) -> int:
        """How many distinct values the batches held (a 64-bit hash each)."""
        return len(distinct(np.concatenate(self._hashes))) if self._hashes else 0


def _repeated_keys(source: DeltaTable, name: str, key: str) -> pa.Array | None:
    """The values of `key` that more than one row of the source holds (with any that only
    share a 64-bit hash with another: ranking them too changes nothing), or None past
    `MAX_LISTED_KEYS`. Two reads of the key column alone, holding 8 bytes per row."""
    sql = f"SELECT CAST({key} AS VARCHAR) AS k FROM {name}"
    hashes = [text_hashes(b["k"]) for b in tables.query_reader(sql, **{name: source})]
    shared = repeated(np.concatenate(hashes)) if hashes else np.array([], np.uint64)
    if len(shared) == 0:
        return pa.array([], pa.string())
    keys = [
        b["k"].filter(pa.array(np.isin(text_hashes(b["k"]), shared)))
        for b in tables.query_reader(sql, **{name: source})
    ]
    found = pc.unique(pa.chunked_array(keys, pa.string())).drop_null()
    if len(found) > MAX_LISTED_KEYS:
        return None
    key_type = tables.plain_type(pa.schema(source.schema().to_arrow()).field(key).type)
    return found.cast(key_type)


def _look_up(
    sources: dict[str, DeltaTable], via: tuple[str, str, str], values: pa.Array
) -> pa.Array:
    """The `reached` values of the rows of source `via[0]` whose `via[1]` is in `values`."""
    name, match, reached = via
    source = next(t for n, t in sources.items() if short(n) == name)
    found = tables.query(
        f"SELECT DISTINCT {reached} AS v FROM {name} WHERE {tables.in_list(match, values)}",
        **{name: source},
    )
    return found["v"].combine_chunks().drop_null()
