"""Which of some values of one column a Delta snapshot holds, reading as little as it can.

Bronze asks whether capture files are in: `source_file` values, each in its own partition.
The add actions' statistics (min and max per data file: exact from bronze's own writer,
bounds from delta-rs's, which shortens long strings) rule out every data file that cannot
hold a value; of the others, only that column of the row groups whose statistics admit a
value is read. So the cost follows the values asked about and the data files that may hold
them, not the files in the table or in the partition.

`rows_holding` reads the rows themselves the same way (`eda-lake trace` finds an event's
rows in the event index, bronze and silver by it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable

from eda_lake.lake.delta import tables

# A partition as (column, value) pairs, the values as text, as Delta keeps them.
Partition = tuple[tuple[str, str], ...]
Value = str | date  # what is looked for: text (ids, paths) or a day


def values_present(
    table: DeltaTable,
    fs: pafs.FileSystem,
    root: str,
    column: str,
    wanted: Mapping[Partition, Collection[str]],
) -> set[str]:
    """The values of `wanted` (per partition) that rows of the snapshot hold in `column`;
    `root` is the table's directory as `fs` names it."""
    found: set[str] = set()
    for path, _, admitted in _admitting_files(table, root, column, wanted):
        found |= _values_in_file(fs, path, column, admitted)
    return found


def rows_holding(
    table: DeltaTable,
    fs: pafs.FileSystem,
    root: str,
    column: str,
    wanted: Mapping[Partition, Collection[Value]],
    columns: Sequence[str],
) -> pa.Table:
    """The snapshot's rows whose `column` holds a value of `wanted` (per partition): these
    `columns` of them (partition columns included)."""
    schema = tables.plain_schema(pa.schema(table.schema().to_arrow()))
    partition_columns = set(table.metadata().partition_columns)
    read = [c for c in dict.fromkeys([column, *columns]) if c not in partition_columns]
    result = pa.schema([schema.field(c).with_nullable(True) for c in columns])
    found = []
    for path, action, admitted in _admitting_files(table, root, column, wanted):
        rows = _rows_in_file(fs, path, column, admitted, read)
        if rows is None or rows.num_rows == 0:
            continue
        count = rows.num_rows

        def constant(value: object, type_: pa.DataType, count: int = count) -> pa.Array:
            return pa.repeat(pa.scalar(value).cast(type_), count)

        arrays = [
            constant(action[f"partition.{c}"], result.field(c).type)
            if c in partition_columns
            else rows[c] if c in rows.column_names
            else pa.nulls(count, result.field(c).type)  # a column added after this file
            for c in columns
        ]  # fmt: skip
        found.append(pa.Table.from_arrays(arrays, schema=result))
    return pa.concat_tables(found) if found else result.empty_table()


def _admitting_files(
    table: DeltaTable, root: str, column: str, wanted: Mapping[Partition, Collection[Value]]
) -> Iterator[tuple[str, dict[str, Any], list[Value]]]:
    """Each data file whose partition and `column` statistics may hold values of `wanted`:
    its path, its add action (flattened) and those values."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0 or not wanted:
        return
    actions = actions.append_column("file", pa.array(tables.data_file_paths(table, root, actions)))
    for partition, values in wanted.items():
        chosen = actions.filter(_in_partition(actions, partition))
        lows = _stats(chosen, f"min.{column}")
        highs = _stats(chosen, f"max.{column}")
        for action, low, high in zip(chosen.to_pylist(), lows, highs, strict=True):
            admitted = [v for v in values if _admits(low, high, v)]
            if admitted:
                yield action["file"], action, admitted


def _in_partition(actions: pa.Table, partition: Partition) -> pa.ChunkedArray | pa.Array:
    mask: pa.ChunkedArray | pa.Array = pa.array([True] * actions.num_rows)
    for name, value in partition:
        values = actions[f"partition.{name}"].cast(pa.string())
        mask = pc.and_(mask, pc.fill_null(pc.equal(values, value), False))
    return mask


def _stats(actions: pa.Table, name: str) -> list[object]:
    """A statistics column, or no bounds where the table keeps none for it."""
    if name not in actions.column_names:
        return [None] * actions.num_rows
    return list(actions[name].to_pylist())


def _admits(low: object, high: object, value: Value) -> bool:
    """Whether a file or row group whose statistics are `low` and `high` may hold `value`
    (missing statistics, or statistics of another type, admit everything)."""
    if isinstance(value, str):
        return (not isinstance(low, str) or low <= value) and (
            not isinstance(high, str) or value <= high
        )
    return (not isinstance(low, date) or low <= value) and (
        not isinstance(high, date) or value <= high
    )


def _values_in_file(
    fs: pafs.FileSystem, file_path: str, column: str, admitted: Sequence[Value]
) -> set[str]:
    rows = _rows_in_file(fs, file_path, column, admitted, [column])
    if rows is None:
        return set()
    return {v for v in pc.unique(rows[column]).to_pylist() if isinstance(v, str)}


def _rows_in_file(
    fs: pafs.FileSystem, file_path: str, column: str, admitted: Sequence[Value], columns: list[str]
) -> pa.Table | None:
    """`columns` of the file's rows whose `column` is one of `admitted`, reading only the
    row groups whose statistics admit one (a column the file predates is left out); None
    when none of its row groups can hold one."""
    with fs.open_input_file(file_path) as source:
        parquet = pq.ParquetFile(source)
        metadata = parquet.metadata
        leaf = next(
            (i for i in range(metadata.num_columns) if metadata.schema.column(i).path == column),
            None,
        )
        if leaf is None:
            return None  # a data file written before the column existed holds none of it
        groups = []
        for index in range(metadata.num_row_groups):
            statistics = metadata.row_group(index).column(leaf).statistics
            bounded = statistics is not None and statistics.has_min_max
            low, high = (statistics.min, statistics.max) if bounded else (None, None)
            if any(_admits(low, high, value) for value in admitted):
                groups.append(index)
        if not groups:
            return None
        present = set(parquet.schema_arrow.names)
        rows = parquet.read_row_groups(groups, columns=[c for c in columns if c in present])
    rows = tables.plain(rows)
    values = rows[column]
    return rows.filter(pc.is_in(values, value_set=pa.array(list(admitted)).cast(values.type)))
