"""The lake's data dictionary: every table, every column, its type and what it holds.

The descriptions are written once, beside what they describe: bronze's and quarantine's in
their schema modules, silver's metadata columns beside their fields, an event table's payload
columns as the `doc` of their Avro fields, the entities' and gold tables' in their
declarations (a derived column a declaration does not describe has its sources' description
of that name). This module gathers them for Dagster's column schemas, `eda-lake describe`
and `docs/tables.md`.

The columns and types of the derived tables are what their SQL answers, asked of empty
tables of their sources' schemas in a temporary folder: the dictionary needs no lake, and
cannot drift from the declarations.

`python -m eda_lake.lake.dictionary` writes `docs/tables.md` from the project's catalogue.
"""

from __future__ import annotations

import difflib
import sys
import tempfile
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable, Schema, write_deltalake

from eda_lake.catalogue import Catalogue, EventSpec, load_catalogue
from eda_lake.lake import quarantine
from eda_lake.lake.arrow.avro import collect_named
from eda_lake.lake.bronze.schema import BRONZE_DESCRIPTION, BRONZE_SCHEMA, COLUMN_DESCRIPTIONS
from eda_lake.lake.bronze.schema import QUALIFIED_NAME as BRONZE
from eda_lake.lake.delta import tables
from eda_lake.lake.delta.metadata import type_name
from eda_lake.lake.derived.declarations import (
    ENTITY_TABLES,
    GOLD_TABLES,
    SILVER,
    Derived,
    event_table,
    qualified,
    short,
)
from eda_lake.lake.silver.event_tables import (
    META_DESCRIPTIONS,
    event_schema,
    event_table_description,
)
from eda_lake.settings import REPO_ROOT
from eda_lake.shared.errors import UserError

QUARANTINED_FILES, QUARANTINED_EVENTS = "quarantine.files", "quarantine.events"
DOCUMENT = REPO_ROOT / "docs" / "tables.md"
REGENERATE = "python -m eda_lake.lake.dictionary"


class UnknownTableError(UserError, KeyError):
    """A table name the lake does not have."""

    def __str__(self) -> str:  # KeyError's own quotes the message
        return str(self.args[0])


@dataclass(frozen=True)
class ColumnEntry:
    name: str
    type: str  # Delta's type name
    description: str | None  # None: nobody described it


@dataclass(frozen=True)
class TableEntry:
    name: str  # layer.table
    description: str
    owner: str  # the team that answers for it
    columns: tuple[ColumnEntry, ...]
    key: tuple[str, ...] = ()  # what identifies a row
    day_column: str | None = None  # the business day a row belongs to
    partition_columns: tuple[str, ...] = ()


def _derived() -> dict[str, Derived]:
    """The declared tables by qualified name, entities first (gold reads them)."""
    return {d.qualified_name: d for d in (*ENTITY_TABLES, *GOLD_TABLES)}


def _event_tables(catalogue: Catalogue) -> dict[str, EventSpec]:
    return {qualified(SILVER, event_table(spec.name)): spec for spec in catalogue.events.values()}


def table_names(catalogue: Catalogue) -> list[str]:
    """Every table of the lake, layer by layer: bronze, silver's event tables, the entities,
    gold, then what quarantine holds."""
    return [BRONZE, *_event_tables(catalogue), *_derived(), QUARANTINED_FILES, QUARANTINED_EVENTS]


