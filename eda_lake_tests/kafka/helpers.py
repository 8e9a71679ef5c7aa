"""Reading what the lake made (its Delta tables at lake/<layer>/<table>), for comparisons, and
what the broker counts in its consumer groups."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from confluent_kafka.admin import AdminClient
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


def group_members(bootstrap: str) -> dict[str, int]:
    """Every consumer group the broker knows, with the members it counts in it: those a
    rebalance waits on, a SIGKILLed one until the broker evicts it."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    groups = [g.group_id for g in admin.list_consumer_groups().result(30).valid]
    described = admin.describe_consumer_groups(groups) if groups else {}
    return {group: len(future.result(30).members) for group, future in described.items()}
