"""The data dictionary: every column of every lake table described in words of its own, the
generated `docs/tables.md` in step with the code, and the dictionary true to the tables a
lake really holds."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake import dictionary
from eda_lake.lake.bronze.schema import BRONZE_SCHEMA, COLUMN_DESCRIPTIONS
from eda_lake.lake.delta import metadata, tables
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES
from eda_lake.lake.dictionary import TableEntry, UnknownTableError
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import EVENTS_COLUMNS, FILES_COLUMNS
from eda_lake.lake.silver.event_tables import ADDED_FIELDS, META_DESCRIPTIONS, META_FIELDS
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake_tests.lake.helpers import DemoLake

# Words that carry no meaning of their own, and spellings of one word.
FILLER = {"a", "an", "and", "at", "by", "for", "in", "is", "it", "its", "of", "on", "or", "the",
          "their", "this", "that", "to"}  # fmt: skip
SAME_WORD = {"id": "identifier", "no": "number", "num": "number", "ts": "timestamp"}


def _words(text: str) -> set[str]:
    """The text's meaningful words, lower case, singular, one spelling each."""
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        singular = word[:-1] if word.endswith("s") and len(word) > 3 else word
        words.add(SAME_WORD.get(singular, singular))
    return words - FILLER


def repeats_name(column: str, description: str) -> bool:
    """Whether the description says nothing its column's name does not ("customer id" for
    `customer_id`)."""
    return not _words(description) - _words(column.replace("_", " "))


def problems(entries: tuple[TableEntry, ...]) -> list[str]:
    """Every table or column not described in words of its own, and every description
    written for a column its table does not have."""
    found = []
    for entry in entries:
        if repeats_name(entry.name.partition(".")[2], entry.description):
            found.append(f"{entry.name}: the table is not described")
        for column in entry.columns:
            if column.description is None:
                found.append(f"{entry.name}.{column.name}: no description")
            elif repeats_name(column.name, column.description):
                found.append(f"{entry.name}.{column.name}: {column.description!r} repeats the name")
    columns = {e.name: {c.name for c in e.columns} for e in entries}
    for declared in (*ENTITY_TABLES, *GOLD_TABLES):
        for name in set(declared.columns) - columns[declared.qualified_name]:
            found.append(f"{declared.qualified_name}.{name}: described, but no such column")
    for name in set(COLUMN_DESCRIPTIONS) - set(BRONZE_SCHEMA.names):
        found.append(f"bronze.events.{name}: described, but no such column")
    for name in set(META_DESCRIPTIONS) - {f.name for f in META_FIELDS + ADDED_FIELDS}:
        found.append(f"silver metadata column {name}: described, but no such column")
    for table, described in (("files", FILES_COLUMNS), ("events", EVENTS_COLUMNS)):
        for name in set(described) - columns[f"quarantine.{table}"]:
            found.append(f"quarantine.{table}.{name}: described, but no such column")
    return found


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(REPO_ROOT / "schemas")


@pytest.mark.parametrize(
    ("column", "description"),
    [
        ("customer_id", "customer id"),
        ("customer_id", "The customer ID."),
        ("sale_date", "Sale date"),
        ("created_at", "Created at."),
        ("customers", "customers"),
        ("cohort_date", ""),
    ],
)
def test_a_description_that_only_repeats_the_name_is_rejected(
    column: str, description: str
) -> None:
    assert repeats_name(column, description)


@pytest.mark.parametrize(
    ("column", "description"),
    [
        ("customer_id", "Stable identifier of the customer."),
        ("sale_date", "UTC day the partner sold the lead."),
        ("customers", "Customers who signed up that day."),
    ],
)
def test_a_description_that_says_more_than_the_name_is_accepted(
    column: str, description: str
) -> None:
    assert not repeats_name(column, description)


def test_every_column_of_every_lake_table_is_described(catalogue: Catalogue) -> None:
    entries = dictionary.lake_tables(catalogue)
    names = {e.name for e in entries}
    assert "bronze.events" in names
    assert {f"silver.{t.name}" for t in ENTITY_TABLES} <= names
    assert {f"gold.{t.name}" for t in GOLD_TABLES} <= names
    assert {"silver.customer_created", "silver.lead_purchased"} <= names  # the event tables
    assert {"quarantine.files", "quarantine.events"} <= names
    assert sum(len(e.columns) for e in entries) > 200
    assert problems(entries) == []


