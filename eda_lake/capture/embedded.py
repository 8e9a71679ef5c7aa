"""Capture for the embedded hub: what Event Hubs Capture does in Azure, done by a job.

Per partition, events are grouped into time windows aligned on the window length, split when a
file would pass the size window, and written one file per partition per window under the
archive name format. A window is written once it has closed (or on `flush`).

Exactly once into capture, across crashes: a file is written under a temporary name and
fsynced; the ledger then records it as `writing` with its exact sequence range; the file is
renamed into place; the ledger marks it `done`. A run that finds a `writing` row either sees
the renamed file (and marks it done) or rewrites the same range to the same name. Progress is
the ledger itself, so nothing is captured twice and nothing is skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eda_lake.capture.naming import ArchiveNameFormat, window_start
from eda_lake.capture.writer import encoded, temporary_path, write_durably
from eda_lake.catalogue import CaptureSettings
from eda_lake.embedded.durable import connect, exclusive_file_lock, write_transaction
from eda_lake.hub.base import ReceivedEvent, ms_to_datetime
from eda_lake.hub.embedded import EmbeddedEventHub
from eda_lake.shared.progress import Progress, no_progress

_SCHEMA = """
CREATE TABLE IF NOT EXISTS capture_files (
    path TEXT PRIMARY KEY,
    hub TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    first_sequence INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    events INTEGER NOT NULL,
    window_end_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('writing', 'done'))
);
CREATE INDEX IF NOT EXISTS capture_files_partition
    ON capture_files (hub, partition_id, last_sequence);
"""
READ_CHUNK = 5_000


@dataclass(frozen=True)
class OpenWindow:
    """A partition's window still open at the run: its events are written once it closes."""

    hub: str
    partition_id: str
    closes_at: datetime


@dataclass
class CaptureReport:
    files: list[str] = field(default_factory=list)
    events: int = 0
    empty_files: int = 0
    recovered: int = 0
    expired: int = 0  # events the hub's retention removed after this capture
    open_windows: list[OpenWindow] = field(default_factory=list)  # left for a later run


@dataclass
class _PlannedFile:
    window_start_ms: int
    events: list[ReceivedEvent] = field(default_factory=list)
    size: int = 0


