"""Which of some values of one column a Delta snapshot holds, reading as little as it can.

Bronze asks whether capture files are in: `source_file` values, each in its own partition.
The add actions' statistics (min and max per data file: exact from bronze's own writer,
bounds from delta-rs's, which shortens long strings) rule out every data file that cannot
hold a value; of the others, only that column of the row groups whose statistics admit a
value is read. So the cost follows the values asked about and the data files that may hold
them, not the files in the table or in the partition.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable

from eda_lake.lake.delta import tables

# A partition as (column, value) pairs, the values as text, as Delta keeps them.
Partition = tuple[tuple[str, str], ...]


def values_present(
    table: DeltaTable,
    fs: pafs.FileSystem,
    root: str,
    column: str,
    wanted: Mapping[Partition, Collection[str]],
) -> set[str]:
    """The values of `wanted` (per partition) that rows of the snapshot hold in `column`;
    `root` is the table's directory as `fs` names it."""
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0 or not wanted:
        return set()
    actions = actions.append_column("file", pa.array(tables.data_file_paths(table, root, actions)))
    found: set[str] = set()
    for partition, values in wanted.items():
        chosen = actions.filter(_in_partition(actions, partition))
        lows = _stats(chosen, f"min.{column}")
        highs = _stats(chosen, f"max.{column}")
        for path, low, high in zip(chosen["file"].to_pylist(), lows, highs, strict=True):
            admitted = [v for v in values if _admits(low, high, v)]
            if admitted:
                found |= _values_in_file(fs, path, column, admitted)
    return found


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


def _admits(low: object, high: object, value: str) -> bool:
    """Whether a file or row group whose statistics are `low` and `high` may hold `value`
    (missing statistics admit everything)."""
    return (not isinstance(low, str) or low <= value) and (
        not isinstance(high, str) or value <= high
    )


def _values_in_file(
    fs: pafs.FileSystem, file_path: str, column: str, admitted: list[str]
) -> set[str]:
    with fs.open_input_file(file_path) as source:
        parquet = pq.ParquetFile(source)
        metadata = parquet.metadata
        leaf = next(
            (i for i in range(metadata.num_columns) if metadata.schema.column(i).path == column),
            None,
        )
        if leaf is None:
            return set()  # a data file written before the column existed holds none of it
        groups = []
        for index in range(metadata.num_row_groups):
            statistics = metadata.row_group(index).column(leaf).statistics
            bounded = statistics is not None and statistics.has_min_max
            low, high = (statistics.min, statistics.max) if bounded else (None, None)
            if any(_admits(low, high, value) for value in admitted):
                groups.append(index)
        if not groups:
            return set()
        values = parquet.read_row_groups(groups, columns=[column])[column]
    held = pc.filter(values, pc.is_in(values, value_set=pa.array(admitted, pa.string())))
    return {v for v in pc.unique(held).to_pylist() if isinstance(v, str)}
