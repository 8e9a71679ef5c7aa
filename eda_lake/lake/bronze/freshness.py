"""How fresh bronze is, read from its log alone: the newest event it holds (by the broker's
enqueued time, from the data files' statistics) and when it last committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout

NEWEST_ENQUEUED = "max.enqueued_time"  # the add actions' statistic, flattened


@dataclass(frozen=True)
class BronzeFreshness:
    newest_enqueued: datetime | None  # None: no data file has the statistic (or no bronze)
    last_commit: datetime | None  # None: no bronze yet


def bronze_freshness(layout: LakeLayout) -> BronzeFreshness:
    """Bronze's newest enqueued time and last commit. Data files written before bronze kept
    the enqueued time's statistics have none: the newest of those that do is taken, which
    the next ingestion's files (the newest events) carry."""
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    if table is None:
        return BronzeFreshness(None, None)
    last_commit = datetime.fromtimestamp(table.history(1)[0]["timestamp"] / 1000, UTC)
    actions = pa.table(table.get_add_actions(flatten=True))
    newest = None
    if NEWEST_ENQUEUED in actions.column_names:
        newest = pc.max(actions.column(NEWEST_ENQUEUED)).as_py()
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return BronzeFreshness(newest, last_commit)
