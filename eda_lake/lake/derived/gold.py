"""Gold: what the business asks, keyed on the events' own business time.

Each gold table is declared in `declarations.GOLD_TABLES` over silver's entities. A run
reads the entities' changes since the versions the gold table records, finds the business
days they touch and recomputes just those days, replacing them in one commit that records
the entity versions it read. Gold can therefore never record progress for entity rows it
did not see, whenever it runs relative to silver.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from eda_lake.lake.delta import tables
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.build import DerivedBuilder, Reached
from eda_lake.lake.derived.declarations import GOLD_TABLES, Derived, gold_table
from eda_lake.lake.layout import LakeLayout


@dataclass
class GoldReport:
    runs: dict[str, TableRun] = field(default_factory=dict)

    @property
    def days_recomputed(self) -> dict[str, int]:
        return {n: r.counts.get("days_recomputed", 0) for n, r in self.runs.items()}

    @property
    def rows_written(self) -> dict[str, int]:
        return {n: r.rows_written for n, r in self.runs.items()}


def gold_builder(layout: LakeLayout, declared: Derived) -> DerivedBuilder:
    if declared.day_column is None:
        raise ValueError(f"gold table {declared.name}: a gold table needs a day column")
    return DerivedBuilder(layout, declared, declared.day_column, unit="days")


def _chosen(names: Iterable[str] | None) -> tuple[Derived, ...]:
    return GOLD_TABLES if names is None else tuple(gold_table(n) for n in names)


class GoldBuilder:
    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    def pending_days(self, names: Iterable[str] | None = None) -> set[date]:
        """The business days that new entity rows touch, over the gold tables (every day
        with data for a table not built yet)."""
        days: set[date] = set()
        for declared in _chosen(names):
            builder = gold_builder(self.layout, declared)
            reached = builder.pending()
            if reached is None:
                days |= {d for d in builder.all_values() if isinstance(d, date)}
            else:
                days |= {d for d in reached.values.to_pylist() if d is not None}
        return days

    def run(
        self,
        days: set[date] | None = None,
        names: Iterable[str] | None = None,
        *,
        everything: bool = False,
    ) -> GoldReport:
        """Recompute the days new entity rows touch (or exactly `days`, or with `everything`
        each table whole), table by table.

        Progress is recorded only when the days recomputed cover everything pending, so a
        partial recompute (one partition of a backfill) never hides other touched days.
        """
        report = GoldReport()
        for declared in _chosen(names):
            builder = gold_builder(self.layout, declared)
            requested = (
                None
                if days is None
                else Reached(builder.target_column, pa.array(sorted(days), pa.date32()))
            )
            report.runs[declared.name] = builder.run(requested, everything=everything)
        return report


def funnel(layout: LakeLayout) -> pa.Table:
    """The gold funnel, one row per cohort day, oldest first (empty before any gold)."""
    table = tables.open_table(layout.table_uri("gold", "funnel_daily"), layout.storage_options)
    if table is None:
        return pa.table({})
    return tables.query("SELECT * FROM funnel ORDER BY cohort_date", funnel=table)


def held_days(layout: LakeLayout) -> set[date]:
    """The business days with rows in any gold table."""
    days: set[date] = set()
    for declared in GOLD_TABLES:
        table = tables.open_table(layout.table_uri("gold", declared.name), layout.storage_options)
        if table is not None and declared.day_column:
            held = tables.query(
                f"SELECT DISTINCT CAST({declared.day_column} AS DATE) AS day FROM t", t=table
            )
            days |= {day for day in held.column("day").to_pylist() if day is not None}
    return days
