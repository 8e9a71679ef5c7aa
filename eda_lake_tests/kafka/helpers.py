"""Reading what the lake made (its Delta tables at lake/<layer>/<table>), for comparisons."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from eda_lake.settings import Settings


def tables(settings: Settings, layer: str) -> dict[str, pa.Table]:
    """Every Delta table of a layer, rows sorted, so two lakes compare with ==."""
    found = {}
    for log in sorted((settings.lake_dir / layer).glob("*/_delta_log")):
        table = DeltaTable(str(log.parent)).to_pyarrow_table()
        found[log.parent.name] = table.sort_by([(n, "ascending") for n in _sortable(table)])
    return found


def _sortable(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if not pa.types.is_nested(f.type)]


def bronze(settings: Settings, *columns: str) -> pa.Table:
    return DeltaTable(str(Path(settings.lake_dir) / "bronze")).to_pyarrow_table(
        columns=list(columns)
    )
