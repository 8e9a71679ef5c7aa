"""Writing a Delta table's data files with Arrow's Parquet writer, on a thread of its own.

Bronze's hot path: the compiled decoder (which holds the GIL) fills batches while this
writer encodes and compresses earlier ones in C++ without the GIL, so decoding and writing
overlap on two cores. The files become visible only when `commits.commit_files` adds them
to the table; until then (and after a failed commit, when they are deleted) no reader sees
them.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.transaction import AddAction

from eda_lake.lake.delta.commits import ConcurrentCommitError

# How far decoding may run ahead of the writer, and how much a row group holds, in rows and
# in bytes (whichever comes first; a batch larger than either still goes through whole):
# with big values memory holds a few tens of MiB, not tens of thousands of rows.
QUEUE_BYTES = 32 << 20
ROW_GROUP_ROWS = 64 * 1024
ROW_GROUP_BYTES = 32 << 20
BIG_ROWS_BYTES = 1 << 20  # rows this large on average: their pages are given back
_STOP = object()


class LakeWriteError(OSError):
    """Writing the lake's own files failed (a full disk, a read-only or missing path, a
    storage error): a fault of the lake's storage, never of the capture file being read."""


@dataclass
class _OpenFile:
    relative: str
    sink: pa.NativeFile
    writer: pq.ParquetWriter
    partition: dict[str, str]
    rows: int = 0
    stats: dict[str, tuple[object, object, int]] = field(default_factory=dict)


