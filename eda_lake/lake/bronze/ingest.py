"""Bronze: every capture file's events, one row each, exactly once per file.

Whether a file is in bronze is read from bronze itself: its rows carry `source_file`, so a
file is in when the snapshot holds rows of it. The question is asked of the same snapshot the
commit is validated against, and every commit takes the lock of each stream (namespace, hub,
partition) it writes: an application transaction whose version the commit increments. Two
ingestions of one stream therefore conflict in Delta and the second decides again, while the
bookkeeping stays one transaction per stream however many files were ingested, and a file
retried long after later files of its stream (a high-water mark would wrongly call it done) is
judged by its own rows.

A file that cannot be read is quarantined with its reason and the rest of its group is
committed without it. It is retried by itself when it changes (size or modification time: a
half-written file completed) or after a transient failure (storage errors, permissions), a
bounded number of times, and marked resolved once in. Anything else (a bug of ours) fails
the run with its traceback rather than quarantining good data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake.transaction import AddAction

from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.reader import CaptureFileError
from eda_lake.capture.windows import DEFAULT_MAX_EVENT_BYTES
from eda_lake.lake.bronze.schema import BRONZE_SCHEMA, PARTITION_COLUMNS
from eda_lake.lake.delta import commits, file_lookup, tables
from eda_lake.lake.delta.data_files import DataFileWriter, LakeWriteError, referenced
from eda_lake.lake.discovery.listing import CaptureFile
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake.shared.progress import Progress, no_progress

MAX_FILES_PER_COMMIT = 64
MAX_BYTES_PER_COMMIT = 512 << 20

# Data files are written by `data_files` on a thread of its own, encoding while the next
# batches are decoded. Only columns whose values repeat are dictionary-encoded, and only these
# get statistics (exact, in the add actions): `source_file` makes "is this file in" read only
# the data files that may hold it; `enqueued_time`'s maximum is bronze's newest event
# (`freshness.newest_enqueued`), read from the log.
STATS_COLUMNS = ("namespace", "partition_id", "sequence_number", "enqueued_time", "source_file")
DICTIONARY_COLUMNS = ("namespace", "partition_id", "source_file", "ce_type", "ce_source")

# Opening a snapshot replays the commits since the last checkpoint: bronze commits often, so
# it checkpoints every 10 commits to keep that replay short however old the table.
BRONZE_CHECKPOINT_INTERVAL = 10
BRONZE_CONFIGURATION: dict[str, str | None] = {
    **tables.CHANGE_FEED,
    "delta.checkpointInterval": str(BRONZE_CHECKPOINT_INTERVAL),
}


def stream_lock(file: CaptureFile) -> str:
    """The application transaction that serializes the commits of one stream."""
    archive = file.archive
    assert archive is not None
    return f"stream:{archive.namespace.lower()}/{archive.hub.lower()}/{archive.partition_id}"


@dataclass
class BronzeReport:
    files_ingested: int = 0
    files_already_ingested: int = 0
    files_quarantined: int = 0
    files_still_quarantined: int = 0  # quarantined earlier, unchanged: not retried this run
    files_retried: int = 0  # quarantined earlier, tried again this run
    files_resolved: int = 0  # quarantined earlier, in bronze now
    files_empty: int = 0  # no events (an empty window): nothing to land
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

    def __init__(self, file: CaptureFile, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.file = file
        self.reason = reason
        self.transient = transient


class BronzeIngestor:
    def __init__(
        self,
        layout: LakeLayout,
        fs: pafs.FileSystem,
        capture_root: str,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.layout = layout
        self.fs = fs
        self.capture_root = capture_root.rstrip("/")
        self.quarantine = Quarantine(layout)
        self.max_event_bytes = max_event_bytes  # a larger event quarantines its file

    def ingest(
        self,
        files: Sequence[CaptureFile],
        *,
        retry_quarantined: bool = False,
        progress: Progress = no_progress,
    ) -> BronzeReport:
        """Land the files not in bronze yet. Quarantined files are retried when they
        changed or failed transiently; all of them with `retry_quarantined`."""
        report = BronzeReport()
        pending = self._pending(files, report, retry_quarantined)
        quarantined = set(self.quarantine.quarantined_files())
        retried = {f.path for f in pending} & quarantined
        # Quarantined files already in bronze (a run killed between its commit and marking
        # them, or another ingestion landed them): resolved, not retried forever.
        if quarantined & {f.path for f in files}:
            placed = [f for f in files if f.archive is not None]
            in_bronze = quarantined & _ingested(self.layout, self._table(), placed)
            report.files_resolved += self.quarantine.resolve_files(sorted(in_bronze))
        total, done, conflicts = len(pending), 0, 0
        while pending:
            group = self._group(pending)
            try:
                landed = self._commit(group, report)
                conflicts = 0
            except _FileFailedError as failed:
                self._quarantine(failed.file, failed.reason, failed.transient, report)
                pending = [f for f in pending if f.path != failed.file.path]
                done += 1
                continue
            except commits.ConcurrentCommitError:
                conflicts += 1  # another ingestion committed first: see what it took
                if conflicts > commits.MAX_CONFLICT_RETRIES:
                    raise
                commits.pause_after_conflict(conflicts)
                pending = self._still_pending(pending, report)
                continue
            resolved = sorted(landed & retried)
            report.files_resolved += self.quarantine.resolve_files(resolved)
            pending = [f for f in pending if f.path not in {g.path for g in group}]
            done += len(group)
            progress("bronze", done, total, "files")
        return report

    def new_files(self, files: Sequence[CaptureFile]) -> list[CaptureFile]:
        """Which of the files an ingestion would read now (the sensor's decision)."""
        return self._pending(files, BronzeReport(), retry_all=False)

    def _pending(
        self, files: Sequence[CaptureFile], report: BronzeReport, retry_all: bool
    ) -> list[CaptureFile]:
        quarantined = self.quarantine.quarantined_files()
        candidates = []
        for file in files:
            known = quarantined.get(file.path)
            if file.archive is None:
                if known is None:
                    reason = file.problem or "path does not fit the archive name format"
                    self._quarantine(file, reason, False, report)
                else:
                    report.files_still_quarantined += 1
            elif known is not None and not (
                retry_all or known.worth_retrying(file.size, file.modified_at)
            ):
                report.files_still_quarantined += 1
            else:
                report.files_retried += known is not None
                candidates.append(file)
        return self._still_pending(candidates, report)

    def _still_pending(
        self, files: Sequence[CaptureFile], report: BronzeReport
    ) -> list[CaptureFile]:
        ingested = _ingested(self.layout, self._table(), files)
        report.files_already_ingested += sum(f.path in ingested for f in files)
        return [f for f in files if f.path not in ingested]

    def _table(self) -> DeltaTable | None:
        return tables.open_table(self.layout.bronze_uri, self.layout.storage_options)

    def _quarantine(
        self, file: CaptureFile, reason: str, transient: bool, report: BronzeReport
    ) -> None:
        self.quarantine.add_file(
            self.fs, self.capture_root, file.path, size=file.size,
            modified_at=file.modified_at, reason=reason, transient=transient,
        )  # fmt: skip
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

    def _commit(self, group: list[CaptureFile], report: BronzeReport) -> set[str]:
        """Land the group in one commit; returns the paths landed (empty files included)."""
        table = commits.ensure_table(
            self.layout.bronze_uri,
            BRONZE_SCHEMA,
            options=self.layout.storage_options,
            partition_by=PARTITION_COLUMNS,
            configuration=BRONZE_CONFIGURATION,
        )
        # A table written before bronze's newest columns takes them first, in a commit of its
        # own (a writer that decided before it decides again, as after any conflict).
        commits.add_columns(table, BRONZE_SCHEMA, inputs={})
        # Decide on the very snapshot the commit is checked against (see the module doc).
        if _ingested(self.layout, table, group):
            raise commits.ConcurrentCommitError("files of the group were ingested concurrently")
        ingested_at = datetime.now(UTC)
        rows: dict[str, int] = {}
        writer = DataFileWriter(
            self.layout.fs, self.layout.fs_path("bronze"), BRONZE_SCHEMA, PARTITION_COLUMNS,
            stats_columns=STATS_COLUMNS, target_bytes=commits.TARGET_FILE_BYTES,
            dictionary_columns=DICTIONARY_COLUMNS,
        )  # fmt: skip
        added: list[AddAction] = []
        committed = False
        try:
            # In path order a stream's files come one after another: each stream's rows go to
            # data files of their own, whose `source_file` range then skips all other files.
            for file in sorted(group, key=lambda f: f.path):
                rows[file.path] = 0
                partition = _partition(file)
                try:
                    for batch in self._file_batches(file, ingested_at):
                        rows[file.path] += batch.num_rows
                        writer.write(batch, partition, group=stream_lock(file))
                except CaptureFileError as exc:
                    raise _FileFailedError(file, str(exc), transient=False) from None
                except LakeWriteError:
                    raise  # the lake's storage failed, not this file: never quarantine it
                except OSError as exc:  # the capture storage, not the file: worth another try
                    reason = f"{file.path}: unreadable: {exc}"
                    raise _FileFailedError(file, reason, transient=True) from None
            added = writer.finish()
            if added:  # a group of empty files only has nothing to commit
                locks = {stream_lock(f) for f in group}
                commits.commit_files(
                    table, BRONZE_SCHEMA, added, partition_by=PARTITION_COLUMNS, inputs={},
                    app_transactions={
                        lock: (table.transaction_version(lock) or 0) + 1 for lock in locks
                    },
                    metadata={"eda_lake.files": str(len(group))},
                )  # fmt: skip
            committed = True
        except BaseException:
            # Leave no files of a group that is not in the table; but a commit that raised may
            # be in (interrupted, its post-commit step failed, or heard refused when the log
            # write that did land was retried): look first.
            if not committed and not (added and referenced(self._table(), added)):
                writer.abort()
            raise
        committed_at = time.time()
        report.commits += bool(added)
        landed = [f for f in group if rows.get(f.path, 0) > 0]
        report.files_ingested += len(landed)
        report.files_empty += len(group) - len(landed)
        report.rows += sum(rows.values())
        report.bytes += sum(f.size for f in group)
        report.lag_seconds += [
            committed_at - f.archive.window_time.timestamp()
            for f in landed
            if f.archive is not None
        ]
        return {f.path for f in group}

    def _file_batches(self, file: CaptureFile, ingested_at: datetime) -> Iterator[pa.RecordBatch]:
        with self.fs.open_input_file(f"{self.capture_root}/{file.path}") as stream:
            batches = read_capture_batches(stream, file.path, max_event_bytes=self.max_event_bytes)
            for events in batches:
                yield _bronze_batch(events, file, ingested_at)


def _ingested(
    layout: LakeLayout, table: DeltaTable | None, files: Sequence[CaptureFile]
) -> set[str]:
    """Which of the files the snapshot holds rows of. Each file is looked for in its own
    partition only (hub and window day), and there only in the data files whose
    `source_file` statistics admit it (a stream's rows have data files of their own), so the
    cost follows the files asked about, not the files ingested."""
    if table is None or not files:
        return set()
    wanted: dict[file_lookup.Partition, list[str]] = {}
    for file in files:
        assert file.archive is not None
        partition = (("hub", file.archive.hub), ("date", _window_day(file)))
        wanted.setdefault(partition, []).append(file.path)
    root = layout.fs_path("bronze")
    return file_lookup.values_present(table, layout.fs, root, "source_file", wanted)


def _partition(file: CaptureFile) -> dict[str, str]:
    assert file.archive is not None
    return {"hub": file.archive.hub, "date": _window_day(file)}


def _window_day(file: CaptureFile) -> str:
    assert file.archive is not None
    return file.archive.window_time.astimezone(UTC).date().isoformat()


def _bronze_batch(
    events: pa.RecordBatch, file: CaptureFile, ingested_at: datetime
) -> pa.RecordBatch:
    archive = file.archive
    assert archive is not None
    rows = events.num_rows
    # A file's rows land in one partition, its capture window's UTC day, so that whether a file
    # is in is asked of one partition (enqueue times may cross midnight, and other producers'
    # timestamps may be anything).
    day = _window_day(file)

    def constant(value: object, type_: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), rows)

    columns = {
        "namespace": constant(archive.namespace, pa.string()),
        "hub": constant(archive.hub, pa.string()),
        "partition_id": constant(archive.partition_id, pa.string()),
        "source_file": constant(file.path, pa.string()),
        "ingested_at": constant(ingested_at, BRONZE_SCHEMA.field("ingested_at").type),
        "date": constant(day, pa.string()),
    }
    arrays = [
        columns[name] if name in columns else events.column(name) for name in BRONZE_SCHEMA.names
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=BRONZE_SCHEMA)
