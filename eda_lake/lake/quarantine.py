"""Quarantine: what could not be ingested or decoded, with its reason and its bytes.

Nothing is dropped silently and nothing stays stuck. A quarantined capture file is copied
under `quarantine/capture/<path>` and has one row in `quarantine/files` (its size and
modification time when it failed, the attempts so far, whether the failure looked transient);
bronze retries it by itself when the file changes, and after a transient failure up to
`MAX_TRANSIENT_ATTEMPTS`. A quarantined event keeps its bronze coordinates and body in
`quarantine/events`. `eda-lake quarantine retry` reprocesses either after a fix; a row that
then lands is marked resolved (`resolved_at`), never deleted and never landed twice.

Every write takes the table's one lock (an application transaction whose version each
writer increments), so two runs quarantining at once are serialized by Delta's conflict
check instead of writing a file's row twice.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from deltalake import DeltaTable

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.capture.naming import CapturePathError, capture_path
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.layout import LakeLayout

COPY_CHUNK = 4 << 20
AREA, EVENTS_TABLE = "quarantine", "events"  # the lake area and its table of events
LOCK_APP = "lock:quarantine"
MAX_TRANSIENT_ATTEMPTS = 5
FILES_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("modified_at", UTC_MICROS),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("transient", pa.bool_(), nullable=False),
        pa.field("quarantined_at", UTC_MICROS, nullable=False),
        pa.field("resolved_at", UTC_MICROS),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("quarantine_id", pa.string(), nullable=False),
        pa.field("layer", pa.string(), nullable=False),
        pa.field("table", pa.string()),
        pa.field("hub", pa.string()),
        pa.field("partition_id", pa.string()),
        pa.field("sequence_number", pa.int64()),
        pa.field("enqueued_time", UTC_MICROS),
        pa.field("source_file", pa.string()),
        pa.field("schema_id", pa.string()),
        pa.field("ce_source", pa.string()),
        pa.field("ce_id", pa.string()),
        pa.field("ce_time", UTC_MICROS),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("body", pa.binary()),
        pa.field("quarantined_at", UTC_MICROS, nullable=False),
        pa.field("resolved_at", UTC_MICROS),
    ]
)
COORDINATES = ["hub", "partition_id", "sequence_number", "source_file"]
# What each table holds and each column means, for the data dictionary (`lake.dictionary`).
FILES_DESCRIPTION = (
    "Capture files bronze could not ingest, one row per file with its latest failure; a copy "
    "of each file is kept under quarantine/capture/."
)
FILES_COLUMNS: dict[str, str] = {
    "source_file": "Path of the capture file in its container, as bronze would record it.",
    "reason": "Why the latest attempt to ingest the file failed.",
    "size": "Size of the file in bytes when it failed; null when unknown.",
    "modified_at": "When the file was last modified in storage as it failed, UTC; a change "
    "makes bronze retry it.",
    "attempts": "Times ingesting the file has failed so far.",
    "transient": "Whether the latest failure looked transient (a storage error, a refused "
    f"permission): such a file is retried by itself, up to {MAX_TRANSIENT_ATTEMPTS} attempts.",
    "quarantined_at": "When the file first failed, UTC.",
    "resolved_at": "When a retry landed the file in bronze, UTC; null while it is still "
    "quarantined.",
}
EVENTS_DESCRIPTION = (
    "Events silver could not decode or hold, one row each, with their bronze coordinates, "
    "body and reason; `eda-lake quarantine retry` lands them after a fix."
)
EVENTS_COLUMNS: dict[str, str] = {
    "quarantine_id": "Identifier of this quarantined event (a random UUID).",
    "layer": "Layer that refused the event (silver).",
    "table": "Table the event was bound for, as layer.table (for example silver.customer_created).",
    "hub": "Event hub the event came from (bronze's `hub`).",
    "partition_id": "Event hub partition that held the event (bronze's `partition_id`).",
    "sequence_number": "Position of the event in its hub partition (bronze's `sequence_number`).",
    "enqueued_time": "When Event Hubs accepted the event, UTC.",
    "source_file": "Path of the capture file the event came in (bronze's `source_file`).",
    "schema_id": "Schema registry id the body named; null when it named none.",
    "ce_source": "CloudEvents `source` of the event; null when absent.",
    "ce_id": "CloudEvents `id` of the event; null when absent.",
    "ce_time": "CloudEvents `time` of the event, UTC; null when absent.",
    "reason": "Why silver refused the event (the decoder's or the check's words).",
    "body": "Event payload exactly as sent, to retry from (may hold personal data).",
    "quarantined_at": "When the event was quarantined, UTC.",
    "resolved_at": "When a retry landed the event in its table, UTC; null while it is still "
    "quarantined.",
}


@dataclass(frozen=True)
class QuarantinedFile:
    source_file: str
    reason: str
    size: int | None
    modified_at: datetime | None
    attempts: int
    transient: bool

    def worth_retrying(self, size: int | None, modified_at: datetime | None) -> bool:
        """Retry by itself when the file changed since it failed (a half-written file now
        complete) or the failure looked transient and tries remain."""
        changed = (size, _utc(modified_at)) != (self.size, _utc(self.modified_at))
        return changed or (self.transient and self.attempts < MAX_TRANSIENT_ATTEMPTS)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)


class Quarantine:
    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout
        self.options = layout.storage_options

    @property
    def files_uri(self) -> str:
        return self.layout.table_uri("quarantine", "files")

    @property
    def events_uri(self) -> str:
        return self.layout.table_uri(AREA, EVENTS_TABLE)

    def _table(self, uri: str, schema: pa.Schema) -> DeltaTable:
        return commits.ensure_table(uri, schema, options=self.options)

    def _commit(self, table: DeltaTable, write: Write) -> None:
        lock = table.transaction_version(LOCK_APP) or 0
        locked = Write(
            write.schema, write.rows, mode=write.mode, predicate=write.predicate,
            app_transactions={LOCK_APP: lock + 1},
        )  # fmt: skip
        commits.commit(table, locked, {})

    # Files

    def _rows(self, uri: str, schema: pa.Schema, include_resolved: bool, order: str) -> pa.Table:
        table = tables.open_table(uri, self.options)
        if table is None:
            return schema.empty_table()
        where = "" if include_resolved else " WHERE resolved_at IS NULL"
        rows = tables.query(f"SELECT * FROM t{where} ORDER BY {order}", t=table)
        return rows.select(schema.names).cast(schema)

    def files(self, *, include_resolved: bool = False) -> pa.Table:
        return self._rows(self.files_uri, FILES_SCHEMA, include_resolved, "source_file")

    def quarantined_files(self) -> dict[str, QuarantinedFile]:
        """Files quarantined and not resolved, by path."""
        return {
            row["source_file"]: QuarantinedFile(
                row["source_file"],
                row["reason"],
                row["size"],
                row["modified_at"],
                row["attempts"],
                row["transient"],
            )
            for row in self.files().to_pylist()
        }

    def add_file(
        self,
        fs: pafs.FileSystem,
        capture_root: str,
        path: str,
        *,
        size: int | None,
        modified_at: datetime | None,
        reason: str,
        transient: bool,
    ) -> int:
        """Copy the file's bytes aside and record why (again: one more attempt); returns
        the attempts so far."""
        copied = self._copy(fs, capture_root, path)
        if copied is not None:
            reason = f"{reason} (copy failed: {copied})"

        def attempt() -> int:
            table = self._table(self.files_uri, FILES_SCHEMA)
            predicate = tables.in_list("source_file", pa.array([path]))
            before = tables.query(
                f"SELECT attempts, quarantined_at FROM files WHERE {predicate}", files=table
            ).to_pylist()
            attempts = (before[0]["attempts"] if before else 0) + 1
            row = {
                "source_file": [path], "reason": [reason], "size": [size],
                "modified_at": [_utc(modified_at)], "attempts": [attempts],
                "transient": [transient],
                "quarantined_at": [before[0]["quarantined_at"] if before else now()],
                "resolved_at": [None],
            }  # fmt: skip
            rows = pa.table(row, schema=FILES_SCHEMA)
            self._commit(table, Write(FILES_SCHEMA, rows, mode="replace", predicate=predicate))
            return attempts

        return commits.with_retries(attempt, f"quarantining {path}")

    def _copy(self, fs: pafs.FileSystem, capture_root: str, path: str) -> str | None:
        """Copy a file from wherever capture files live to the lake's quarantine area; a
        path that could leave the capture root is neither read nor written anywhere."""
        try:
            path = capture_path(path)
        except CapturePathError as exc:
            return str(exc)
        target = self.layout.fs_path("quarantine", "capture", path)
        try:
            self.layout.fs.create_dir(target.rpartition("/")[0], recursive=True)
            with (
                fs.open_input_stream(f"{capture_root}/{path}") as source,
                self.layout.fs.open_output_stream(target) as out,
            ):
                shutil.copyfileobj(source, out, COPY_CHUNK)
        except (OSError, pa.ArrowException) as exc:  # keep the reason even without bytes
            return str(exc)
        return None

    def resolve_files(self, paths: list[str]) -> int:
        """Mark these files' rows resolved (they are in bronze now)."""
        return self._resolve(self.files_uri, FILES_SCHEMA, "source_file", paths)

    # Events

    def events(self, *, include_resolved: bool = False) -> pa.Table:
        order = "quarantined_at, hub, partition_id, sequence_number"
        return self._rows(self.events_uri, EVENTS_SCHEMA, include_resolved, order)

    def add_events(self, rows: pa.Table) -> int:
        """Quarantine events (EVENTS_SCHEMA, any quarantine_id), skipping those already
        quarantined and not resolved (a run that died after quarantining, run again);
        returns how many were added."""
        if rows.num_rows == 0:
            return 0

        def attempt() -> int:
            table = self._table(self.events_uri, EVENTS_SCHEMA)
            files = tables.in_list("source_file", pc.unique(rows["source_file"]))
            existing = tables.query(
                f"SELECT {', '.join(COORDINATES)} FROM events "
                f"WHERE resolved_at IS NULL AND {files}",
                events=table,
            )
            new = tables.anti_join(rows, existing, COORDINATES)
            ids = pa.array([str(uuid.uuid4()) for _ in range(new.num_rows)], pa.string())
            new = new.set_column(0, "quarantine_id", ids).select(EVENTS_SCHEMA.names)
            self._commit(table, Write(EVENTS_SCHEMA, new.cast(EVENTS_SCHEMA)))
            added: int = new.num_rows
            return added

        return commits.with_retries(attempt, "quarantining events")

    def open_events(self, table: str) -> pa.Table:
        """The quarantine ids and bronze coordinates of `table`'s (qualified) open events."""
        events = tables.open_table(self.events_uri, self.options)
        if events is None:
            return pa.table({"quarantine_id": pa.array([], pa.string())})
        of_table = tables.in_list('"table"', pa.array([table]))
        return tables.query(
            f"SELECT quarantine_id, {', '.join(COORDINATES)} FROM events "
            f"WHERE resolved_at IS NULL AND {of_table}",
            events=events,
        )

    def resolve_events(self, ids: list[str]) -> int:
        return self._resolve(self.events_uri, EVENTS_SCHEMA, "quarantine_id", ids)

    def _resolve(self, uri: str, schema: pa.Schema, key: str, values: list[str]) -> int:
        if not values:
            return 0
        # Delta's replace checks that what it writes matches the predicate: so the predicate
        # names the rows by key only, and rows resolved before keep their time.
        predicate = tables.in_list(key, pa.array(values, pa.string()))

        def attempt() -> int:
            table = self._table(uri, schema)
            rows = tables.query(f"SELECT * FROM t WHERE {predicate}", t=table)
            rows = rows.select(schema.names).cast(schema)
            open_rows = pc.is_null(rows["resolved_at"])
            stamped = pc.if_else(open_rows, pa.scalar(now(), UTC_MICROS), rows["resolved_at"])
            index = schema.get_field_index("resolved_at")
            resolved = rows.set_column(index, schema.field("resolved_at"), stamped)
            self._commit(table, Write(schema, resolved, mode="replace", predicate=predicate))
            return int(pc.sum(open_rows.cast(pa.int64())).as_py() or 0)

        return commits.with_retries(attempt, f"resolving quarantined {key}s")
