"""Personal fields are masked in silver at any depth; a `personal` mark the lake cannot
honour is a schema error when the catalogue loads."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.catalogue import load_catalogue
from eda_lake.events.publisher import OutgoingEvent
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.masking import HALVED_FROM, Masker, mask_personal_columns
from eda_lake.registry.schema import SchemaDefinitionError, load_schema_file, parse_schema
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import provisioned, publish

KEY = "a-test-key-that-is-long-enough"
REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
PERSON = {
    "type": "record",
    "name": "Person",
    "fields": [
        {"name": "email", "type": "string", "personal": True},
        {"name": "role", "type": "string"},
    ],
}
COMPANY = {"type": "record", "name": "Company", "fields": [{"name": "vat", "type": "string"}]}
CONTACTS = {
    "type": "record",
    "name": "ContactsShared",
    "namespace": "eda_lake.customer",
    "fields": [
        {"name": "share_id", "type": "string"},
        {
            "name": "owner",
            "type": {
                "type": "record",
                "name": "Owner",
                "fields": [
                    {"name": "full_name", "type": "string", "personal": True},
                    {"name": "age", "type": "int"},
                    {"name": "nick", "type": ["null", "string"], "personal": True},
                ],
            },
        },
        {"name": "friends", "type": {"type": "array", "items": PERSON}},
        {"name": "phones", "type": {"type": "map", "values": "string"}, "personal": True},
        {
            "name": "addresses",
            "type": {
                "type": "map",
                "values": {
                    "type": "record",
                    "name": "Address",
                    "fields": [
                        {"name": "street", "type": "string", "personal": True},
                        {"name": "city", "type": "string"},
                    ],
                },
            },
        },
        {"name": "payer", "type": ["null", "Person"], "default": None},
        {"name": "party", "type": ["null", "Person", COMPANY], "default": None},
        {"name": "raw_id", "type": "bytes", "personal": True},
    ],
}
RECORD: dict[str, Any] = {
    "share_id": "s-1",
    "owner": {"full_name": "Ada Lovelace", "age": 36, "nick": "ada"},
    "friends": [{"email": "bob@example.org", "role": "friend"}, {"email": "c@x.org", "role": "x"}],
    "phones": {"home": "+44 1", "work": "+44 2"},
    "addresses": {"home": {"street": "1 Main St", "city": "London"}},
    "payer": {"email": "pay@example.org", "role": "payer"},
    "party": {"email": "party@example.org", "role": "guest"},
    "raw_id": b"\x01secret",
}
SECRETS = [
    "Ada Lovelace", "ada", "bob@example.org", "c@x.org", "+44 1", "+44 2", "1 Main St",
    "pay@example.org", "party@example.org", "secret",
]  # fmt: skip


def _catalogue_with_contacts(target: Path) -> Path:
    shutil.copytree(REPO_SCHEMAS, target)
    (target / "customer" / "ContactsShared.avsc").write_text(json.dumps(CONTACTS))
    with (target / "catalogue.toml").open("a") as catalogue:
        catalogue.write(
            '\n[[events]]\nname = "ContactsShared"\nteam = "customer"\n'
            'hub = "contacts-shared"\npartition_key = "share_id"\n'
            'schema = "customer/ContactsShared.avsc"\n'
        )
    return target


def _silver_rows(lake: Lake, name: str) -> list[dict[str, Any]]:
    table = tables.open_table(lake.layout.table_uri("silver", name), lake.layout.storage_options)
    assert table is not None
    rows: list[dict[str, Any]] = tables.query("SELECT * FROM t", t=table).to_pylist()
    return rows


def test_personal_fields_at_any_depth_are_masked_in_silver(
    lake_settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        lake_settings, schema_dir=_catalogue_with_contacts(tmp_path / "schemas")
    )
    simulation = provisioned(settings)
    moment = datetime(2026, 10, 2, tzinfo=UTC)
    publish(
        simulation,
        [OutgoingEvent("ContactsShared", RECORD, "share-1", "/eda-lake/customer", moment)],
    )
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    report = lake.silver_events()
    assert report.decoded["ContactsShared"] == 1 and report.quarantined == 0
    [row] = _silver_rows(lake, "contacts_shared")
    text = str(row)
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == [], text
    mask = Masker(KEY).mask
    assert row["owner"] == {"full_name": mask("Ada Lovelace"), "age": 36, "nick": mask("ada")}
    assert row["friends"] == [
        {"email": mask("bob@example.org"), "role": "friend"},
        {"email": mask("c@x.org"), "role": "x"},
    ]
    assert dict(row["phones"]) == {"home": mask("+44 1"), "work": mask("+44 2")}
    assert dict(row["addresses"]) == {"home": {"street": mask("1 Main St"), "city": "London"}}
    assert row["payer"] == {"email": mask("pay@example.org"), "role": "payer"}
    assert json.loads(row["party"]) == {"email": mask("party@example.org"), "role": "guest"}
    assert row["raw_id"] == str(mask(b"\x01secret")).encode()
    assert row["share_id"] == "s-1"  # not personal: as published


def test_masking_keeps_nulls_and_types() -> None:
    schema = parse_schema(json.dumps(CONTACTS))
    columns = {
        "owner": pa.array(
            [None, {"full_name": "A", "age": 1, "nick": None}],
            pa.struct([("full_name", pa.string()), ("age", pa.int32()), ("nick", pa.string())]),
        ),
        "friends": pa.array(
            [None, []], pa.list_(pa.struct([("email", pa.string()), ("role", pa.string())]))
        ),
    }
    masked = mask_personal_columns(schema, columns, Masker(KEY))
    assert masked["owner"].type == columns["owner"].type
    assert masked["owner"].to_pylist() == [
        None,
        {"full_name": Masker(KEY).mask("A"), "age": 1, "nick": None},
    ]
    assert masked["friends"].to_pylist() == [None, []]


def _schema_file(tmp_path: Path, fields: list[dict[str, Any]]) -> Path:
    path = tmp_path / "Bad.avsc"
    path.write_text(json.dumps({"type": "record", "name": "Bad", "fields": fields}))
    return path


@pytest.mark.parametrize("mark", ["true", 1, False, None])
def test_a_personal_mark_that_is_not_true_is_a_schema_error(tmp_path: Path, mark: Any) -> None:
    inner = {
        "type": "record",
        "name": "Inner",
        "fields": [{"name": "email", "type": "string", "personal": mark}],
    }
    path = _schema_file(tmp_path, [{"name": "items", "type": {"type": "array", "items": inner}}])
    with pytest.raises(SchemaDefinitionError) as error:
        load_schema_file(path)
    message = str(error.value)
    assert str(path) in message and "field Bad.items[].email" in message
    assert '"personal" must be the boolean true' in message and 'write "personal": true' in message


@pytest.mark.parametrize(
    "node",
    [
        "int",
        {"type": "long", "logicalType": "timestamp-micros"},
        {"type": "record", "name": "R", "fields": []},
    ],
)
def test_a_personal_mark_on_values_that_are_not_text_is_a_schema_error(
    tmp_path: Path, node: Any
) -> None:
    path = _schema_file(tmp_path, [{"name": "born", "type": node, "personal": True}])
    with pytest.raises(
        SchemaDefinitionError,
        match=r"field Bad\.born is marked personal but its values are not text",
    ):
        load_schema_file(path)


def test_the_catalogue_refuses_a_string_mark(tmp_path: Path) -> None:
    schemas = shutil.copytree(REPO_SCHEMAS, tmp_path / "schemas")
    path = schemas / "customer" / "CustomerCreated.avsc"
    path.write_text(path.read_text().replace('"personal": true', '"personal": "true"'))
    with pytest.raises(
        SchemaDefinitionError, match=r"CustomerCreated\.avsc: field CustomerCreated\.email"
    ):
        load_catalogue(schemas)


@pytest.mark.parametrize("count", [HALVED_FROM - 1, HALVED_FROM, 3 * HALVED_FROM + 1])
def test_a_long_column_masks_as_each_value_does(count: int) -> None:
    masker = Masker("a-key-of-at-least-16-chars")
    values = [None if i % 97 == 0 else f"person-{i}-é@example.com" for i in range(count + 5)]
    column = pa.array(values, pa.string()).slice(5)  # an offset into its buffers too
    expected = [masker.mask(v) for v in values[5:]]
    assert masker.mask_array(column).to_pylist() == expected
    assert masker.mask_array(column.cast(pa.large_string())).to_pylist() == expected
