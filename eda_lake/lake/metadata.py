"""What a Delta table is right now, read from its log: rows, columns, a preview.

Plain facts for whoever reports on a table (the Dagster layer turns them into standard
metadata). Rows come from the snapshot's add actions (`num_records`), so counting a table
of any size reads its log only, never its data files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from eda_lake.lake import tables


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Delta's type name: string, long, timestamp, struct<...>
    nullable: bool
    description: str | None = None


@dataclass(frozen=True)
class TableFacts:
    uri: str
    version: int
    rows: int  # the whole table's, at `version`
    columns: tuple[Column, ...]


def _type_name(delta_type: Any) -> str:
    primitive = getattr(delta_type, "type", None)  # PrimitiveType("long").type == "long"
    return primitive if isinstance(primitive, str) else str(delta_type)


def row_count(table: DeltaTable) -> int:
    """Rows of the current snapshot, from its add actions (a file without statistics counts
    by reading it, which only files written outside this project lack)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    counts = actions.column("num_records").to_pylist()
    if all(count is not None for count in counts):
        return int(sum(counts))
    return int(tables.query("SELECT count(*) AS n FROM t", t=table).column("n")[0].as_py())


def columns(table: DeltaTable, descriptions: Mapping[str, str] | None = None) -> tuple[Column, ...]:
    """The schema's columns, each with its description (`descriptions`, else the column's
    own `comment` metadata)."""
    described = descriptions or {}
    return tuple(
        Column(
            field.name,
            _type_name(field.type),
            field.nullable,
            described.get(field.name) or _comment(field.metadata),
        )
        for field in table.schema().fields
    )


def _comment(metadata: Mapping[str, Any]) -> str | None:
    comment = metadata.get("comment")
    return str(comment) if comment else None


def table_facts(
    uri: str, options: tables.Options = None, descriptions: Mapping[str, str] | None = None
) -> TableFacts | None:
    """The table's facts, or None when it does not exist yet."""
    table = tables.open_table(uri, options)
    if table is None:
        return None
    return TableFacts(uri, table.version(), row_count(table), columns(table, descriptions))


def preview(uri: str, options: tables.Options = None, *, limit: int = 10) -> pa.Table | None:
    """Up to `limit` rows with every column (None when the table does not exist yet)."""
    table = tables.open_table(uri, options)
    if table is None:
        return None
    return tables.plain(tables.query(f"SELECT * FROM t LIMIT {int(limit)}", t=table))


def rows_by_day(
    uri: str, options: tables.Options, day_column: str, days: set[date]
) -> dict[date, int]:
    """Rows per business day, for the given days (0 for a day without rows)."""
    table = tables.open_table(uri, options)
    counts = dict.fromkeys(days, 0)
    if table is None or not days:
        return counts
    listed = ", ".join(f"DATE '{d.isoformat()}'" for d in sorted(days))
    found = tables.query(
        f"SELECT CAST({day_column} AS DATE) AS day, count(*) AS n FROM t "
        f"WHERE CAST({day_column} AS DATE) IN ({listed}) GROUP BY 1",
        t=table,
    ).to_pylist()
    counts.update({row["day"]: int(row["n"]) for row in found})
    return counts
