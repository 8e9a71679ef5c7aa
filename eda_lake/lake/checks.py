"""Data quality checks on the lake, as plain functions: each returns a CheckOutcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _scalar(layout: LakeLayout, sql: str, **names: tuple[str, str]) -> Any:
    opened = {
        alias: tables.open_table(layout.table_uri(*where), layout.storage_options)
        for alias, where in names.items()
    }
    missing = [alias for alias, t in opened.items() if t is None]
    if missing:
        return None
    row = tables.query(sql, **{a: t for a, t in opened.items() if t is not None}).to_pylist()[0]
    return next(iter(row.values()))


def key_is_unique_and_present(layout: LakeLayout, entity: str, key: str) -> CheckOutcome:
    sql = (
        f"SELECT count(*) - count(DISTINCT {key}) + sum(CASE WHEN {key} IS NULL THEN 1 ELSE 0 END)"
        " AS bad FROM t"
    )
    bad = _scalar(layout, sql, t=("silver", entity))
    if bad is None:
        return CheckOutcome(False, f"silver/{entity} does not exist yet")
    return CheckOutcome(
        bad == 0,
        f"{entity}.{key} is unique and never null"
        if bad == 0
        else f"{bad} duplicate or null {key}",
        {"violations": int(bad or 0)},
    )


def references_exist(
    layout: LakeLayout, child: str, column: str, parent: str, parent_column: str
) -> CheckOutcome:
    sql = (
        f"SELECT count(*) AS orphans FROM c WHERE c.{column} IS NOT NULL AND c.{column} NOT IN "
        f"(SELECT p.{parent_column} FROM p WHERE p.{parent_column} IS NOT NULL)"
    )
    orphans = _scalar(layout, sql, c=("silver", child), p=("silver", parent))
    if orphans is None:
        return CheckOutcome(False, f"silver/{child} or silver/{parent} does not exist yet")
    return CheckOutcome(
        orphans == 0,
        f"every {child}.{column} is a {parent}.{parent_column}"
        if orphans == 0
        else f"{orphans} {child} row(s) refer to a missing {parent}",
        {"orphans": int(orphans)},
    )


def quarantine_rate(layout: LakeLayout, threshold: float) -> CheckOutcome:
    """Quarantined events relative to the events that reached bronze."""
    bronze_table = tables.open_table(layout.bronze_uri, layout.storage_options)
    bronze = (
        0
        if bronze_table is None
        else int(tables.query("SELECT count(*) AS n FROM b", b=bronze_table).to_pylist()[0]["n"])
    )
    events = tables.open_table(layout.table_uri("quarantine", "events"), layout.storage_options)
    quarantined = (
        0
        if events is None
        else int(tables.query("SELECT count(*) AS n FROM q", q=events).to_pylist()[0]["n"])
    )
    rate = quarantined / bronze if bronze else 0.0
    return CheckOutcome(
        rate <= threshold,
        f"{quarantined} of {bronze} events quarantined ({rate:.2%}; threshold {threshold:.2%})",
        {"quarantined": quarantined, "bronze_events": bronze, "rate": rate},
    )
