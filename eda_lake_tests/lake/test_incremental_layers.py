"""Silver, entities and gold on the commit primitive: exact progress, cost that follows new
data, hub names in any case, a rebuild that checks first, quarantined events retried."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eda_lake.catalogue import load_catalogue
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.events.wire import content_type
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import commits, tables
from eda_lake.lake.derived import build as derived
from eda_lake.lake.derived.declarations import ENTITY_TABLES, event_table, short
from eda_lake.lake.derived.entities import build_entities
from eda_lake.lake.derived.gold import GoldBuilder
from eda_lake.lake.recovery import RebuildRefusedError
from eda_lake.lake.runtime import Lake
from eda_lake.native import _keys as key_hashes
from eda_lake.registry.embedded import EmbeddedSchemaRegistry, embedded_schema_id
from eda_lake.registry.schema import AvroSchema, parse_schema
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation import teams, world
from eda_lake_tests.avro_records import fastavro_body
from eda_lake_tests.lake.helpers import LakeAfterChain
from eda_lake_tests.lake.test_silver_and_gold import KEY, _capture, _lake_after_chain, _rows
from eda_lake_tests.simulation.helpers import publish


def _version(lake: Lake, area: str, name: str) -> int:
    table = tables.open_table(lake.layout.table_uri(area, name), lake.layout.storage_options)
    assert table is not None
    return table.version()


def _totals(lake: Lake) -> dict[str, int]:
    funnel = _rows(lake, "gold", "funnel_daily")
    return {k: sum(r[k] for r in funnel) for k in ("customers", "leads", "sales", "purchasers")}


def test_a_run_with_nothing_new_rewrites_nothing(lake_settings: Settings) -> None:
    _, _, lake = _lake_after_chain(lake_settings, customers=60)
    entity_versions = {e: _version(lake, "silver", e) for e in ("customers", "leads", "sales")}
    gold_version = _version(lake, "gold", "funnel_daily")
    run = lake.silver()
    assert sum(run.events.outcomes().values()) == run.events.rows_read == 0
    assert all(r.rows_written == 0 for r in run.entities.runs.values())
    assert {e: _version(lake, "silver", e) for e in entity_versions} == entity_versions
    assert lake.gold().days_recomputed == dict.fromkeys(lake.gold().days_recomputed, 0)
    assert _version(lake, "gold", "funnel_daily") == gold_version


def test_progress_is_recorded_when_a_run_lands_nothing(lake_settings: Settings) -> None:
    simulation, _, lake = _lake_after_chain(lake_settings, customers=30)
    simulation.publish_products(seed=77)  # bronze advances, only product_updated gets rows
    _capture(lake_settings, simulation)
    lake.ingest()
    run = lake.silver_events()
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    for spec in lake.catalogue.events.values():
        uri = lake.layout.table_uri("silver", event_table(spec.name))
        table = tables.open_table(uri, lake.layout.storage_options)
        assert commits.consumed(table, ["bronze.events"]) == {"bronze.events": bronze.version()}
    assert run.inserted["CustomerCreated"] == 0 and run.rows_read > 0


def test_entities_replace_only_the_keys_new_events_touch(lake_settings: Settings) -> None:
    simulation, _, lake = _lake_after_chain(lake_settings, customers=120)
    customers_before = len(_rows(lake, "silver", "customers"))
    simulation.publish_customers(seed=99, count=3)
    simulation.subscriber("conversions").run()
    _capture(lake_settings, simulation)
    lake.ingest()
    run = lake.silver()
    assert run.entities.runs["customers"].counts["keys_recomputed"] == 3
    assert run.entities.runs["customers"].rows_written == 3
    assert run.entities.runs["leads"].counts["keys_recomputed"] == 3
    assert run.entities.runs["products"].rows_written == 0  # progress only
    assert len(_rows(lake, "silver", "customers")) == customers_before + 3
    new_days = {p.created_at.date() for p in world.people(99, 3)}
    assert lake.gold().days_recomputed["funnel_daily"] == len(new_days)


def test_gold_run_between_event_tables_and_entities_never_falls_behind(
    lake_settings: Settings,
) -> None:
    simulation, _, lake = _lake_after_chain(lake_settings, customers=80)
    simulation.publish_customers(seed=31, count=25)
    simulation.subscriber("conversions").run()
    _capture(lake_settings, simulation)
    lake.ingest()
    lake.silver_events()  # the event tables have the new customers ...
    lake.gold()  # ... a gold run (the sensor, a backfill) lands here, before the entities
    lake.entities()
    lake.gold()
    assert _totals(lake)["customers"] == 80 + 25
    in_order = "SELECT * FROM t ORDER BY cohort_date"
    incremental = _rows(lake, "gold", "funnel_daily", in_order)
    GoldBuilder(lake.layout).run(everything=True)  # gold computed whole from the entities
    assert incremental == _rows(lake, "gold", "funnel_daily", in_order)


def test_hub_names_match_in_any_case(lake_settings: Settings) -> None:
    if lake_settings.storage is not None:
        pytest.skip("renames capture paths in the local capture area")
    simulation, _, lake = _lake_after_chain(lake_settings, customers=0)
    simulation.publish_customers(seed=3, count=12)
    _capture(lake_settings, simulation)
    capture = lake.layout.capture
    for hub_dir in capture.glob("*/customer-created"):
        hub_dir.rename(hub_dir.with_name("Customer-Created"))
    lake.ingest()
    run = lake.silver_events()
    assert run.inserted["CustomerCreated"] == 12
    assert sum(run.outcomes().values()) == run.rows_read


def _evolved_customer_created() -> Any:
    path = REPO_ROOT / "schemas" / "customer" / "CustomerCreated.avsc"
    definition = json.loads(path.read_text())
    definition["fields"].append(
        {"name": "referrer", "type": ["null", "string"], "default": None, "doc": "who sent them"}
    )
    return parse_schema(json.dumps(definition), "CustomerCreated v2")


def quarantined_unknown_schema(lake_settings: Settings) -> tuple[Lake, AvroSchema]:
    """A lake whose silver quarantined one event: its schema (returned) is not registered."""
    simulation, _, lake = _lake_after_chain(lake_settings, customers=5)
    catalogue = lake.catalogue
    evolved = _evolved_customer_created()
    schema_id = embedded_schema_id(catalogue.schema_group, evolved.full_name, evolved.canonical)
    spec = catalogue.event("CustomerCreated")
    person = world.people(1234, 1)[0]
    record = {
        "customer_id": "0b8c5a1e-6d55-4c3a-8a0f-2f1d8f7e9a10", "created_at": person.created_at,
        "email": "someone@example.net", "full_name": "Some One", "country": "PL",
        "channel": "WEB", "referrer": "a friend",
    }  # fmt: skip
    envelope = CloudEvent(
        "later-1", "/eda-lake/customer", spec.cloudevents_type(), person.created_at
    )
    simulation.hub.send(
        spec.hub,
        [
            EventData(
                fastavro_body(evolved, record),
                envelope.to_properties(),
                "k",
                content_type(schema_id),
            )
        ],
    )
    _capture(lake_settings, simulation)
    lake.ingest()
    run = lake.silver_events()
    assert (run.unknown_schema, run.inserted["CustomerCreated"]) == (1, 0)
    return lake, evolved


def register(lake: Lake, schema: AvroSchema) -> None:
    registry = EmbeddedSchemaRegistry(lake.settings.registry_file)
    try:
        registry.register(lake.catalogue.schema_group, schema)
    finally:
        registry.close()


def test_unknown_schema_events_land_once_the_schema_is_registered(
    lake_settings: Settings,
) -> None:
    lake, evolved = quarantined_unknown_schema(lake_settings)
    assert lake.recovery.retry_quarantine(files=False).events_landed == 0  # still unknown: stays
    register(lake, evolved)
    retried = lake.recovery.retry_quarantine(files=False)
    assert (retried.events_landed, retried.events_resolved) == (1, 1)
    assert lake.recovery.retry_quarantine(files=False).events_retried == 0  # resolved: nothing left
    ids = [r["event_id"] for r in _rows(lake, "silver", "customer_created")]
    assert ids.count("later-1") == 1


def test_a_rebuild_that_lands_quarantined_events_resolves_them(lake_settings: Settings) -> None:
    lake, evolved = quarantined_unknown_schema(lake_settings)
    assert lake.quarantine.events().num_rows == 1
    register(lake, evolved)
    silver, _ = lake.recovery.rebuild()
    assert silver.events.runs["CustomerCreated"].counts["quarantine_resolved"] == 1
    assert lake.quarantine.events().num_rows == 0  # none open
    assert lake.quarantine.events(include_resolved=True)["resolved_at"][0].is_valid
    ids = [r["event_id"] for r in _rows(lake, "silver", "customer_created")]
    assert ids.count("later-1") == 1
    assert lake.recovery.retry_quarantine(files=False).events_retried == 0


def test_rebuild_refuses_a_schema_the_registry_rejects_and_touches_nothing(
    lake_settings: Settings, tmp_path: Path
) -> None:
    _, _, lake = _lake_after_chain(lake_settings, customers=20)
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    avsc = schemas / "customer" / "CustomerCreated.avsc"
    definition = json.loads(avsc.read_text())
    definition["fields"].append({"name": "loyalty_tier", "type": "string", "doc": "no default"})
    avsc.write_text(json.dumps(definition))
    broken = Lake(lake_settings, load_catalogue(schemas), pii_key=KEY)
    silver_before = len(_rows(lake, "silver", "customer_created"))
    gold_version = _version(lake, "gold", "funnel_daily")
    with pytest.raises(RebuildRefusedError, match="loyalty_tier"):
        broken.recovery.rebuild()
    assert len(_rows(lake, "silver", "customer_created")) == silver_before
    assert _version(lake, "gold", "funnel_daily") == gold_version
    assert lake.quarantine.events().num_rows == 0


def test_values_later_layers_cannot_hold_are_quarantined_once_per_event(
    lake_settings: Settings,
    lake_after_chain: LakeAfterChain,
) -> None:
    simulation, _, lake = lake_after_chain(lake_settings, customers=4)
    spec = lake.catalogue.event("CustomerCreated")
    person = world.people(4321, 1)[0]
    sent = []
    for n, (customer_id, created_at) in enumerate(
        [
            ("not-a-uuid", datetime(3000, 1, 1, tzinfo=UTC)),  # two bad fields: one row
            ("9b2f1c1e-0d55-4c3a-8a0f-2f1d8f7e9a10", datetime(1000, 1, 1, tzinfo=UTC)),
            ("7d2f1c1e-0d55-4c3a-8a0f-2f1d8f7e9a10", person.created_at),  # fine
        ]
    ):
        record = {
            "customer_id": customer_id, "created_at": created_at, "email": "x@example.net",
            "full_name": "X", "country": "PL", "channel": "WEB",
        }  # fmt: skip
        encoded = simulation.encoder.encode(record, spec.schema)
        envelope = CloudEvent(
            f"odd-{n}", "/eda-lake/customer", spec.cloudevents_type(), person.created_at
        )
        sent.append(EventData(encoded.body, envelope.to_properties(), "k", encoded.content_type))
    simulation.hub.send(spec.hub, sent)
    _capture(lake_settings, simulation)
    lake.ingest()
    run = lake.silver()
    assert (run.events.quarantined, run.events.inserted["CustomerCreated"]) == (2, 1)
    assert sum(run.events.outcomes().values()) == run.events.rows_read
    reasons = {r["ce_id"]: r["reason"] for r in lake.quarantine.events().to_pylist()}
    assert "not a uuid" in reasons["odd-0"] and "out of range" in reasons["odd-0"]
    assert "out of range" in reasons["odd-1"]
    lake.gold()  # the rest flows on to gold


def test_layers_read_whole_snapshots_once_their_change_feed_is_vacuumed(
    lake_settings: Settings,
    lake_after_chain: LakeAfterChain,
) -> None:
    _, _, lake = lake_after_chain(lake_settings, customers=40)
    before = _totals(lake)
    lake.upkeep.compact()
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    bronze.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
    lake.recovery.rebuild()  # silver reads bronze from version 0: its change feed is gone
    assert _totals(lake) == before


def test_a_new_event_table_reads_all_of_bronze_once_its_log_is_cleaned_up(
    lake_settings: Settings,
    lake_after_chain: LakeAfterChain,
) -> None:
    _, _, lake = lake_after_chain(lake_settings, customers=40)
    table = event_table("CustomerCreated")
    before = _rows(lake, "silver", table, "SELECT count(*) AS n FROM t")
    bronze = tables.open_table(lake.layout.bronze_uri, lake.layout.storage_options)
    assert bronze is not None
    bronze.alter.set_table_properties({"delta.logRetentionDuration": "interval 0 seconds"})
    bronze.create_checkpoint()
    bronze.cleanup_metadata()  # the log before the checkpoint, and the feed with it
    with pytest.raises(tables.ChangeFeedUnavailableError):
        tables.all_changes(bronze, None, bronze.version())
    # A table silver has never written (an event new to the catalogue) reads bronze's feed
    # from version 0: gone, so the whole snapshot, not nothing.
    lake.layout.fs.delete_dir(lake.layout.fs_path("silver", table))
    run = lake.silver_events(["CustomerCreated"])
    assert run.inserted["CustomerCreated"] == before[0]["n"] == 40


@pytest.mark.parametrize("ranking", ["repeated keys only", "every key", "every hash shared"])
def test_a_whole_entity_build_equals_every_key_ranked(
    lake_settings: Settings,
    lake_after_chain: LakeAfterChain,
    monkeypatch: pytest.MonkeyPatch,
    ranking: str,
) -> None:
    simulation, _, lake = lake_after_chain(lake_settings, customers=40)
    # Every product updated, and some customers signing up again under new event ids: their
    # keys repeat, and the first row by each entity's order must win.
    again = [
        e._replace(id=f"{e.id}-again", record={**e.record, field: e.record[field] + shift})
        for field, shift, events in [
            ("updated_at", timedelta(days=1), teams.product_catalogue(simulation.catalogue, 5)),
            ("created_at", timedelta(hours=-1), teams.customer_signups(simulation.catalogue, 5, 5)),
        ]
        for e in events
    ]
    publish(simulation, again)
    _capture(lake_settings, simulation)
    lake.ingest()
    lake.silver_events()
    for table, key in [("product_updated", "product_id"), ("customer_created", "customer_id")]:
        keys = [r[key] for r in _rows(lake, "silver", table, f"SELECT {key} FROM t")]
        assert len(keys) > len(set(keys)), table
    if ranking == "every key":
        monkeypatch.setattr(derived, "MAX_LISTED_KEYS", 0)
    elif ranking == "every hash shared":
        monkeypatch.setattr(
            key_hashes, "pair_hashes", lambda offsets, *_: np.zeros(len(offsets) - 1, np.uint64)
        )
    build_entities(lake.layout, everything=True)
    first_row_entities = [e for e in ENTITY_TABLES if e.first_rows is not None]
    assert {e.name for e in first_row_entities} >= {"customers", "products"}
    for declared in first_row_entities:
        assert declared.first_rows is not None
        key = declared.key[0]
        sources = {}
        for name in declared.sources:
            source = tables.open_table(
                lake.layout.table_uri(*name.split(".")), lake.layout.storage_options
            )
            assert source is not None
            sources[short(name)] = source
        ranked = declared.sql.replace("{first}", declared.first_rows.ranked())
        expected = tables.query(f"SELECT * FROM ({ranked}) AS d WHERE {key} IS NOT NULL", **sources)
        built = _rows(lake, "silver", declared.name)
        assert built, declared.name
        assert sorted(built, key=lambda r: str(r[key])) == sorted(
            expected.to_pylist(), key=lambda r: str(r[key])
        ), declared.name
