"""Quarantine: what could not be ingested or decoded, with its reason and its bytes.

Nothing is dropped silently. A quarantined capture file is copied under
`quarantine/capture/<path>` and listed in the `quarantine/files` table; a quarantined event
keeps its bronze coordinates and body in `quarantine/events`. Both are re-processable after a
fix (delete the row, or re-run with the fix in place).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.fs as pafs

from eda_lake.capture.arrow_schema import UTC_MICROS
from eda_lake.lake import tables
from eda_lake.lake.layout import LakeLayout

COPY_CHUNK = 4 << 20
FILES_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("size", pa.int64()),
        pa.field("quarantined_at", UTC_MICROS, nullable=False),
    ]
)
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("layer", pa.string(), nullable=False),
        pa.field("hub", pa.string()),
        pa.field("partition_id", pa.string()),
        pa.field("sequence_number", pa.int64()),
        pa.field("source_file", pa.string()),
        pa.field("schema_id", pa.string()),
        pa.field("ce_source", pa.string()),
        pa.field("ce_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("body", pa.binary()),
        pa.field("quarantined_at", UTC_MICROS, nullable=False),
    ]
)


@dataclass(frozen=True)
class QuarantinedFile:
    source_file: str
    reason: str


class Quarantine:
    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    @property
    def files_uri(self) -> str:
        return self.layout.table_uri("quarantine", "files")

    @property
    def events_uri(self) -> str:
        return self.layout.table_uri("quarantine", "events")

    def quarantined_files(self) -> set[str]:
        table = tables.open_table(self.files_uri, self.layout.storage_options)
        if table is None:
            return set()
        rows = tables.query("SELECT source_file FROM files", files=table)
        return set(rows["source_file"].to_pylist())

    def add_file(
        self, fs: pafs.FileSystem, capture_root: str, path: str, size: int | None, reason: str
    ) -> None:
        """Copy the file's bytes aside and record why; once per file, even if run twice."""
        app_id = f"quarantine:{path}"
        table = tables.ensure_table(
            self.files_uri, FILES_SCHEMA, options=self.layout.storage_options
        )
        if tables.transaction_done(table, app_id):
            return
        target = self.layout.fs_path("quarantine", "capture", path)
        try:  # from wherever the capture files live to the lake's quarantine area
            self.layout.fs.create_dir(target.rpartition("/")[0], recursive=True)
            with (
                fs.open_input_stream(f"{capture_root}/{path}") as source,
                self.layout.fs.open_output_stream(target) as out,
            ):
                shutil.copyfileobj(source, out, COPY_CHUNK)
        except (OSError, pa.ArrowException) as exc:  # keep the reason even without bytes
            reason = f"{reason} (copy failed: {exc})"
        row = {
            "source_file": [path],
            "reason": [reason],
            "size": [size],
            "quarantined_at": [datetime.now(UTC)],
        }
        batch = pa.RecordBatch.from_pydict(row, schema=FILES_SCHEMA)
        try:
            tables.append(self.files_uri, FILES_SCHEMA, [batch], app_ids=[app_id], table=table)
        except tables.ConcurrentCommitError:
            if not tables.transaction_done(
                tables.open_table(self.files_uri, self.layout.storage_options), app_id
            ):
                raise

    def add_events(self, rows: pa.Table, app_id: str) -> None:
        """Quarantine decoded-layer rows (EVENTS_SCHEMA) once per `app_id`."""
        if rows.num_rows == 0:
            return
        table = tables.ensure_table(
            self.events_uri, EVENTS_SCHEMA, options=self.layout.storage_options
        )
        if tables.transaction_done(table, app_id):
            return
        tables.append(
            self.events_uri,
            EVENTS_SCHEMA,
            rows.cast(EVENTS_SCHEMA).to_batches(),
            app_ids=[app_id],
            table=table,
        )
