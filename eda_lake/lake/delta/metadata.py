"""What a Delta table is right now, read from its log: rows, columns, a preview that holds
no raw event data.

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
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.schema import ArrayType, MapType, StructType

from eda_lake.lake.delta import tables

# Text columns that hold a producer's own value verbatim (see `reportable`).
PRODUCER_TEXT = frozenset({"partition_key"})


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


def type_name(delta_type: Any) -> str:
    """Delta's name of a column type: long, decimal(12,2), map<string, struct<long: long>>."""
    if isinstance(delta_type, MapType):
        return f"map<{type_name(delta_type.key_type)}, {type_name(delta_type.value_type)}>"
    if isinstance(delta_type, ArrayType):
        return f"array<{type_name(delta_type.element_type)}>"
    if isinstance(delta_type, StructType):
        return f"struct<{', '.join(f'{f.name}: {type_name(f.type)}' for f in delta_type.fields)}>"
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


def null_count(table: DeltaTable, column: str) -> int:
    """Rows of the current snapshot whose `column` is null, from the add actions' statistics
    (files without them, only files written outside this project, by reading that column)."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return 0
    name = f"null_count.{column}"
    if name in actions.column_names and actions[name].null_count == 0:
        return int(pc.sum(actions[name]).as_py())
    sql = f"SELECT count(*) AS n FROM t WHERE {column} IS NULL"
    return int(tables.query(sql, t=table).column("n")[0].as_py())


def columns(table: DeltaTable, descriptions: Mapping[str, str] | None = None) -> tuple[Column, ...]:
    """The schema's columns, each with its description (`descriptions`, else the column's
    own `comment` metadata)."""
    described = descriptions or {}
    return tuple(
        Column(
            field.name,
            type_name(field.type),
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
    """Up to `limit` rows, every column as `reportable` lets it out of the lake (None when the
    table does not exist yet)."""
    table = tables.open_table(uri, options)
    if table is None:
        return None
    return reportable(tables.plain(tables.query(f"SELECT * FROM t LIMIT {int(limit)}", t=table)))


def reportable(rows: pa.Table) -> pa.Table:
    """`rows` as whoever reads reports may see them. Bronze and quarantine keep what a
    producer sent byte for byte (bodies, property maps, partition keys), and any of it may
    be personal (a name set as a property, a partition key that is an email): such a column
    becomes its size in bytes (`<column>_bytes`), or a map its entries' names and value
    types; every other column (the CloudEvents attributes, where an event lies, silver's and
    gold's values, personal ones masked there) is shown as the table holds it."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for field, column in zip(rows.schema, rows.columns, strict=True):
        if pa.types.is_map(field.type):
            columns[field.name] = _names_and_types(column)
        elif _is_binary(field.type) or field.name in PRODUCER_TEXT:
            columns[f"{field.name}_bytes"] = pc.binary_length(column.cast(pa.binary()))
        else:
            columns[field.name] = column
    return pa.table(columns)


def _is_binary(kind: pa.DataType) -> bool:
    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def _names_and_types(column: pa.ChunkedArray) -> pa.Array:
    """Each map as `name: type, ...`: Capture's property values name their one set branch
    (long, double, string, bytes; null when none is)."""
    item_type = column.type.item_type

    def kind(value: Any) -> str:
        if pa.types.is_struct(item_type) and isinstance(value, dict):
            return next((branch for branch, v in value.items() if v is not None), "null")
        return str(item_type)

    return pa.array(
        [
            None if entries is None else ", ".join(f"{k}: {kind(v)}" for k, v in entries)
            for entries in column.to_pylist()
        ],
        pa.string(),
    )


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
