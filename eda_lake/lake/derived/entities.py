"""Silver's conformed entities for analysts, derived from the per-event tables.

Each entity is declared in `declarations.ENTITY_TABLES`. A run recomputes only the keys that
the event tables' new rows touch and replaces exactly those rows, in one commit that records
the event table versions read; readers see the entity before or after, never in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from eda_lake.lake.arrow.memory import give_back
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.derived.build import DerivedBuilder
from eda_lake.lake.derived.declarations import ENTITY_TABLES, Derived, entity
from eda_lake.lake.layout import LakeLayout


@dataclass
class EntitiesReport:
    runs: dict[str, TableRun] = field(default_factory=dict)  # entity name -> what its run did

    @property
    def rows(self) -> dict[str, int]:
        """Rows written per entity by this run."""
        return {name: run.rows_written for name, run in self.runs.items()}


def entity_builder(layout: LakeLayout, declared: Derived) -> DerivedBuilder:
    if len(declared.key) != 1:
        raise ValueError(f"entity {declared.name}: an entity key is one column")
    return DerivedBuilder(layout, declared, declared.key[0], unit="keys")


def build_entities(
    layout: LakeLayout, names: Iterable[str] | None = None, *, everything: bool = False
) -> EntitiesReport:
    """Bring the entities up to date (with `everything`: each recomputed whole)."""
    chosen = ENTITY_TABLES if names is None else tuple(entity(n) for n in names)
    report = EntitiesReport()
    for declared in chosen:
        give_back()  # what ran before (silver's events, the last entity) is not this one's peak
        report.runs[declared.name] = entity_builder(layout, declared).run(everything=everything)
    return report
