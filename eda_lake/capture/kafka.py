"""Capture for Kafka: what Event Hubs Capture does, done by a consumer of every topic.

Each partition is read with the `datalake` group (read_committed) from its committed offset
up to the end offset seen when the run began, grouped into time windows by message
timestamp, split at the size window, and written one file per partition per window in
Azure's Capture format under the archive name format. A window is written once closed (or on
`flush`); idle windows write nothing (the catalogue's skip_empty_archives).

Exactly once into capture, across SIGKILLs, with no state but the files and the offsets:
- a file is written under a hidden temporary name, fsynced, then renamed into place, so a
  file appears under its name only complete;
- the offset after its last event is committed only after the rename is durable;
- what a file holds is decided by where the previous one ended: the committed offset is its
  first event, and the window and size rules fix its last;
- a file's name is its window's start, or, when that name is taken (a size split, or a
  flushed window that received more events later), its first event's second moved on one
  second at a time while taken. Taken means a file exists under the name: one whose first
  event is this file's first event is this very file, written by a run killed before its
  commit, so the run commits after it instead of writing it again. Two files of a partition
  therefore never share a one-second name, and a restart never writes a second copy.
One capture runs at a time per lake (a lock file); a second one waits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Message

from eda_lake.capture.embedded import CaptureReport
from eda_lake.capture.naming import ArchiveNameFormat, window_start
from eda_lake.capture.reader import CaptureFileError, read_capture
from eda_lake.capture.writer import (
    SYSTEM_PROPERTY_KEYS,
    EnqueuedText,
    temporary_path,
    write_durably,
)
from eda_lake.catalogue import DATALAKE_CONSUMER_GROUP, CaptureSettings
from eda_lake.embedded.durable import exclusive_file_lock
from eda_lake.hub.base import ms_to_datetime
from eda_lake.hub.kafka import KafkaEventHub, offset_of
from eda_lake.native import avro as native

READ_CHUNK = 5_000
EVENT_OVERHEAD = 64  # bytes a record adds to its body in the file, roughly, for the size window


class KafkaCaptureError(ValueError):
    """A capture setting or a destination state the Kafka capture cannot honour."""


class KafkaCapture:
    """Captures a Kafka cluster's topics into Avro files below `destination`."""

    def __init__(
        self, hub: KafkaEventHub, destination: Path, settings: CaptureSettings, state_dir: Path
    ) -> None:
        if not settings.skip_empty_archives:
            raise KafkaCaptureError(
                "the Kafka capture writes no files for idle windows: set "
                "skip_empty_archives = true in the catalogue's [capture] section"
            )
        self.hub = hub
        self.destination = destination
        self.settings = settings
        self.names = ArchiveNameFormat(settings.archive_name_format)
        self._window_ms = settings.window_seconds * 1000
        self._lock_path = state_dir / "kafka-capture.lock"

    def run(
        self, hubs: list[str] | None = None, *, now: datetime | None = None, flush: bool = False
    ) -> CaptureReport:
        now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
        report = CaptureReport()
        with exclusive_file_lock(self._lock_path):  # one capture run at a time
            for leftover in self.destination.rglob(".*.tmp"):
                leftover.unlink(missing_ok=True)  # a killed run's unfinished file
            for hub in hubs or [h.name for h in self.hub.hubs()]:
                for partition in range(len(self.hub.partition_ids(hub))):
                    self._capture_partition(hub, partition, now_ms, flush, report)
        return report

    def _capture_partition(
        self, hub: str, partition: int, now_ms: int, flush: bool, report: CaptureReport
    ) -> None:
        start, end = self.hub.progress(DATALAKE_CONSUMER_GROUP, hub, partition)
        pending: list[Message] = []
        pending_bytes, window = 0, -1
        while start < end:
            chunk = self.hub.read(DATALAKE_CONSUMER_GROUP, hub, partition, start, end, READ_CHUNK)
            if not chunk:
                break  # only transaction markers (or aborted messages) were left before the end
            start = offset_of(chunk[-1]) + 1
            for message in chunk:
                size = len(message.value() or b"") + EVENT_OVERHEAD
                message_window = _window_of(message, self._window_ms)
                if pending and (
                    message_window != window or pending_bytes + size > self.settings.window_bytes
                ):
                    written = self._commit(hub, partition, window, pending, report)
                    if written != offset_of(pending[-1]):  # a shorter file: go on after it
                        start, pending, pending_bytes = written + 1, [], 0
                        break
                    pending, pending_bytes = [], 0
                if not pending:
                    window = message_window
                    if window + self._window_ms > now_ms and not flush:
                        return  # the window is still open: it is written once it closes
                pending.append(message)
                pending_bytes += size
        while pending:
            written = self._commit(hub, partition, window, pending, report)
            pending = [m for m in pending if offset_of(m) > written]
            window = -1 if not pending else _window_of(pending[0], self._window_ms)

    def _commit(
        self,
        hub: str,
        partition: int,
        window_ms: int,
        messages: list[Message],
        report: CaptureReport,
    ) -> int:
        """Write (or find) the file that starts at `messages[0]`; commit after it and return
        its last offset, which is shorter than `messages` when a killed run left a file."""
        name = self._file_name(hub, partition, window_ms, messages[0])
        final = self.destination / name
        if final.exists():
            written = _last_sequence(final)  # a killed run wrote it and was not to commit
            report.recovered += 1
        else:
            tmp = temporary_path(final)
            write_durably(tmp, map(_record_encoder(), messages), self.settings.codec)
            tmp.replace(final)
            _fsync_directory(final.parent)
            written = offset_of(messages[-1])
            report.files.append(name)
            report.events += len(messages)
        self.hub.checkpoint(hub, DATALAKE_CONSUMER_GROUP, str(partition), written)
        return written

    def _file_name(self, hub: str, partition: int, window_ms: int, first: Message) -> str:
        moment = ms_to_datetime(window_ms)
        while True:
            name = self.names.render(self.hub.namespace, hub, str(partition), moment)
            path = self.destination / name
            if not path.exists() or _first_sequence(path) == offset_of(first):
                return name
            first_second = ms_to_datetime(first.timestamp()[1]).replace(microsecond=0)
            moment = max(moment + timedelta(seconds=1), first_second)


def _record_encoder() -> Callable[[Message], bytes]:
    """Messages to EventData records in one compiled step, without a ReceivedEvent each: the
    records `encode_record(to_received(message))` would make."""
    encoder = native.KafkaRecordEncoder(SYSTEM_PROPERTY_KEYS, EnqueuedText())
    return encoder.encode  # type: ignore[no-any-return]


def _window_of(message: Message, window_ms: int) -> int:
    return window_start(int(message.timestamp()[1]), window_ms)


def _sequences(path: Path) -> Iterator[int]:
    with path.open("rb") as stream:
        for event in read_capture(stream, str(path)):
            yield event.sequence_number


def _first_sequence(path: Path) -> int | None:
    try:
        return next(_sequences(path), None)
    except CaptureFileError:
        return None  # not ours to judge: a damaged file is left for bronze to quarantine


def _last_sequence(path: Path) -> int:
    last = None
    for sequence in _sequences(path):
        last = sequence
    if last is None:
        raise KafkaCaptureError(f"capture file {path} holds no events; move it away and rerun")
    return last


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable before the offset after it is committed."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