class DataFileWriter:
    """Writes batches into Parquet files under `root`, one file per partition and group at a
    time, rolled at `target_bytes`; `finish()` returns their add actions.

    `stats_columns` get exact min, max and null counts in the add actions (Delta readers
    skip files with them); other columns get none, which is always correct. A group's rows
    (bronze: one stream's) go to files of their own, so those statistics stay narrow enough
    to skip by.
    """

    def __init__(
        self,
        fs: pafs.FileSystem,
        root: str,
        schema: pa.Schema,
        partition_by: list[str],
        *,
        stats_columns: tuple[str, ...],
        target_bytes: int,
        dictionary_columns: tuple[str, ...] = (),
        bloom_filters: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.partition_by = partition_by
        self.file_schema = pa.schema([f for f in schema if f.name not in partition_by])
        self.stats_columns = stats_columns
        self.target_bytes = target_bytes
        self.dictionary_columns = list(dictionary_columns)
        self.bloom_filters = bloom_filters  # column -> Arrow's bloom_filter_options for it
        self.actions: list[AddAction] = []
        self.written: list[str] = []
        self._kept = False  # the files are (or may be) a table's: never delete them
        self._open: dict[tuple[str, ...], _OpenFile] = {}
        self._bytes: dict[tuple[str, ...], int] = {}
        self._pending: dict[tuple[str, ...], tuple[list[pa.RecordBatch], dict[str, str]]] = {}
        self._last_key: tuple[str, ...] | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._queued_bytes = 0  # of the batches in the queue
        self._room = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="data-file-writer", daemon=True)
        self._thread.start()

    # Producer side (the caller's thread)

    def write(self, batch: pa.RecordBatch, partition: dict[str, str], group: str = "") -> None:
        """Queue a batch whose rows all belong to `partition` and `group`; returns once the
        batches queued or being written hold less than QUEUE_BYTES. A batch that large by
        itself is therefore written before the next is decoded: Parquet holds about three
        copies of a big value while it compresses its page."""
        self._raise_if_failed()
        with self._room:
            self._queued_bytes += batch.nbytes
        self._queue.put((batch, partition, group))
        with self._room:
            self._room.wait_for(lambda: self._queued_bytes < QUEUE_BYTES or self._error is not None)
        self._raise_if_failed()

    def finish(self) -> list[AddAction]:
        self._queue.put(_STOP)
        self._thread.join()
        self._raise_if_failed()
        return self.actions

    def land(
        self,
        commit: Callable[[list[AddAction]], int],
        current: Callable[[], DeltaTable | None],
        since: int | None = None,
    ) -> int:
        """Finish, and add the files to a table with `commit`; the table's new version.

        A commit that raised may have landed all the same (interrupted, its post-commit step
        failed, or refused as a conflict when the log write that did land was retried), so
        the table as it is now (`current`) is looked at first, and the log's commits after
        version `since` (the snapshot `commit` decides on): a later commit may already have
        removed files that landed (a rebuild beside this writer), and a version of the log
        still holds them. Files the table holds or held are never deleted, and a refusal of
        a commit that landed is its success (a retry would add them twice, or find nothing
        left to land). Otherwise the error is raised and the files are the caller's, to land
        again or `abort`."""
        added = self.finish()
        self._kept = True  # until the table is seen not to hold them
        try:
            return commit(added)
        except BaseException as exc:
            table = current()
            self._kept = referenced(table, added) or (
                table is not None and since is not None
                and self._in_log(added, since, table.version())
            )  # fmt: skip
            if not self._kept:
                raise
            if table is None or not isinstance(exc, ConcurrentCommitError):
                raise
            return table.version()

    def _in_log(self, added: list[AddAction], since: int, until: int) -> bool:
        """Whether a commit of the table's log in (since, until] adds any of these files
        (a log entry that cannot be read counts as holding them: they are kept)."""
        names = {action.path.rpartition("/")[2] for action in added}
        for version in range(since + 1, until + 1):
            try:
                with self.fs.open_input_stream(
                    f"{self.root}/_delta_log/{version:020d}.json"
                ) as log:
                    lines = log.read().decode().splitlines()
            except (OSError, pa.ArrowException):
                return True
            for line in lines:
                path = json.loads(line).get("add", {}).get("path") if line.strip() else None
                if path is not None and unquote(path).rpartition("/")[2] in names:
                    return True
        return False

    def abort(self) -> None:
        """Stop and delete what was written (a failed or refused commit), unless a table
        holds it."""
        if self._thread.is_alive():
            self._drain()
            self._queue.put(_STOP)
            self._thread.join()
        if self._kept:
            return
        for path in self.written:
            with contextlib.suppress(OSError, pa.ArrowException):  # else a vacuum will
                self.fs.delete_file(f"{self.root}/{path}")

    def _drain(self) -> None:
        try:
            while True:
                self._taken(self._queue.get_nowait())
        except queue.Empty:
            return

    def _taken(self, item: object) -> None:
        if isinstance(item, tuple):
            with self._room:
                self._queued_bytes -= item[0].nbytes
                self._room.notify_all()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    # Writer side (its own thread)

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if self._error is None:
                    assert isinstance(item, tuple)
                    self._buffer(*item)
                self._taken(item)  # counted until written or buffered: one big batch at a time
            for key in list(self._pending):
                self._flush(key)
            for key in list(self._open):
                self._close(key)
        except OSError as exc:  # raised in the caller's thread by write() or finish()
            error = LakeWriteError(exc.errno, f"writing the lake under {self.root}: {exc}")
            error.__cause__ = exc
            self._fail(error)
        except BaseException as exc:
            self._fail(exc)

    def _fail(self, error: BaseException) -> None:
        with self._room:
            self._error = error
            self._room.notify_all()
        self._drain()
        # Close the other open files now: left to the garbage collector, each would fail
        # again (a full disk) and print a traceback past the one-line error.
        for current in self._open.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                current.writer.close()
            with contextlib.suppress(OSError, pa.ArrowException):
                current.sink.close()
        self._open.clear()

    def _buffer(self, batch: pa.RecordBatch, partition: dict[str, str], group: str) -> None:
        # Batches are written a row group at a time: each call into the Parquet writer has to
        # take the GIL back from the decoder when it returns, so few large calls overlap far
        # better with decoding than many small ones. Rows wait for one key only: a batch of
        # another key writes out the last one's, so memory stays one row group's however
        # many partitions and groups a commit holds.
        key = (*(partition[c] for c in self.partition_by), group)
        if self._last_key is not None and key != self._last_key and self._last_key in self._pending:
            self._flush(self._last_key)
        self._last_key = key
        pending = self._pending.setdefault(key, ([], dict(partition)))[0]
        pending.append(batch)
        rows, size = sum(b.num_rows for b in pending), sum(b.nbytes for b in pending)
        if rows >= ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
            self._flush(key)

    def _flush(self, key: tuple[str, ...]) -> None:
        batches, partition = self._pending.pop(key)
        if batches:
            self._write(pa.Table.from_batches(batches), partition, key)

    def _write(self, batch: pa.Table, partition: dict[str, str], key: tuple[str, ...]) -> None:
        current = self._open.get(key) or self._new_file(key, partition)
        data = batch.select(self.file_schema.names)
        current.writer.write_table(data, row_group_size=ROW_GROUP_ROWS)
        if data.nbytes >= BIG_ROWS_BYTES * data.num_rows:
            # Arrow's allocator keeps freed pages for reuse; after big values' pages (about
            # three copies of each) that would be memory held for nothing. Rows of ordinary
            # size reuse them at once, so for those it is left alone.
            pa.default_memory_pool().release_unused()
        current.rows += data.num_rows
        for column in self.stats_columns:
            values = data.column(column)
            low, high = pc.min_max(values).values()
            nulls = values.null_count
            if column in current.stats:
                old_low, old_high, old_nulls = current.stats[column]
                low = _pick(min, old_low, low.as_py())
                high = _pick(max, old_high, high.as_py())
                current.stats[column] = (low, high, old_nulls + nulls)
            else:
                current.stats[column] = (low.as_py(), high.as_py(), nulls)
        self._bytes[key] = self._bytes.get(key, 0) + data.nbytes
        if self._bytes[key] >= self.target_bytes:
            self._close(key)

    def _new_file(self, key: tuple[str, ...], partition: dict[str, str]) -> _OpenFile:
        directory = "".join(f"{c}={partition[c]}/" for c in self.partition_by)
        relative = f"{directory}part-{uuid.uuid4()}.zstd.parquet"
        self.fs.create_dir(f"{self.root}/{directory}".rstrip("/"), recursive=True)
        sink = self.fs.open_output_stream(f"{self.root}/{relative}")
        writer = pq.ParquetWriter(
            sink,
            self.file_schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=self.dictionary_columns,
            write_statistics=list(self.stats_columns),
            bloom_filter_options=self.bloom_filters,
        )
        self.written.append(relative)
        opened = _OpenFile(relative, sink, writer, dict(partition))
        self._open[key] = opened
        self._bytes[key] = 0
        return opened

    def _close(self, key: tuple[str, ...]) -> None:
        current = self._open.pop(key)
        current.writer.close()
        current.sink.close()
        size = self.fs.get_file_info(f"{self.root}/{current.relative}").size
        stats = {
            "numRecords": current.rows,
            "minValues": {
                c: _json(s[0], low=True) for c, s in current.stats.items() if s[0] is not None
            },
            "maxValues": {
                c: _json(s[1], low=False) for c, s in current.stats.items() if s[1] is not None
            },
            "nullCount": {c: s[2] for c, s in current.stats.items()},
        }
        self.actions.append(
            AddAction(
                current.relative,
                int(size or 0),
                current.partition,
                int(time.time() * 1000),
                True,
                json.dumps(stats),
            )
        )


