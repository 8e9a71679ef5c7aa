from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from eda_lake.catalogue import Catalogue, CatalogueError, load_catalogue
from eda_lake.lake.derived.declarations import event_table
from eda_lake.lake.layout import LakeLayout
from eda_lake.registry.schema import SchemaDefinitionError, load_schema_file
from eda_lake.settings import REPO_ROOT
from eda_lake.shared import names
from eda_lake.shared.names import InvalidNameError


def test_four_teams_and_their_events(catalogue: Catalogue) -> None:
    assert set(catalogue.teams) == {"platform", "product", "customer", "conversions"}
    owners = {name: e.team for name, e in catalogue.events.items()}
    assert owners == {
        "ProductUpdated": "product",
        "CustomerCreated": "customer",
        "CustomerPurchased": "customer",
        "LeadGenerated": "conversions",
        "LeadAbandoned": "conversions",
        "SaleConfirmed": "conversions",
        "LeadPurchased": "conversions",
    }
    assert len({e.hub for e in catalogue.events.values()}) == len(catalogue.events)
    assert catalogue.event("CustomerCreated").consumer_groups == ("conversions", "datalake")
    assert catalogue.event("LeadPurchased").consumer_groups == ("customer", "datalake")
    assert [e.name for e in catalogue.subscriptions_of("conversions")] == [
        "ProductUpdated",
        "CustomerCreated",
        "SaleConfirmed",
    ]


def test_schemas_are_typed_documented_and_mark_personal_data(catalogue: Catalogue) -> None:
    logical: set[str] = set()
    for spec in catalogue.events.values():
        for field in spec.schema.parsed["fields"]:
            assert field.get("doc"), f"{spec.name}.{field['name']} has no doc"
            if isinstance(field["type"], dict):
                logical.add(field["type"].get("logicalType") or field["type"]["type"])
        assert spec.cloudevents_type() == spec.schema.full_name
    assert {"uuid", "timestamp-micros", "decimal", "enum"} <= logical
    assert catalogue.event("CustomerCreated").schema.personal_fields() == ["email", "full_name"]


def _copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", target)
    return target


