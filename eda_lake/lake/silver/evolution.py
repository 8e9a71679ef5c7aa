"""Tables that follow their schema's evolution, rewritten in place when Delta cannot.

A silver event table's columns are its catalogue event's (`silver.event_schema`). Avro lets
a later version of the event promote a field's type (int to long, float or double; long to
float or double; float to double; string and bytes both ways), add a field with a default
or remove one. An Avro `int` is stored as int64 and a `float` as float64 from a table's
first commit (`lake.arrow.avro`), so int to long and float to double change nothing. Every other
change does, and Delta does not widen a column's type (delta-io/delta-rs#2464) nor give the
rows before an added column the field's default (they read null, where every Avro reader
and a rebuild read the default). So a table whose Delta schema differs from its event's is
rewritten from itself, once, in one overwrite commit: a promoted column cast, an added
column holding the reader's default for every older row (masked when the field is
personal), a removed one dropped. The rows stream batch by batch from the old snapshot into
the new files, and the commit records the progress the table had, so the next run goes on
from where the last one stopped.

The lake's own columns added since a table was written (`event_tables.ADDED_FIELDS`, the
trace id) need no rewrite: rows written before read null, which is what they hold (their
events were read without one), so a table that lacks only those takes them in place, in one
metadata commit (`commits.add_columns`) that keeps its progress.

Deciding costs one schema comparison per table (its Delta log is read, no data): a run with
nothing to upgrade does no more. Derived tables (entities, gold) follow their sources'
types the same way: a recompute whose columns' types differ from the table's rewrites it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable

from eda_lake.catalogue import Catalogue, EventSpec
from eda_lake.lake.arrow.avro import collect_named
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.derived.declarations import event_table
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.silver.event_tables import ADDED_FIELDS, BRONZE, SILVER_WRITER, event_schema
from eda_lake.lake.silver.masking import Masker, mask_personal_columns
from eda_lake.lake.silver.payloads import reader_default
from eda_lake.registry.base import SchemaRegistry
from eda_lake.shared.errors import UserError


class TableUpgradeError(UserError, ValueError):
    """A table's rows cannot take its schema's new type: nothing was changed."""


@dataclass(frozen=True)
class Upgrade:
    """A silver table whose schema is not its event's any more."""

    spec: EventSpec
    uri: str
    changes: tuple[str, ...]  # what differs, column by column, for the run's log
    in_place: bool = False  # only the lake's added columns are missing: no rewrite

    @property
    def table(self) -> str:
        return f"silver.{event_table(self.spec.name)}"


def _changes(stored: list[tuple[str, Any]], wanted: list[tuple[str, Any]]) -> tuple[str, ...]:
    have, want = dict(stored), dict(wanted)
    described = [
        f"{name} added" if name not in have else f"{name} {have[name]} -> {type_}"
        for name, type_ in wanted
        if have.get(name) != type_
    ]
    described += [f"{name} removed" for name, _ in stored if name not in want]
    return tuple(described) or ("columns reordered",)


def pending_upgrades(
    layout: LakeLayout, catalogue: Catalogue, events: Iterable[str] | None = None
) -> list[Upgrade]:
    """The silver tables (of every catalogue event, or these) to rewrite before a run."""
    found = []
    for name in events or catalogue.events:
        spec = catalogue.events[name]
        uri = layout.table_uri("silver", event_table(spec.name))
        table = tables.open_table(uri, layout.storage_options)
        if table is None:
            continue
        stored, wanted = (
            tables.delta_columns(table.schema()),
            tables.delta_columns(event_schema(spec)),
        )
        if stored != wanted:
            added = {f.name for f in ADDED_FIELDS}
            in_place = (
                wanted[: len(stored)] == stored and {n for n, _ in wanted[len(stored) :]} <= added
            )
            found.append(Upgrade(spec, uri, _changes(stored, wanted), in_place))
    return found


def _cast(values: pa.Array, type_: pa.DataType, column: str, table: str) -> pa.Array:
    if values.type == type_:
        return values
    # Avro reads a long as a double by rounding it: so does the cast.
    exact = not (pa.types.is_integer(values.type) and pa.types.is_floating(type_))
    try:
        return pc.cast(values, type_, safe=exact)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TableUpgradeError(
            f"{table}: column {column!r} cannot become {type_} ({exc}); nothing was changed: "
            "make the schema change one Avro allows, or run `eda-lake rebuild`"
        ) from None