def referenced(table: DeltaTable | None, added: list[AddAction]) -> bool:
    """Whether the table's snapshot holds any of these files (a commit whose outcome was
    unknown): files a table holds are never deleted."""
    if table is None:
        return False
    files = {uri.rpartition("/")[2] for uri in table.file_uris()}
    return any(action.path.rpartition("/")[2] in files for action in added)


def statistics_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The columns Delta readers skip files by: the first 32 (Delta's default
    `dataSkippingNumIndexedCols`) whose values Delta's JSON statistics hold exactly
    (text, integers, booleans, dates, and UTC timestamps)."""
    indexed = list(schema)[:32]
    return tuple(f.name for f in indexed if _has_json_statistics(f.type))


def _has_json_statistics(type_: pa.DataType) -> bool:
    if pa.types.is_timestamp(type_):
        return type_.tz is not None
    return bool(
        pa.types.is_string(type_) or pa.types.is_integer(type_)
        or pa.types.is_boolean(type_) or pa.types.is_date32(type_)
    )  # fmt: skip


def _json(value: object, *, low: bool) -> object:
    """A statistic as Delta's JSON holds it: a date as `YYYY-MM-DD`, a timestamp in UTC to
    the millisecond (a minimum rounded down and a maximum up, so the range still holds
    every value)."""
    if isinstance(value, datetime):
        instant = value.astimezone(UTC)
        millis = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
        if not low and millis != instant:
            millis += timedelta(milliseconds=1)
        return millis.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _pick(choose: object, old: object, new: object) -> object:
    if old is None:
        return new
    if new is None:
        return old
    return choose([old, new])  # type: ignore[operator]