class EmbeddedCapture:
    """Captures the local hub's partitions into Avro files below `destination`."""

    def __init__(
        self,
        hub: EmbeddedEventHub,
        destination: Path,
        settings: CaptureSettings,
        state_dir: Path,
    ) -> None:
        self.hub = hub
        self.destination = destination
        self.settings = settings
        self.names = ArchiveNameFormat(settings.archive_name_format)
        self._ledger = connect(state_dir / "capture.sqlite3")
        self._ledger.executescript(_SCHEMA)
        self._lock_path = state_dir / "capture.lock"
        self._window_ms = settings.window_seconds * 1000

    def close(self) -> None:
        self._ledger.close()

    def run(
        self,
        hubs: list[str] | None = None,
        *,
        now: datetime | None = None,
        flush: bool = False,
        progress: Progress = no_progress,
    ) -> CaptureReport:
        now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        report = CaptureReport()
        with exclusive_file_lock(self._lock_path):  # one capture run at a time
            report.recovered = self._recover()
            for hub in hubs or [h.name for h in self.hub.hubs()]:
                for partition in self.hub.partition_ids(hub):
                    self._capture_partition(hub, partition, now_ms, flush, report)
                    progress("capture", report.events)
        return report

    def _recover(self) -> int:
        pending = self._ledger.execute(
            "SELECT path, hub, partition_id, first_sequence, last_sequence FROM capture_files "
            "WHERE state = 'writing'"
        ).fetchall()
        for path, hub, partition, first, last in pending:
            final = self.destination / path
            if not final.exists():
                empty = first < 0
                events = (
                    [] if empty else self.hub.read(hub, str(partition), first - 1, last - first + 1)
                )
                tmp = temporary_path(final)
                write_durably(tmp, encoded(events), self.settings.codec)
                tmp.replace(final)
            self._mark_done(path)
        for leftover in self.destination.rglob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        return len(pending)

    def _progress(self, hub: str, partition: str) -> tuple[int | None, int | None]:
        """Last captured sequence number and the end of the last closed window."""
        row = self._ledger.execute(
            "SELECT MAX(last_sequence), MAX(window_end_ms) FROM capture_files "
            "WHERE hub = ? AND partition_id = ?",
            (hub, int(partition)),
        ).fetchone()
        return row[0], row[1]

    def _events_after(self, hub: str, partition: str, after: int | None) -> Iterator[ReceivedEvent]:
        while True:
            chunk = self.hub.read(hub, partition, after, READ_CHUNK)
            yield from chunk
            if len(chunk) < READ_CHUNK:
                return
            after = chunk[-1].sequence_number

    def _capture_partition(
        self, hub: str, partition: str, now_ms: int, flush: bool, report: CaptureReport
    ) -> None:
        last_sequence, covered_until = self._progress(hub, partition)
        if last_sequence is not None and last_sequence < 0:
            last_sequence = None  # only empty files so far
        events = self._events_after(hub, partition, last_sequence)
        current: _PlannedFile | None = None
        for event in itertools.chain(events, [None]):
            window = (
                None if event is None else window_start(event.enqueued_time_ms, self._window_ms)
            )
            if current is not None and (
                window != current.window_start_ms
                or current.size + self._size(event) > self.settings.window_bytes
            ):
                self._commit(hub, partition, current, report)
                covered_until = current.window_start_ms + self._window_ms
                current = None
            if event is None or window is None:
                break
            if covered_until is not None:
                self._write_empty_windows(hub, partition, covered_until, window, report)
            if window + self._window_ms > now_ms and not flush:
                # The window is still open: it is written once it closes.
                closes = ms_to_datetime(window + self._window_ms)
                report.open_windows.append(OpenWindow(hub, partition, closes))
                return
            if current is None:
                current = _PlannedFile(window)
            current.events.append(event)
            current.size += self._size(event)
        if covered_until is not None:
            self._write_empty_windows(
                hub, partition, covered_until, window_start(now_ms, self._window_ms), report
            )

    @staticmethod
    def _size(event: ReceivedEvent | None) -> int:
        return 0 if event is None else len(event.body) + 64

    def _write_empty_windows(
        self, hub: str, partition: str, start_ms: int, stop_ms: int, report: CaptureReport
    ) -> None:
        if self.settings.skip_empty_archives:
            return
        for window in range(start_ms, stop_ms, self._window_ms):
            self._commit(hub, partition, _PlannedFile(window), report)

    def _file_name(self, hub: str, partition: str, plan: _PlannedFile) -> str:
        """The window start; a second file in one window (size split, flushed window) is
        named by its first event's second, moved on while the name is taken."""
        moment = ms_to_datetime(plan.window_start_ms)
        if plan.events:
            first = plan.events[0].enqueued_time.replace(microsecond=0)
            moment = max(moment, first) if self._taken(hub, partition, moment) else moment
        while self._taken(hub, partition, moment):
            moment += timedelta(seconds=1)
        return self.names.render(self.hub.namespace, hub, partition, moment)

    def _taken(self, hub: str, partition: str, moment: datetime) -> bool:
        path = self.names.render(self.hub.namespace, hub, partition, moment)
        row = self._ledger.execute("SELECT 1 FROM capture_files WHERE path = ?", (path,))
        return row.fetchone() is not None

    def _commit(self, hub: str, partition: str, plan: _PlannedFile, report: CaptureReport) -> None:
        name = self._file_name(hub, partition, plan)
        final = self.destination / name
        tmp = temporary_path(final)
        count = write_durably(tmp, encoded(plan.events), self.settings.codec)
        first = plan.events[0].sequence_number if plan.events else -1
        last = plan.events[-1].sequence_number if plan.events else -1
        with write_transaction(self._ledger) as conn:
            conn.execute(
                "INSERT INTO capture_files VALUES (?, ?, ?, ?, ?, ?, ?, 'writing')",
                (name, hub, int(partition), first, last, count,
                 plan.window_start_ms + self._window_ms),
            )  # fmt: skip
        tmp.replace(final)
        self._mark_done(name)
        report.files.append(name)
        report.events += count
        report.empty_files += count == 0

    def _mark_done(self, path: str) -> None:
        with write_transaction(self._ledger) as conn:
            conn.execute("UPDATE capture_files SET state = 'done' WHERE path = ?", (path,))
