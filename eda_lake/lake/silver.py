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

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from eda_lake.catalogue import Catalogue, EventSpec
from eda_lake.lake import tables
from eda_lake.lake.avro_arrow import arrow_fields, column
from eda_lake.lake.bronze_schema import UTC_MICROS
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.masking import Masker
from eda_lake.lake.quarantine import EVENTS_SCHEMA, Quarantine
from eda_lake.registry.base import RegistryError, SchemaNotFoundError, SchemaRegistry

PROGRESS_APP = "silver:bronze"
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


class _Decoded:
    def __init__(self, spec: EventSpec) -> None:
        self.fields = arrow_fields(spec.schema.parsed)
        self.schema = pa.schema(META_FIELDS + self.fields)
        self.values: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self.quarantined: list[dict[str, Any]] = []

    def table(self) -> pa.Table:
        return pa.table(
            {f.name: column(self.values[f.name], f.type) for f in self.schema}, schema=self.schema
        )


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
        self._writers: dict[str, Any] = {}

    def uri(self, spec: EventSpec) -> str:
        return self.layout.table_uri("silver", table_name(spec.name))

    def run(self) -> SilverReport:
        report = SilverReport()
        bronze = tables.open_table(self.layout.bronze_uri)
        if bronze is None:
            return report
        target = bronze.version()
        report.bronze_version = target
        for spec in self.catalogue.events.values():
            table = tables.open_table(self.uri(spec))
            done = None if table is None else table.transaction_version(PROGRESS_APP)
            if done is not None and done >= target:
                continue
            rows = tables.changes(bronze, done, target, BRONZE_COLUMNS)
            rows = rows.filter(pc.equal(rows["hub"], spec.hub)) if rows.num_rows else rows
            self._process(spec, table, rows, target, report)
        return report

    def _process(
        self,
        spec: EventSpec,
        table: DeltaTable | None,
        rows: pa.Table,
        target: int,
        report: SilverReport,
    ) -> None:
        decoded = _Decoded(spec)
        for row in _rows(rows):
            report.rows_read += 1
            self._decode(spec, row, decoded, report)
        new = decoded.table()
        report.decoded[spec.name] = new.num_rows
        unique = _first_per_key(new)
        report.duplicates += new.num_rows - unique.num_rows
        if decoded.quarantined:
            quarantined = pa.Table.from_pylist(decoded.quarantined, schema=EVENTS_SCHEMA)
            self.quarantine.add_events(quarantined, f"silver:{table_name(spec.name)}:{target}")
            report.quarantined += quarantined.num_rows
        report.inserted[spec.name] = self._merge(spec, table, unique, target)

    def _decode(
        self, spec: EventSpec, row: dict[str, Any], out: _Decoded, report: SilverReport
    ) -> None:
        schema_id = row["schema_id"]
        if schema_id is None:
            report.no_schema += 1
            return
        try:
            writer = self._writer(schema_id)
        except SchemaNotFoundError:
            report.unknown_schema += 1
            return
        except RegistryError as exc:
            out.quarantined.append(_quarantine_row(row, f"{type(exc).__name__}: {exc}"))
            return
        if not row["ce_id"] or not row["ce_source"]:
            out.quarantined.append(
                _quarantine_row(row, "no CloudEvents id and source: cannot deduplicate")
            )
            return
        body = row["body"] or b""
        stream = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(stream, writer, spec.schema.fastavro)
            if stream.tell() != len(body):
                raise ValueError(f"{len(body) - stream.tell()} bytes left over")
        except Exception as exc:  # fastavro raises many types on corrupt or foreign bodies
            out.quarantined.append(
                _quarantine_row(
                    row,
                    f"body does not decode as {spec.schema.full_name} with writer schema "
                    f"{schema_id}: {type(exc).__name__}: {exc}",
                )
            )
            return
        values = out.values
        values["event_source"].append(row["ce_source"])
        values["event_id"].append(row["ce_id"])
        values["event_time"].append(row["ce_time"])
        for name in (
            "hub",
            "partition_id",
            "sequence_number",
            "enqueued_time",
            "schema_id",
            "source_file",
        ):
            values[name].append(row[name])
        personal = set(spec.schema.personal_fields())
        for f in out.fields:
            value = record.get(f.name)  # type: ignore[union-attr]
            values[f.name].append(self.masker.mask(value) if f.name in personal else value)

    def _writer(self, schema_id: str) -> Any:
        writer = self._writers.get(schema_id)
        if writer is None:
            writer = self._writers[schema_id] = self.registry.get(schema_id).schema.fastavro
        return writer

    def _merge(self, spec: EventSpec, table: DeltaTable | None, rows: pa.Table, target: int) -> int:
        """Insert the rows whose key is new, with the progress; returns how many were new."""
        commit = CommitProperties(app_transactions=[Transaction(PROGRESS_APP, target)])
        if table is None:
            write_deltalake(
                self.uri(spec), rows, mode="append", commit_properties=commit,
                configuration=tables.CHANGE_FEED,
            )  # fmt: skip
            created: int = rows.num_rows
            return created
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


def _rows(rows: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in rows.to_batches():
        yield from batch.to_pylist()


def _first_per_key(rows: pa.Table) -> pa.Table:
    """One row per (event_source, event_id): the first delivered (lowest enqueue time)."""
    if rows.num_rows == 0:
        return rows
    ordered = rows.sort_by([("enqueued_time", "ascending"), ("sequence_number", "ascending")])
    seen: set[tuple[str, str]] = set()
    keep = []
    for key in zip(
        ordered["event_source"].to_pylist(), ordered["event_id"].to_pylist(), strict=True
    ):
        keep.append(key not in seen)
        seen.add(key)
    return ordered.filter(pa.array(keep))


def _quarantine_row(row: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "layer": "silver",
        "hub": row["hub"],
        "partition_id": row["partition_id"],
        "sequence_number": row["sequence_number"],
        "source_file": row["source_file"],
        "schema_id": row["schema_id"],
        "ce_source": row["ce_source"],
        "ce_id": row["ce_id"],
        "reason": reason,
        "body": row["body"],
        "quarantined_at": datetime.now(UTC),
    }