def _rewritten(
    upgrade: Upgrade, table: DeltaTable, masker: Masker, refused: list[TableUpgradeError]
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The table's rows as its event's schema, batch by batch (a value that cannot take its
    new type is put in `refused`: the writer that pulls the batches wraps what they raise)."""
    target = event_schema(upgrade.spec)
    stored = {name for name, _ in tables.delta_columns(table.schema())}
    kept = [f.name for f in target if f.name in stored]
    fields = {f["name"]: f for f in upgrade.spec.schema.parsed["fields"]}
    named: dict[str, Any] = {}
    collect_named(upgrade.spec.schema.parsed, named)
    defaults = {
        f.name: mask_personal_columns(
            upgrade.spec.schema, {f.name: reader_default(fields[f.name], f, 1, named)}, masker
        )[f.name][0]
        if f.name in fields
        else pa.scalar(None, f.type)  # the lake's own added column: rows before hold null
        for f in target
        if f.name not in stored
    }
    listed = ", ".join(f'"{name}"' for name in kept)
    source = tables.query_reader(f"SELECT {listed} FROM t", t=table)

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in source:
            rows = batch.num_rows
            try:
                columns = [
                    pa.repeat(defaults[f.name], rows)
                    if f.name in defaults
                    else _cast(batch.column(f.name), f.type, f.name, upgrade.table)
                    for f in target
                ]
            except TableUpgradeError as exc:
                refused.append(exc)
                raise
            yield pa.RecordBatch.from_arrays(columns, schema=target)

    return target, batches()


def _refuse_added_fields_writers_sent(
    upgrade: Upgrade, table: DeltaTable, registry: SchemaRegistry
) -> None:
    """An added column holds the default for every stored row: wrong for rows whose writer
    already sent the field (a producer ahead of the catalogue), which a rebuild decodes
    from bronze with their values. Such a table is refused, naming the rebuild."""
    stored = {name for name, _ in tables.delta_columns(table.schema())}
    added = {
        name: {name, *field.get("aliases", [])}
        for field in upgrade.spec.schema.parsed["fields"]
        if (name := field["name"]) not in stored
    }
    if not added:
        return
    writers = tables.query("SELECT DISTINCT schema_id FROM t", t=table)["schema_id"]
    for schema_id in writers.drop_null().to_pylist():
        sent = {f["name"] for f in registry.get(schema_id).schema.parsed["fields"]}
        held = sorted(name for name, names in added.items() if names & sent)
        if held:
            raise TableUpgradeError(
                f"{upgrade.table}: rows written with schema {schema_id} hold "
                f"{', '.join(map(repr, held))}, which the table never stored; filled with the "
                "default they would lose their values, so nothing was changed: run "
                "`eda-lake rebuild`, which decodes them from bronze"
            )


def upgrade_table(
    layout: LakeLayout, upgrade: Upgrade, masker: Masker, registry: SchemaRegistry
) -> int:
    """Rewrite one silver table as its event's schema in one overwrite commit that keeps
    its progress (or, `in_place`, add the lake's columns it lacks in one metadata commit);
    the new version. The caller holds the lake alone."""

    def attempt() -> int:
        table = tables.open_table(upgrade.uri, layout.storage_options)
        if table is None:
            raise TableUpgradeError(f"{upgrade.table}: the table is gone")
        done = commits.consumed(table, [BRONZE])[BRONZE]
        if upgrade.in_place:
            inputs = {} if done is None else {BRONZE: done}
            commits.add_columns(table, event_schema(upgrade.spec), inputs)
            return table.version()
        _refuse_added_fields_writers_sent(upgrade, table, registry)
        refused: list[TableUpgradeError] = []
        schema, rows = _rewritten(upgrade, table, masker, refused)
        write = Write(schema, rows, mode="overwrite", writer_properties=SILVER_WRITER)
        try:
            return commits.commit(table, write, {} if done is None else {BRONZE: done})
        except Exception:
            if refused:  # nothing was committed: say why in one line
                raise refused[0] from None
            raise

    return commits.with_retries(attempt, f"upgrading {upgrade.table}")
