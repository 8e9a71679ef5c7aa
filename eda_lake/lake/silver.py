"""Silver: what the events mean. Bodies decoded through the registry, typed, deduplicated.

Per catalogue event, new bronze rows (from bronze's change feed, after the version the table
last processed) are decoded with their writer's schema and projected onto the catalogue's
schema by name, so a field added later is null for older events. Rows are merged on
CloudEvents `source` + `id`, so at-least-once delivery and replayed reactions land once. The
bronze version processed is committed with the rows as an application transaction: a re-run
or a crash neither skips nor repeats anything.

Events that name no registry schema, or one the registry does not know, stay in bronze and
are counted. Events that name a known schema and fail to decode are quarantined with reason.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.catalogue import Catalogue, EventSpec
from eda_lake.lake import tables
from eda_lake.lake.avro_arrow import arrow_fields
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.masking import Masker, mask_personal_columns
from eda_lake.lake.payloads import decode_payloads
from eda_lake.lake.quarantine import EVENTS_SCHEMA, Quarantine
from eda_lake.registry.base import RegistryError, SchemaNotFoundError, SchemaRegistry

PROGRESS_APP = "silver:bronze"
NO_KEY = "no CloudEvents id and source: cannot deduplicate"
MAX_CONFLICT_RETRIES = 5
META_PASSTHROUGH = (
    "hub", "partition_id", "sequence_number", "enqueued_time", "schema_id", "source_file",
)  # fmt: skip
META_SOURCE_COLUMNS = ["ce_source", "ce_id", "ce_time", *META_PASSTHROUGH]
BRONZE_COLUMNS = [
    "hub", "partition_id", "sequence_number", "enqueued_time", "schema_id",
    "ce_id", "ce_source", "ce_time", "body", "source_file",
]  # fmt: skip
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


def table_name(event: str) -> str:
    """CustomerCreated -> customer_created."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


