"""How fresh a table is, from its Delta log alone: the newest event it has taken in (its
watermark), when it last committed, and how long events took from publish to a commit.

The watermark is an application transaction of the table (`WATERMARK`, its version the
instant in microseconds since the epoch), written in the same commit as the rows: it stays
in every later snapshot (a compaction, a vacuum or a lock commit does not carry it away), so
reading it costs nothing beyond opening the table. Bronze, which several ingestions write at
once, keeps none (one application id shared by every writer would make them conflict): its
newest event is the largest `enqueued_time` its data files' statistics hold, read from the
same log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

WATERMARK = "watermark:enqueued_time"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)


def _instant(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def watermark(table: DeltaTable) -> datetime | None:
    """The newest publish time (`enqueued_time`) among the events the snapshot has taken
    in, or None when no commit recorded one (a table written before watermarks were kept)."""
    micros = table.transaction_version(WATERMARK)
    return None if micros is None else _instant(micros)


def watermark_transaction(moment: datetime | None) -> dict[str, int]:
    """The application transaction a commit records its watermark with (none for None)."""
    return {} if moment is None else {WATERMARK: _micros(moment)}


def newest_in_files(table: DeltaTable, column: str) -> datetime | None:
    """The largest value of a timestamp `column` the snapshot's data files' statistics hold
    (files written without its statistics are left out); None when none has them."""
    actions = pa.table(table.get_add_actions(flatten=True))
    name = f"max.{column}"
    if name not in actions.column_names or actions.num_rows == 0:
        return None
    newest = pc.max(actions[name]).as_py()
    return None if newest is None else newest.astimezone(UTC)


def newest_enqueued(table: DeltaTable) -> datetime | None:
    """Bronze's newest event: the largest publish time its data files' statistics hold."""
    return newest_in_files(table, "enqueued_time")


def last_commit(table: DeltaTable) -> datetime:
    """When the snapshot's newest commit was made (its commit info's timestamp)."""
    [newest] = table.history(1)
    return EPOCH + timedelta(milliseconds=int(newest["timestamp"]))


def commit_time(table: DeltaTable, version: int) -> datetime:
    """When `version` of the table was committed."""
    if table.version() < version:  # committed through another snapshot of the table
        table.update_incremental()
    for entry in table.history(max(table.version() - version + 1, 1)):
        if entry.get("version") == version:
            return EPOCH + timedelta(milliseconds=int(entry["timestamp"]))
    raise ValueError(f"{table.table_uri}: version {version} is not in its history")


@dataclass(frozen=True)
class Latency:
    """Seconds from publish (the broker's `enqueued_time`) to a commit, over the events the
    commit newly took in: the median, the 95th percentile (both interpolated between the
    closest ranks) and the longest."""

    events: int
    p50_s: float
    p95_s: float
    max_s: float


def latency(enqueued_micros: npt.NDArray[np.int64], committed_at: datetime) -> Latency | None:
    """The figures of events published at these instants (microseconds since the epoch) and
    committed at `committed_at`; None for no event (nothing new is no figure, not zero)."""
    if len(enqueued_micros) == 0:
        return None
    seconds = (_micros(committed_at) - enqueued_micros.astype(np.int64)) / 1e6
    p50, p95 = np.percentile(seconds, [50, 95])
    return Latency(len(seconds), float(p50), float(p95), float(seconds.max()))


def enqueued_micros(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """A timestamp column as microseconds since the epoch (nulls left out)."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    micros = array.cast(pa.timestamp("us", "UTC")).cast(pa.int64()).drop_null()
    return np.asarray(micros.to_numpy(zero_copy_only=False), dtype=np.int64)
