"""How fresh bronze is, read from its log alone (`delta.freshness`): the newest event it
holds (by the broker's enqueued time, from the data files' statistics) and when it last
committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.layout import LakeLayout


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
    return BronzeFreshness(freshness.newest_enqueued(table), freshness.last_commit(table))