def _unknown(table: str, catalogue: Catalogue) -> UnknownTableError:
    close = difflib.get_close_matches(table.lower(), table_names(catalogue), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return UnknownTableError(
        f"no table {table!r} in the lake; {hint}`eda-lake describe` lists them, "
        "`eda-lake describe <layer>` one layer's"
    )


def _about(table: str, catalogue: Catalogue) -> tuple[TableEntry, dict[str, str]]:
    """What `table` is (its columns aside), and its described columns by name."""
    if table == BRONZE:
        entry = TableEntry(
            table, BRONZE_DESCRIPTION, "platform", (),
            key=("hub", "partition_id", "sequence_number", "source_file"),
            partition_columns=("hub", "date"),
        )  # fmt: skip
        return entry, dict(COLUMN_DESCRIPTIONS)
    if table == QUARANTINED_FILES:
        entry = TableEntry(table, quarantine.FILES_DESCRIPTION, "platform", (), ("source_file",))
        return entry, dict(quarantine.FILES_COLUMNS)
    if table == QUARANTINED_EVENTS:
        entry = TableEntry(table, quarantine.EVENTS_DESCRIPTION, "platform", (), ("quarantine_id",))
        return entry, dict(quarantine.EVENTS_COLUMNS)
    spec = _event_tables(catalogue).get(table)
    if spec is not None:
        description = event_table_description(spec)
        entry = TableEntry(table, description, spec.team, (), ("event_source", "event_id"))
        return entry, {**META_DESCRIPTIONS, **_field_docs(spec.schema.parsed)}
    declared = _derived().get(table)
    if declared is None:
        raise _unknown(table, catalogue)
    entry = TableEntry(
        table, declared.description, declared.owner, (), declared.key, declared.day_column
    )
    inherited: dict[str, str] = {}
    for source in reversed(declared.sources):  # the first source naming a column wins
        inherited.update(column_descriptions(source, catalogue))
    return entry, {**inherited, **declared.columns}


def column_descriptions(table: str, catalogue: Catalogue) -> dict[str, str]:
    """The described columns of `table` (layer.table), by name."""
    return _about(table, catalogue)[1]


def _field_docs(record: dict[str, Any]) -> dict[str, str]:
    """Each documented field's `doc`, an enum's symbols after it (its values in the table)."""
    named: dict[str, Any] = {}
    collect_named(record, named)
    docs = {}
    for field in record["fields"]:
        if not field.get("doc"):
            continue
        doc = str(field["doc"])
        types = field["type"] if isinstance(field["type"], list) else [field["type"]]
        for kind in types:
            node = named.get(kind) if isinstance(kind, str) else kind
            if isinstance(node, dict) and node.get("type") == "enum":
                doc += f" One of {', '.join(node['symbols'])}."
        docs[str(field["name"])] = doc
    return docs


def _schemas(catalogue: Catalogue) -> dict[str, pa.Schema]:
    """Every table's Arrow schema: bronze's and the event tables' as declared, the derived
    tables' as their SQL answers over empty sources."""
    events = {name: event_schema(spec) for name, spec in _event_tables(catalogue).items()}
    schemas = {
        BRONZE: BRONZE_SCHEMA,
        **events,
        QUARANTINED_FILES: quarantine.FILES_SCHEMA,
        QUARANTINED_EVENTS: quarantine.EVENTS_SCHEMA,
    }
    with tempfile.TemporaryDirectory(prefix="eda-lake-dictionary-") as root:
        opened: dict[str, DeltaTable] = {}

        def empty(name: str, schema: pa.Schema) -> None:
            uri = str(Path(root) / name)
            write_deltalake(uri, tables.stored_schema(schema).empty_table())
            opened[name] = DeltaTable(uri)

        for name, schema in events.items():
            empty(name, schema)
        for name, declared in _derived().items():  # entities first: gold reads them
            sources = {short(s): opened[s] for s in declared.sources}
            schemas[name] = tables.query(declared.query(), **sources).schema
            if declared.layer == SILVER:
                empty(name, schemas[name])
    return schemas


def lake_tables(catalogue: Catalogue) -> tuple[TableEntry, ...]:
    """The dictionary: every table of the lake with its columns, types and descriptions."""
    schemas = _schemas(catalogue)
    entries = []
    for name in table_names(catalogue):
        about, described = _about(name, catalogue)
        stored = Schema.from_arrow(tables.stored_schema(schemas[name]))
        columns = tuple(
            ColumnEntry(f.name, type_name(f.type), described.get(f.name)) for f in stored.fields
        )
        entries.append(replace(about, columns=columns))
    return tuple(entries)


def _facts(entry: TableEntry) -> list[str]:
    facts = [f"owner: {entry.owner}"]
    if entry.key:
        facts.append(f"one row per {', '.join(entry.key)}")
    if entry.day_column:
        facts.append(f"business day: {entry.day_column}")
    if entry.partition_columns:
        facts.append(f"partitioned by {', '.join(entry.partition_columns)}")
    return facts


def describe(table: str | None, catalogue: Catalogue, width: int = 100) -> str:
    """`table` (layer.table) as text: what it holds, then each column's type and meaning;
    without a table, or with a layer (gold), every table of it with what it holds."""
    names = table_names(catalogue)
    # SQL's names are case-insensitive: GOLD.FUNNEL_DAILY is gold.funnel_daily; a layer
    # alone (gold) is its tables.
    wanted = table.lower() if table is not None else None
    listed = [n for n in names if wanted in (None, n.split(".")[0])]
    if listed:
        return _aligned([(n, _about(n, catalogue)[0].description) for n in listed], width)
    if wanted not in names:
        raise _unknown(str(table), catalogue)
    entry = next(e for e in lake_tables(catalogue) if e.name == wanted)
    heading = [entry.name, *textwrap.wrap(entry.description, width), "; ".join(_facts(entry))]
    name_width = max(len(c.name) for c in entry.columns) + 2
    columns = [
        (c.name.ljust(name_width) + c.type, c.description or "(not described)")
        for c in entry.columns
    ]
    return "\n".join(heading) + "\n\n" + _aligned(columns, width)


def _aligned(rows: list[tuple[str, str]], width: int, most: int = 30) -> str:
    """Two columns of text, the second wrapped to `width`; a first cell wider than `most`
    stands on its own line."""
    indent = min(max(len(first) for first, _ in rows), most) + 2
    lines = []
    for first, text in rows:
        wrapped = textwrap.wrap(text, width - indent) or [""]
        if len(first) + 2 > indent:
            lines.append(first)
        else:
            lines.append(first.ljust(indent) + wrapped.pop(0))
        lines.extend(" " * indent + more for more in wrapped)
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(catalogue: Catalogue) -> str:
    """The data dictionary as Markdown: one section per table, a row per column."""
    entries = lake_tables(catalogue)
    layers: Mapping[str, str] = {
        "bronze": "Bronze: every captured event as it arrived",
        "silver": "Silver: the events decoded, and the entities built from them",
        "gold": "Gold: figures per business day",
        "quarantine": "Quarantine: what could not be ingested or decoded, and why",
    }
    out = [
        "# The lake's tables",
        "",
        f"Generated from the code by `{REGENERATE}`: edit the descriptions where they are",
        "declared (`eda_lake/lake/dictionary.py` says where), not this file.",
        "`eda-lake sql` reads each table by the name of its heading.",
    ]
    for layer, title in layers.items():
        out += ["", f"## {title}"]
        for entry in (e for e in entries if e.name.startswith(f"{layer}.")):
            out += ["", f"### {entry.name}", "", entry.description, "", "; ".join(_facts(entry))]
            out += ["", "| column | type | description |", "|---|---|---|"]
            out += [
                f"| `{c.name}` | {_cell(c.type)} | {_cell(c.description or '')} |"
                for c in entry.columns
            ]
    return "\n".join(out) + "\n"


def main() -> None:
    """Write `docs/tables.md` from the project's own catalogue."""
    catalogue = load_catalogue(REPO_ROOT / "schemas")
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(markdown(catalogue), encoding="utf-8")
    print(f"wrote {DOCUMENT}", file=sys.stderr)


if __name__ == "__main__":
    main()
