"""Which events a derived table counts, which of them a run newly counted, and how long
those took from publish to the run's commit.

A derived table counts the silver event tables beneath it (an entity, its sources; a gold
table, its entities' sources) up to a version of each. Every commit of a derived table
records those versions as application transactions (`counted:<silver.table>` = version),
with its watermark (the oldest of its sources' watermarks: every event published before it
has reached the table), in the same atomic commit as its rows. The events a run newly
counted are the event tables' rows committed between the versions the table's previous
snapshot counted and those it counts now, read from the event tables' change feeds (their
publish times alone, and the event keys only after a rewrite): the cost follows the new
rows, never the lake's size.

An event table counted through several entities counts up to the newest version any of them
has counted: an event is counted once the first of them holds it, and never again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.delta.commits import progress_app
from eda_lake.lake.delta.freshness import Latency
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES, Derived
from eda_lake.lake.layout import LakeLayout

COUNTED_PREFIX = "counted:"
KEY = ["event_source", "event_id"]  # an event's identity in its silver table
PUBLISHED = "enqueued_time"  # when the broker took the event: its publish time
_DERIVED: dict[str, Derived] = {d.qualified_name: d for d in (*ENTITY_TABLES, *GOLD_TABLES)}


def counted_app(event_table: str) -> str:
    """silver.customer_created -> counted:silver.customer_created."""
    return COUNTED_PREFIX + event_table


def event_tables_under(name: str) -> tuple[str, ...]:
    """The silver event tables a table (qualified) is computed from; an event table itself."""
    declared = _DERIVED.get(name)
    if declared is None:
        return (name,)
    return tuple(sorted({e for source in declared.sources for e in event_tables_under(source)}))


def _recorded(table: DeltaTable, event_table: str) -> int | None:
    """The version of `event_table` a derived snapshot counts: its record, or, for a table
    committed before records were kept, the version it read of it (an entity reads the event
    tables it counts; a gold table none, so it has nothing to say)."""
    version = table.transaction_version(counted_app(event_table))
    return version if version is not None else table.transaction_version(progress_app(event_table))


@dataclass(frozen=True)
class Counting:
    """What a derived table's commit on these source snapshots counts (`now`), what its
    snapshot before the run counted (`before`; None when it cannot tell: a table written
    before counts were recorded), and its watermark."""

    now: dict[str, int]
    before: dict[str, int | None] | None
    watermark: datetime | None

    def transactions(self) -> dict[str, int]:
        """The application transactions a commit records them with."""
        return {
            **{counted_app(event): version for event, version in self.now.items()},
            **freshness.watermark_transaction(self.watermark),
        }

    def latency(self, layout: LakeLayout, committed_at: datetime) -> Latency | None:
        """Publish to `committed_at` of the events newly counted (None: none, or unknown)."""
        if self.before is None:
            return None
        published = []
        for event, version in sorted(self.now.items()):
            after = self.before.get(event)
            if after is not None and after >= version:
                continue
            layer, _, name = event.partition(".")
            table = tables.open_table(layout.table_uri(layer, name), layout.storage_options)
            if table is None:
                continue
            try:
                # The publish times alone; the keys only where a rewrite deleted rows.
                changes = tables.all_changes(table, after, version, [PUBLISHED])
                if pc.any(pc.equal(changes["_change_type"], "delete")).as_py():
                    changes = tables.all_changes(table, after, version, [*KEY, PUBLISHED])
            except tables.ChangeFeedUnavailableError:
                return None  # vacuumed away: which rows were new cannot be told
            published.append(freshness.enqueued_micros(_new_rows(changes)[PUBLISHED]))
        if not published:
            return None
        return freshness.latency(np.concatenate(published), committed_at)


def counting(target: DeltaTable | None, sources: Mapping[str, DeltaTable]) -> Counting:
    """What a commit of a derived table on these source snapshots counts, after `target`
    (its snapshot before the run; None: the table's first build counts everything)."""
    now: dict[str, int] = {}
    for name, table in sources.items():
        if name in _DERIVED:
            found = {e: _recorded(table, e) for e in event_tables_under(name)}
        else:
            found = {name: table.version()}
        for event, version in found.items():
            if version is not None:
                now[event] = max(version, now.get(event, version))
    before: dict[str, int | None] | None = dict.fromkeys(now)
    if target is not None:
        before = {event: _recorded(target, event) for event in now}
        if all(version is None for version in before.values()):
            before = None  # committed before counts were recorded: this run records them
    marks = [freshness.watermark(table) for table in sources.values()]
    mark = None if not marks or None in marks else min(m for m in marks if m is not None)
    return Counting(now, before, mark)


def _new_rows(changes: pa.Table) -> pa.Table:
    """The inserted rows that the table did not hold before the changes. A rewrite (a schema
    upgrade, a rebuild) deletes every row it holds and inserts it again: an event is new
    when it was inserted more often than deleted."""
    inserted = changes.filter(pc.equal(changes["_change_type"], "insert"))
    deleted = changes.filter(pc.equal(changes["_change_type"], "delete"))
    if deleted.num_rows == 0:
        return inserted  # the usual case: appends only
    ins = inserted.group_by(KEY, use_threads=False).aggregate(
        [(PUBLISHED, "min"), (PUBLISHED, "count")]
    )
    dels = deleted.group_by(KEY, use_threads=False).aggregate([(PUBLISHED, "count")])
    dels = dels.rename_columns([*KEY, "deleted"])
    joined = ins.join(dels, KEY, join_type="left outer", use_threads=False)
    more = pc.greater(joined[f"{PUBLISHED}_count"], pc.fill_null(joined["deleted"], 0))
    kept = joined.filter(more)
    return pa.table({PUBLISHED: kept[f"{PUBLISHED}_min"]})