def test_a_column_nobody_described_is_found(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delitem(COLUMN_DESCRIPTIONS, "offset")
    monkeypatch.setitem(COLUMN_DESCRIPTIONS, "ofset", "A misspelt column's description.")
    schemas = shutil.copytree(REPO_ROOT / "schemas", tmp_path / "schemas")
    avsc = schemas / "customer" / "CustomerCreated.avsc"
    schema = json.loads(avsc.read_text())
    schema["fields"][4].pop("doc")  # country
    schema["fields"][1]["doc"] = "Created at."
    avsc.write_text(json.dumps(schema))

    found = problems(dictionary.lake_tables(load_catalogue(schemas)))

    assert "bronze.events.offset: no description" in found
    assert "bronze.events.ofset: described, but no such column" in found
    assert "silver.customer_created.country: no description" in found
    assert "silver.customer_created.created_at: 'Created at.' repeats the name" in found
    # the entity and the gold table that take the field's description lose it with it
    assert "silver.customers.country: no description" in found
    assert "gold.abandoned_customers.country: no description" in found


def test_a_derived_column_has_its_sources_description_unless_it_declares_one(
    catalogue: Catalogue,
) -> None:
    country = dictionary.column_descriptions("silver.customer_created", catalogue)["country"]
    assert (
        dictionary.column_descriptions("gold.abandoned_customers", catalogue)["country"] == country
    )  # through silver.customers
    sales = dictionary.column_descriptions("silver.sales", catalogue)
    leads = dictionary.column_descriptions("silver.lead_generated", catalogue)
    assert sales["currency"] != leads["currency"]  # its own: the currency of `amount`


def test_docs_tables_md_is_the_generated_dictionary(catalogue: Catalogue) -> None:
    written = dictionary.DOCUMENT.read_text(encoding="utf-8")
    assert written == dictionary.markdown(catalogue), (
        f"docs/tables.md is out of date: run `.venv/bin/{dictionary.REGENERATE}`"
    )


def test_describe_explains_each_column_of_a_table(catalogue: Catalogue) -> None:
    text = dictionary.describe("gold.time_to_convert", catalogue)
    entry = next(e for e in dictionary.lake_tables(catalogue) if e.name == "gold.time_to_convert")
    for column in entry.columns:
        assert re.search(rf"^{column.name}\s+{re.escape(column.type)}\s+\S", text, re.M)
    for step in ("customer_to_lead", "lead_to_sale", "sale_to_purchase", "customer_to_purchase"):
        assert step in text
    assert "hours" in text and "one row per cohort_date, step" in text


def test_describe_without_a_table_lists_every_table(catalogue: Catalogue) -> None:
    text = dictionary.describe(None, catalogue)
    listed = [line.split()[0] for line in text.splitlines() if not line.startswith(" ")]
    assert listed == dictionary.table_names(catalogue)


def test_describe_names_the_table_meant_by_a_typo(catalogue: Catalogue) -> None:
    with pytest.raises(UnknownTableError, match=r"did you mean gold\.funnel_daily\?"):
        dictionary.describe("gold.funel_daily", catalogue)


def test_the_dictionary_is_what_a_demo_lake_holds(demo: DemoLake, catalogue: Catalogue) -> None:
    """The columns and types the dictionary works out are those of the tables a demo wrote
    (quarantine's too, when the demo quarantined something)."""
    layout = LakeLayout.from_settings(Settings(home=demo.home))
    compared = set()
    for entry in dictionary.lake_tables(catalogue):
        layer, _, name = entry.name.partition(".")
        uri = layout.bronze_uri if layer == "bronze" else layout.table_uri(layer, name)
        table = tables.open_table(uri)
        if table is None:
            continue
        held = [(c.name, c.type) for c in metadata.columns(table)]
        assert held == [(c.name, c.type) for c in entry.columns], entry.name
        compared.add(entry.name)
    unquarantined = {n for n in dictionary.table_names(catalogue) if "quarantine." not in n}
    assert unquarantined <= compared