@dataclass
class SilverReport:
    bronze_version: int = -1
    rows_read: int = 0
    decoded: dict[str, int] = field(default_factory=dict)
    inserted: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    quarantined: int = 0
    no_schema: int = 0  # JSON or other bodies naming no registry schema: bronze only
    unknown_schema: int = 0  # a schema id the registry does not know: bronze only

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.rows_read if self.rows_read else 0.0


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
        return self.layout.table_uri("silver", table_name(spec.name))

    def run(self) -> SilverReport:
        report = SilverReport()
        bronze = tables.open_table(self.layout.bronze_uri, self.options)
        if bronze is None:
            return report
        target = bronze.version()
        report.bronze_version = target
        pending = []
        for spec in self.catalogue.events.values():
            table = tables.open_table(self.uri(spec), self.options)
            done = None if table is None else table.transaction_version(PROGRESS_APP)
            if done is None or done < target:
                pending.append((spec, table, -1 if done is None else done))
        if not pending:
            return report
        # One read of bronze's change feed, from the table that is furthest behind.
        oldest = min(done for _, _, done in pending)
        changed = tables.changes(bronze, None if oldest < 0 else oldest, target, BRONZE_COLUMNS)
        for spec, table, done in pending:
            for attempt in range(MAX_CONFLICT_RETRIES + 1):
                mask = pc.and_(
                    pc.equal(changed["hub"], spec.hub),
                    pc.greater(changed["_commit_version"], pa.scalar(done, pa.int64())),
                )
                counted = copy.deepcopy(report)
                try:
                    self._process(spec, table, changed.filter(mask), target, report)
                    break
                except CommitFailedError:
                    # Another silver run committed first; its progress decides what is left.
                    if attempt == MAX_CONFLICT_RETRIES:
                        raise
                    report.__dict__.update(counted.__dict__)
                    table = tables.open_table(self.uri(spec), self.options)
                    done_now = None if table is None else table.transaction_version(PROGRESS_APP)
                    if done_now is not None and done_now >= target:
                        break
                    done = -1 if done_now is None else done_now
        return report

    def _process(
        self,
        spec: EventSpec,
        table: DeltaTable | None,
        rows: pa.Table,
        target: int,
        report: SilverReport,
    ) -> None:
        report.rows_read += rows.num_rows
        new, failures = self._decode(spec, rows, report)
        report.decoded[spec.name] = new.num_rows
        unique = _first_per_key(new)
        report.duplicates += new.num_rows - unique.num_rows
        if failures:
            quarantined = _quarantine_rows(rows, failures)
            self.quarantine.add_events(quarantined, f"silver:{table_name(spec.name)}:{target}")
            report.quarantined += quarantined.num_rows
        report.inserted[spec.name] = self._merge(spec, table, unique, target)

    def _decode(
        self, spec: EventSpec, rows: pa.Table, report: SilverReport
    ) -> tuple[pa.Table, list[tuple[int, str]]]:
        """Decoded rows as the silver table's schema, and the rows that failed with why."""
        schema = pa.schema(META_FIELDS + arrow_fields(spec.schema.parsed))
        groups: dict[str | None, list[int]] = {}
        for index, schema_id in enumerate(rows["schema_id"].to_pylist()):
            groups.setdefault(schema_id, []).append(index)
        keyed = pc.and_(pc.is_valid(rows["ce_id"]), pc.is_valid(rows["ce_source"])).to_pylist()
        parts: list[pa.Table] = []
        failures: list[tuple[int, str]] = []
        for schema_id, indices in groups.items():
            if schema_id is None:
                report.no_schema += len(indices)
                continue
            try:
                writer = self.registry.get(schema_id).schema
            except SchemaNotFoundError:
                report.unknown_schema += len(indices)
                continue
            except RegistryError as exc:
                failures += [(i, f"{type(exc).__name__}: {exc}") for i in indices]
                continue
            failures += [(i, NO_KEY) for i in indices if not keyed[i]]
            indices = [i for i in indices if keyed[i]]
            bodies = rows["body"].take(pa.array(indices, pa.int64())).to_pylist()
            payloads = decode_payloads(writer, spec.schema, bodies)
            failures += [
                (indices[j], f"body does not decode as {spec.schema.full_name} with writer "
                 f"schema {schema_id}: {reason}")
                for j, reason in payloads.failed
            ]  # fmt: skip
            decoded_rows = pa.array([indices[j] for j in payloads.decoded], pa.int64())
            meta = rows.select(META_SOURCE_COLUMNS).take(decoded_rows)  # the bodies stay
            columns = {
                "event_source": meta["ce_source"],
                "event_id": meta["ce_id"],
                "event_time": meta["ce_time"],
                **{name: meta[name] for name in META_PASSTHROUGH},
                **mask_personal_columns(spec.schema, payloads.columns, self.masker),
            }
            parts.append(pa.table([columns[f.name] for f in schema], schema=schema))
        decoded = pa.concat_tables(parts) if parts else schema.empty_table()
        return decoded, failures

    def _merge(self, spec: EventSpec, table: DeltaTable | None, rows: pa.Table, target: int) -> int:
        """Insert the rows whose key is new, with the progress; returns how many were new."""
        commit = CommitProperties(
            app_transactions=[Transaction(PROGRESS_APP, target)], max_commit_retries=0
        )
        if table is None:
            table = tables.ensure_table(
                self.uri(spec), rows.schema, options=self.options, configuration=tables.CHANGE_FEED
            )
        if not table.file_uris():
            # Nothing to deduplicate against: append. A concurrent run committing the same
            # progress first makes this commit fail, and the retry finds the work done.
            write_deltalake(table, rows, mode="append", commit_properties=commit)
            appended: int = rows.num_rows
            return appended
        metrics: dict[str, Any] = (
            table.merge(
                rows,
                predicate="t.event_source = s.event_source AND t.event_id = s.event_id",
                source_alias="s",
                target_alias="t",
                merge_schema=True,
                commit_properties=commit,
            )
            .when_not_matched_insert_all()
            .execute()
        )
        inserted = int(metrics.get("num_target_rows_inserted", 0))
        return inserted


def _first_per_key(rows: pa.Table) -> pa.Table:
    """One row per (event_source, event_id): the first delivered (lowest enqueue time)."""
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


def _quarantine_rows(rows: pa.Table, failures: list[tuple[int, str]]) -> pa.Table:
    failed = rows.take(pa.array([index for index, _ in failures], pa.int64()))
    count = failed.num_rows
    return pa.table(
        {
            "layer": pa.array(["silver"] * count),
            "hub": failed["hub"],
            "partition_id": failed["partition_id"],
            "sequence_number": failed["sequence_number"],
            "source_file": failed["source_file"],
            "schema_id": failed["schema_id"],
            "ce_source": failed["ce_source"],
            "ce_id": failed["ce_id"],
            "reason": pa.array([reason for _, reason in failures]),
            "body": failed["body"],
            "quarantined_at": pa.array([datetime.now(UTC)] * count, UTC_MICROS),
        },
        schema=EVENTS_SCHEMA,
    )
