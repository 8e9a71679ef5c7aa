"""Bronze: every capture file's events, one row each, exactly once per file.

A commit appends the rows of a group of files together with one Delta application
transaction per file (`capture:<path>`). A file is ingested when its transaction is in the
table, so re-running, running twice at once or killing the process at any point neither
duplicates nor loses a row. A file that cannot be read is quarantined with its reason and the
rest of the group is committed without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from eda_lake.capture.batches import read_capture_batches
from eda_lake.capture.reader import CaptureFileError
from eda_lake.lake import tables
from eda_lake.lake.bronze_schema import BRONZE_SCHEMA, PARTITION_COLUMNS
from eda_lake.lake.discovery import CaptureFile
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine

MAX_FILES_PER_COMMIT = 64
MAX_BYTES_PER_COMMIT = 512 << 20
MAX_CONFLICT_RETRIES = 20

BatchReader = Callable[[pa.NativeFile, str], Iterator[pa.RecordBatch]]


def app_id(path: str) -> str:
    return f"capture:{path}"


@dataclass
class BronzeReport:
    files_ingested: int = 0
    files_already_ingested: int = 0
    files_quarantined: int = 0
    rows: int = 0
    bytes: int = 0
    commits: int = 0
    lag_seconds: list[float] = field(default_factory=list)  # capture window -> bronze commit
    quarantined: list[str] = field(default_factory=list)

    @property
    def max_lag_seconds(self) -> float | None:
        return max(self.lag_seconds) if self.lag_seconds else None


class _FileFailedError(Exception):
    """A file of a group failed to read; carried out of the Delta writer, which wraps it."""

    def __init__(self, file: CaptureFile, cause: CaptureFileError) -> None:
        super().__init__(str(cause))
        self.file = file
        self.cause = cause


class BronzeIngestor:
    def __init__(
        self,
        layout: LakeLayout,
        fs: pafs.FileSystem,
        capture_root: str,
        batch_reader: BatchReader = read_capture_batches,
    ) -> None:
        self.layout = layout
        self.fs = fs
        self.capture_root = capture_root.rstrip("/")
        self.quarantine = Quarantine(layout)
        self.read_batches = batch_reader

    def ingest(self, files: Sequence[CaptureFile]) -> BronzeReport:
        report = BronzeReport()
        pending = self._not_done(files, report)
        conflicts = 0
        while pending:
            group = self._group(pending)
            try:
                self._commit(group, report)
            except _FileFailedError as failed:
                self._quarantine(failed.file, str(failed.cause), report)
                pending = [f for f in pending if f.path != failed.file.path]
                continue
            except tables.ConcurrentCommitError:
                conflicts += 1  # another ingestion committed first: see what it took
                if conflicts > MAX_CONFLICT_RETRIES:
                    raise
                pending = self._not_done(pending, report)
                continue
            done = {f.path for f in group}
            pending = [f for f in pending if f.path not in done]
        return report

    def _not_done(self, files: Sequence[CaptureFile], report: BronzeReport) -> list[CaptureFile]:
        table = tables.open_table(self.layout.bronze_uri, self.layout.storage_options)
        quarantined = self.quarantine.quarantined_files()
        pending = []
        for file in files:
            if tables.transaction_done(table, app_id(file.path)):
                report.files_already_ingested += 1
            elif file.path in quarantined:
                continue
            elif file.archive is None:
                self._quarantine(file, file.problem or "path does not fit the format", report)
            else:
                pending.append(file)
        return pending

    def _quarantine(self, file: CaptureFile, reason: str, report: BronzeReport) -> None:
        self.quarantine.add_file(self.fs, self.capture_root, file.path, file.size, reason)
        report.files_quarantined += 1
        report.quarantined.append(f"{file.path}: {reason}")

    @staticmethod
    def _group(pending: list[CaptureFile]) -> list[CaptureFile]:
        group: list[CaptureFile] = []
        size = 0
        for file in pending:
            if group and (
                len(group) >= MAX_FILES_PER_COMMIT or size + file.size > MAX_BYTES_PER_COMMIT
            ):
                break
            group.append(file)
            size += file.size
        return group

    def _commit(self, group: list[CaptureFile], report: BronzeReport) -> None:
        table = tables.ensure_table(
            self.layout.bronze_uri,
            BRONZE_SCHEMA,
            options=self.layout.storage_options,
            partition_by=PARTITION_COLUMNS,
            configuration=tables.CHANGE_FEED,
        )
        # Decide on the very snapshot the commit is checked against (see tables.append).
        taken = [f for f in group if tables.transaction_done(table, app_id(f.path))]
        if taken:
            raise tables.ConcurrentCommitError(f"{len(taken)} file(s) were ingested concurrently")
        ingested_at = datetime.now(UTC)
        rows = 0
        failure: _FileFailedError | None = None

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal rows, failure
            for file in group:
                try:
                    for batch in self._file_batches(file, ingested_at):
                        rows += batch.num_rows
                        yield batch
                except CaptureFileError as exc:
                    failure = _FileFailedError(file, exc)  # the writer wraps what we raise
                    raise

        try:
            tables.append(
                self.layout.bronze_uri,
                BRONZE_SCHEMA,
                batches(),
                partition_by=PARTITION_COLUMNS,
                app_ids=[app_id(f.path) for f in group],
                table=table,
                metadata={"eda_lake.files": str(len(group))},
            )
        except tables.ConcurrentCommitError:
            raise
        except Exception as exc:
            if failure is not None:
                raise failure from exc
            raise
        committed = time.time()
        report.commits += 1
        report.files_ingested += len(group)
        report.rows += rows
        report.bytes += sum(f.size for f in group)
        report.lag_seconds += [
            committed - f.archive.window_time.timestamp() for f in group if f.archive is not None
        ]

    def _file_batches(self, file: CaptureFile, ingested_at: datetime) -> Iterator[pa.RecordBatch]:
        try:
            stream = self.fs.open_input_file(f"{self.capture_root}/{file.path}")
        except OSError as exc:
            raise CaptureFileError(f"{file.path}: unreadable: {exc}") from None
        with stream:
            for events in self.read_batches(stream, file.path):
                yield _bronze_batch(events, file, ingested_at)


def _bronze_batch(
    events: pa.RecordBatch, file: CaptureFile, ingested_at: datetime
) -> pa.RecordBatch:
    archive = file.archive
    assert archive is not None
    rows = events.num_rows
    enqueued = events.column("enqueued_time")
    dates = pc.strftime(enqueued, format="%Y-%m-%d")

    def constant(value: object, type_: pa.DataType) -> pa.Array:
        return pa.array([value] * rows, type=type_) if rows else pa.array([], type=type_)

    columns = {
        "namespace": constant(archive.namespace, pa.string()),
        "hub": constant(archive.hub, pa.string()),
        "partition_id": constant(archive.partition_id, pa.string()),
        "source_file": constant(file.path, pa.string()),
        "ingested_at": constant(ingested_at, BRONZE_SCHEMA.field("ingested_at").type),
        "date": dates,
    }
    arrays = [
        columns[name] if name in columns else events.column(name) for name in BRONZE_SCHEMA.names
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=BRONZE_SCHEMA)
