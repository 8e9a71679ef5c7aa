"""Where one event is, layer by layer, read by keys only: never a scan of a layer.

Bronze places come from the event index (`lake.event_index`). A silver event table is read
only in the data files whose `source_file` statistics admit the event's capture file (silver
appends in capture order, and capture paths carry their window's time, so those ranges are
narrow); entity and gold rows by their key and day statistics. Only ids and times are read
back: a masked personal column is never selected.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from eda_lake.catalogue import Catalogue, EventSpec
from eda_lake.events.cloudevents import attributes
from eda_lake.lake import quarantine
from eda_lake.lake.bronze.schema import QUALIFIED_NAME as BRONZE
from eda_lake.lake.delta import file_lookup, tables
from eda_lake.lake.delta.commits import progress_app
from eda_lake.lake.derived.counted import counted_app
from eda_lake.lake.derived.declarations import (
    ENTITY_TABLES,
    GOLD_TABLES,
    SILVER,
    Derived,
    Reach,
    event_table,
    qualified,
)
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared import cloudevents_names as ce
from eda_lake.shared import names
from eda_lake.simulation.dead_letters import DeadLetter
from eda_lake.tracing.arrival import Arrival, Arrivals

# The columns of a silver row a trace shows: ids that join the chain, never personal ones
# (nor the delivery's and the trace's, which the event's bronze place and head show).
ID_SUFFIX = "_id"
SHOWN_FIELDS = ("partner_file",)
OTHER_IDS = ("partition_id", "schema_id", "trace_id")


def shown(column: str) -> bool:
    return (column.endswith(ID_SUFFIX) and column not in OTHER_IDS) or column in SHOWN_FIELDS


@dataclass
class Places:
    """Every place one event is, each a JSON-ready mapping (times as datetimes)."""

    silver: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    gold: list[dict[str, Any]] = field(default_factory=list)

    @property
    def keys(self) -> dict[str, str]:
        """The domain keys of its silver row (customer_id, lead_id, ...)."""
        return dict(self.silver[0]["keys"]) if self.silver else {}


class LakePlaces:
    def __init__(
        self, layout: LakeLayout, catalogue: Catalogue, dead_letters: list[DeadLetter]
    ) -> None:
        self.layout = layout
        self.catalogue = catalogue
        self.by_type = {spec.cloudevents_type(): spec for spec in catalogue.events.values()}
        self._letters = dead_letters
        self._table = cache(self._open)
        self._found: dict[tuple[str, str], Places] = {}
        self.arrivals = Arrivals(layout, self._table)

    def spec(self, cloudevents_type: str | None) -> EventSpec | None:
        return self.by_type.get(cloudevents_type or "")

    def places(
        self, source: str, event_id: str, type_: str | None, files: list[str], bronze_version: int
    ) -> Places:
        """Where the event (`source`, `event_id`) of this CloudEvents type is, its capture
        files being `files` and `bronze_version` the bronze version that first held it
        (found once: a tree widened to a customer's chain asks again)."""
        if (source, event_id) not in self._found:
            self._found[source, event_id] = self._places(
                source, event_id, type_, files, bronze_version
            )
        return self._found[source, event_id]

    def _places(
        self, source: str, event_id: str, type_: str | None, files: list[str], bronze_version: int
    ) -> Places:
        places = Places(
            quarantine=self._quarantined(source, event_id, files),
            dead_letters=self._dead_letters(source, event_id),
        )
        spec = self.spec(type_)
        if spec is None or self._table(SILVER, event_table(spec.name)) is None:
            return places  # a foreign producer's event, or silver not built yet: bronze only
        table = event_table(spec.name)
        columns = ["event_source", *self.id_columns(SILVER, table)]
        rows = self.rows(SILVER, table, "source_file", files, columns)
        rows = rows.filter(_of_event(rows, source, event_id))
        for row in rows.to_pylist()[:1]:
            arrived = self._inserted(table, source, event_id, files, bronze_version)
            keys = {k: v for k, v in row.items() if shown(k) and k != "event_id" and v is not None}
            version, at = arrived or (None, None)
            places.silver.append({"table": qualified(SILVER, table), "keys": keys, "at": at})
            if version is not None:
                self._derived(qualified(SILVER, table), version, row, places)
        return places

    def _inserted(
        self, table: str, source: str, event_id: str, files: list[str], bronze_version: int
    ) -> Arrival | None:
        """The silver version that inserted the event's row: the first that read its bronze
        version, unless the row came later (a quarantined event retried), then the first
        snapshot holding it."""
        read = self.arrivals.first(SILVER, table, progress_app(BRONZE), bronze_version)

        def holds(snapshot: DeltaTable) -> bool:
            root = self.layout.fs_path(SILVER, names.table_name(table))
            rows = file_lookup.rows_holding(
                snapshot, self.layout.fs, root, "source_file", {(): files},
                ["event_source", "event_id"],
            )  # fmt: skip
            return bool(pc.any(_of_event(rows, source, event_id)).as_py())

        if (
            read is not None
            and (snapshot := self.arrivals.snapshot(SILVER, table, read[0]))
            and holds(snapshot)
        ):
            return read
        return self.arrivals.first_where(SILVER, table, holds, since=read[0] if read else 0)

    def _counted_at(self, table: Derived, event_table: str, version: int) -> datetime | None:
        """When `table` first counted `version` of an event table: by its `counted:` record,
        or, for an entity committed before those were kept, by the version it read."""
        for record in (counted_app(event_table), progress_app(event_table)):
            arrived = self.arrivals.first(table.layer, table.name, record, version)
            if arrived is not None:
                return arrived[1]
        return None

    def _derived(self, source: str, version: int, row: Mapping[str, Any], places: Places) -> None:
        """The entity rows a silver row (inserted by `version` of its table `source`)
        reached, and the gold days counting them."""
        for entity in ENTITY_TABLES:
            reach = entity.reach.get(source)
            if reach is None:
                continue
            keys = self._reached(reach, [row[reach.column]])
            key = entity.key[0]
            found = self.rows(SILVER, entity.name, key, keys, self._entity_columns(entity))
            at = self._counted_at(entity, source, version)
            for entity_row in found.to_pylist():
                places.entities.append(
                    {"table": entity.qualified_name, "key": {key: entity_row[key]}, "at": at}
                )
                self._gold(entity, source, version, entity_row, places)

    def _gold(
        self, entity: Derived, source: str, version: int, row: Mapping[str, Any],
        places: Places,
    ) -> None:  # fmt: skip
        for gold in GOLD_TABLES:
            reach = gold.reach.get(entity.qualified_name)
            if reach is None or gold.day_column is None or row.get(reach.column) is None:
                continue
            days = self._reached(reach, [row[reach.column]])
            # Of a day's rows, those of the entity row's own ids where the gold key has them
            # (its partner and product, its customer).
            ids = [c for c in gold.key if c != gold.day_column and row.get(c) is not None]
            counted = self.rows(
                gold.layer, gold.name, gold.day_column, days, [gold.day_column, *ids]
            )
            at = self._counted_at(gold, source, version)
            for day in sorted(
                {
                    r[gold.day_column]
                    for r in counted.to_pylist()
                    if all(r[c] == row[c] for c in ids)
                }
            ):
                entry = {"table": gold.qualified_name, "day": day, "at": at}
                if entry not in places.gold:
                    places.gold.append(entry)

    def _reached(self, reach: Reach, values: list[Any]) -> list[file_lookup.Value]:
        """What a source row's value reaches: itself, or looked up `via` another table."""
        present = [v for v in values if isinstance(v, str | date)]
        if reach.via is None:
            return present
        source, matching, reached = reach.via
        rows = self.rows(SILVER, source, matching, present, [reached])
        return [v for v in rows[reached].to_pylist() if isinstance(v, str | date)]

    def _entity_columns(self, entity: Derived) -> list[str]:
        wanted = {*entity.key, entity.day_column}
        return [c for c in self._columns(SILVER, entity.name) if c in wanted or shown(c)]

    def id_columns(self, layer: str, name: str) -> list[str]:
        """The columns of a table a trace shows (`shown`)."""
        return [c for c in self._columns(layer, name) if shown(c)]

    def _columns(self, layer: str, name: str) -> list[str]:
        table = self._table(layer, name)
        return [] if table is None else list(pa.schema(table.schema().to_arrow()).names)

    def rows(
        self,
        layer: str,
        name: str,
        column: str,
        values: Collection[file_lookup.Value],
        columns: list[str],
    ) -> pa.Table:
        """The rows of a table of the lake whose `column` holds one of `values`."""
        table = self._table(layer, name)
        if table is None or not values:
            return pa.table({c: pa.array([], pa.null()) for c in columns})
        root = self.layout.fs_path(layer, names.table_name(name))
        return file_lookup.rows_holding(
            table, self.layout.fs, root, column, {(): list(values)}, columns
        )

    def _open(self, layer: str, name: str) -> DeltaTable | None:
        return tables.open_table(self.layout.table_uri(layer, name), self.layout.storage_options)

    def _quarantined(self, source: str, event_id: str, files: list[str]) -> list[dict[str, Any]]:
        """Its quarantine rows, read as silver's are: in the data files whose `source_file`
        statistics admit its capture files (quarantine appends in capture order too)."""
        columns = ["table", "reason", "ce_id", "ce_source", "quarantined_at", "resolved_at"]
        rows = self.rows(quarantine.AREA, quarantine.EVENTS_TABLE, "source_file", files, columns)
        return [
            {"table": row["table"], "reason": row["reason"], "at": row["quarantined_at"],
             "resolved_at": row["resolved_at"]}
            for row in rows.to_pylist()
            if row["ce_id"] == event_id and row["ce_source"] == source
        ]  # fmt: skip

    def _dead_letters(self, source: str, event_id: str) -> list[dict[str, Any]]:
        return [
            {"team": letter.team, "origin": letter.origin, "reason": letter.reason,
             "replayed": letter.replayed}
            for letter in self._letters
            if (found := attributes(letter.properties)).get(ce.ID) == event_id
            and found.get(ce.SOURCE) in (source, None)
        ]  # fmt: skip


def _of_event(rows: pa.Table, source: str, event_id: str) -> pa.ChunkedArray:
    """Which of a silver event table's rows are the event's (by source and id)."""
    return pc.and_(pc.equal(rows["event_id"], event_id), pc.equal(rows["event_source"], source))


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