def test_malformed_avsc_names_the_file(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    broken = schemas / "customer" / "CustomerCreated.avsc"
    broken.write_text('{"type": "record", "name": "X", "fields": [')
    with pytest.raises(SchemaDefinitionError, match=r"CustomerCreated\.avsc: not valid JSON"):
        load_catalogue(schemas).event("CustomerCreated").schema  # noqa: B018
    broken.write_text('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}')
    with pytest.raises(SchemaDefinitionError, match="not a valid Avro schema"):
        load_schema_file(broken)


def test_catalogue_errors_name_the_entry(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    toml = schemas / "catalogue.toml"
    original = toml.read_text()
    toml.write_text(original.replace('partition_key = "lead_id"', 'partition_key = "nope"'))
    with pytest.raises(CatalogueError, match="partition_key 'nope'"):
        load_catalogue(schemas)
    toml.write_text(original.replace('hub = "sale-confirmed"', 'hub = "Sale Confirmed"'))
    with pytest.raises(InvalidNameError, match="Sale Confirmed"):
        load_catalogue(schemas)
    toml.write_text(original.replace('subscribers = ["customer"]', 'subscribers = ["sales"]'))
    with pytest.raises(CatalogueError, match="'sales' is not in"):
        load_catalogue(schemas)
    with pytest.raises(CatalogueError, match="EDA_LAKE_SCHEMA_DIR"):
        load_catalogue(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("original", "hostile", "refused"),
    [
        ('name = "CustomerPurchased"', 'name = "../../../Evil"', "invalid event name"),
        ('name = "CustomerPurchased"', 'name = "customer_purchased"', "invalid event name"),
        ('name = "CustomerPurchased"', 'name = "Customer Purchased"', "invalid event name"),
        ('name = "CustomerPurchased"', 'name = "KundeGekauft\u00e9"', "invalid event name"),
        ('hub = "customer-purchased"', 'hub = "../customer-purchased"', "invalid event hub"),
        ('hub = "customer-purchased"', f'hub = "{"h" * 257}"', "invalid event hub"),
        ("[teams.customer]", '[teams."../customer"]', "invalid team name"),
    ],
)
def test_names_breaking_azure_rules_are_refused_at_load_naming_the_entry(
    tmp_path: Path, original: str, hostile: str, refused: str
) -> None:
    schemas = _copy_schemas(tmp_path)
    toml = schemas / "catalogue.toml"
    text = toml.read_text()
    assert original in text
    toml.write_text(text.replace(original, hostile, 1))
    with pytest.raises(InvalidNameError, match=refused) as error:
        load_catalogue(schemas)
    assert "catalogue.toml" in str(error.value) and "\n" not in str(error.value)


def test_a_schema_file_outside_the_catalogue_folder_is_refused(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    (tmp_path / "Elsewhere.avsc").write_text(
        (schemas / "customer" / "CustomerPurchased.avsc").read_text()
    )
    toml = schemas / "catalogue.toml"
    toml.write_text(
        toml.read_text().replace(
            'schema = "customer/CustomerPurchased.avsc"', 'schema = "../Elsewhere.avsc"'
        )
    )
    with pytest.raises(CatalogueError, match=r"schema '\.\./Elsewhere\.avsc' is outside"):
        load_catalogue(schemas)


def test_consumer_groups_follow_azure_length_rule() -> None:
    assert names.consumer_group_name("g" * 50) == "g" * 50
    with pytest.raises(InvalidNameError, match="1-50"):
        names.consumer_group_name("g" * 51)


def test_a_table_name_derived_or_given_is_a_safe_identifier(tmp_path: Path) -> None:
    assert event_table("CustomerCreated") == "customer_created"
    with pytest.raises(InvalidNameError, match="invalid table name"):
        event_table("../../../Evil")
    layout = LakeLayout(tmp_path / "lake")
    with pytest.raises(InvalidNameError, match="invalid table name"):
        layout.table_uri("silver", "kund\u00e9")  # a letter, but not one a folder may carry
    # A folder of another name is not the lake's table: maintenance passes it by.
    write_deltalake(str(tmp_path / "lake" / "silver" / "Stray"), pa.table({"n": [1]}))
    write_deltalake(layout.table_uri("silver", "customers"), pa.table({"n": [1]}))
    assert list(layout.existing_tables()) == ["silver.customers"]


def test_silver_with_a_hostile_event_name_stops_in_one_line_before_any_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from eda_lake.cli import main

    schemas = _copy_schemas(tmp_path)
    toml = schemas / "catalogue.toml"
    hostile = toml.read_text().replace('name = "CustomerPurchased"', 'name = "../../../Evil"')
    toml.write_text(hostile)
    monkeypatch.setenv("EDA_LAKE_SCHEMA_DIR", str(schemas))
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "home"))
    assert main(["silver"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("eda-lake: error: ") and err.count("\n") == 1
    assert "invalid event name '../../../Evil'" in err
    assert not (tmp_path / "Evil").exists() and not (tmp_path / "home" / "lake" / "silver").exists()


PER_AGGREGATE = "catalogue-per-aggregate.toml"


def test_the_per_aggregate_catalogue_puts_each_aggregates_events_on_its_hub(
    catalogue: Catalogue,
) -> None:
    aggregates = load_catalogue(REPO_ROOT / "schemas", PER_AGGREGATE)
    carried = {h.name: [e.name for e in h.events] for h in aggregates.hubs.values()}
    assert carried == {
        "product": ["ProductUpdated"],
        "customer": ["CustomerCreated", "CustomerPurchased"],
        "lead": ["LeadGenerated", "LeadAbandoned", "LeadPurchased"],
        "sale": ["SaleConfirmed"],
    }
    assert len(aggregates.hubs) < len(aggregates.events) == len(catalogue.events)
    # The same events, schemas, owners, keys and readers as one hub per event.
    for name, spec in aggregates.events.items():
        per_event = catalogue.event(name)
        assert (spec.team, spec.schema_path, spec.partition_key, spec.subscribers) == (
            per_event.team, per_event.schema_path, per_event.partition_key, per_event.subscribers
        )  # fmt: skip
    lead = aggregates.hubs["lead"]
    assert (lead.team, lead.partition_key, lead.consumer_groups) == (
        "conversions", "customer_id", ("customer", "datalake")
    )  # fmt: skip
    assert lead.carrying("eda_lake.conversions.LeadPurchased") is aggregates.event("LeadPurchased")
    assert lead.carrying("eda_lake.customer.CustomerCreated") is None
    read_by_customer = [h.name for h in aggregates.hubs.values() if "customer" in h.subscribers]
    assert read_by_customer == ["lead"]


def _per_aggregate(tmp_path: Path, old: str, new: str) -> Path:
    schemas = _copy_schemas(tmp_path)
    toml = schemas / PER_AGGREGATE
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    return schemas


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        # A second team's event on a hub: two owners.
        (
            'team = "customer"\nhub = "customer"',
            'team = "customer"\nhub = "lead"',
            r"hub 'lead' would be owned by team 'customer' \(CustomerCreated\) and team "
            r"'conversions' \(LeadGenerated\); one team owns a hub",
        ),
        # A hub's settings on one of its events, where they could disagree with the hub's.
        (
            'hub = "customer"\n',
            'hub = "customer"\npartitions = 8\n',
            r"partitions set on an event of hub 'customer', which \[hubs.customer\] declares",
        ),
        # A hub no event names.
        (
            "[hubs.sale]",
            '[hubs.x]\npartition_key = "lead_id"\n\n[hubs.sale]',
            r"\[hubs.x\]: no event names hub 'x'",
        ),
        # A hub's partition key missing from one of its events.
        (
            "[hubs.customer]                  # CustomerCreated, CustomerPurchased: one customer's "
            'in order\npartition_key = "customer_id"',
            '[hubs.customer]\npartition_key = "email"',
            r"\(CustomerPurchased\): partition_key 'email' is not a field",
        ),
        (
            '[hubs.product]\npartition_key = "product_id"',
            '[hubs.product]\npartition_key = "product_id"\nconsumer_groups = 2',
            r"\[hubs.product\]: unknown key\(s\) \['consumer_groups'\]",
        ),
        ("[hubs.product]", '[hubs."Product Hub"]', "invalid event hub name"),
    ],
)
def test_a_shared_hub_is_refused_naming_what_disagrees(
    tmp_path: Path, old: str, new: str, refused: str
) -> None:
    schemas = _per_aggregate(tmp_path, old, new)
    with pytest.raises((CatalogueError, InvalidNameError), match=refused) as error:
        load_catalogue(schemas, PER_AGGREGATE)
    assert PER_AGGREGATE in str(error.value) and "\n" not in str(error.value)


def test_two_events_on_a_hub_no_hub_table_declares_are_refused(tmp_path: Path) -> None:
    schemas = _copy_schemas(tmp_path)
    toml = schemas / "catalogue.toml"
    toml.write_text(toml.read_text().replace('hub = "lead-abandoned"', 'hub = "lead-generated"'))
    with pytest.raises(
        CatalogueError,
        match=r"events 'LeadGenerated' and 'LeadAbandoned' are both on hub 'lead-generated'; "
        r"declare \[hubs.lead-generated\] with its partition_key",
    ):
        load_catalogue(schemas)


def test_a_catalogue_file_outside_the_schema_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidNameError, match=r"invalid catalogue file name '\.\./catalogue\.toml'"
    ):
        load_catalogue(REPO_ROOT / "schemas", "../catalogue.toml")
