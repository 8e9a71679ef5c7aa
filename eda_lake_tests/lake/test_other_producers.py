"""Another producer's events on one of our hubs stay out of its table, on every build: a
writer schema that is another record (the same field names, another name) and an event whose
CloudEvents `type` is another are quarantined with a reason naming the writer's type, and the
rest of the hub lands. Seen: the compiled decoder matched fields by name only, and gold
counted 2,030 customers instead of 2,000; fastavro refused the same events."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.registry.schema import AvroSchema, parse_schema
from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import provisioned

KEY = "a-test-key-that-is-long-enough"
CUSTOMERS = 40
PER_KIND = 10


def _renamed(schema: AvroSchema, **names: str) -> AvroSchema:
    return parse_schema(json.dumps({**schema.parsed, **names}))


def _lake_with_other_producers(home: Path) -> tuple[Lake, int]:
    settings = Settings(home=home)
    simulation = provisioned(settings)
    report = simulation.run_chain(seed=3, customers=CUSTOMERS)
    spec = simulation.catalogue.event("CustomerCreated")
    ours = spec.schema
    other = _renamed(ours, name="Customer", namespace="partner.crm")  # another record
    same_name = _renamed(ours, namespace="partner.shop")  # resolves by Avro's rules
    kinds: list[tuple[AvroSchema, str | None]] = [
        (other, other.full_name),
        (other, ours.full_name),  # another record labelled as ours: the decoder refuses it
        (same_name, same_name.full_name),
        (ours, other.full_name),  # our schema, another producer's type
        (ours, ours.full_name.lower()),  # a CloudEvents type is compared exactly
        (ours, f"{ours.full_name} "),
        (ours, None),  # no type
    ]
    events = []
    for n in range(len(kinds) * PER_KIND):
        schema, ce_type = kinds[n // PER_KIND]
        created_at = world.EPOCH + timedelta(days=n % 3)
        record = {
            "customer_id": str(uuid.UUID(int=10**6 + n)),
            "created_at": created_at,
            "email": f"p{n}@partner.example",
            "full_name": f"Partner Person {n}",
            "country": "NL",
            "channel": "PARTNER",
        }
        payload = simulation.encoder.encode(record, schema)
        envelope = CloudEvent(f"partner-{n}", "/partner/crm", ce_type or "-", created_at)
        properties = envelope.to_properties()
        if ce_type is None:
            del properties["cloudEvents_type"]
        events.append(EventData(payload.body, properties, "k", payload.content_type))
    simulation.hub.send(spec.hub, events)
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    lake.silver()
    lake.gold()
    return lake, report.customers


def _rows(lake: Lake, area: str, name: str) -> list[dict[str, Any]]:
    table = tables.open_table(lake.layout.table_uri(area, name), lake.layout.storage_options)
    assert table is not None, name
    rows: list[dict[str, Any]] = tables.query("SELECT * FROM t", t=table).to_pylist()
    return rows


def test_other_producers_events_are_quarantined_not_counted(tmp_path: Path) -> None:
    lake, customers = _lake_with_other_producers(tmp_path / "home")
    assert len(_rows(lake, "silver", "customer_created")) == customers
    funnel = _rows(lake, "gold", "funnel_daily")
    assert sum(r["customers"] for r in funnel) == customers
    assert sum(r["leads"] for r in funnel) > 0  # the other hubs flowed on
    reasons = sorted(r["reason"] for r in _rows(lake, "quarantine", "events"))
    assert len(reasons) == 7 * PER_KIND
    other = [r for r in reasons if "writer's type partner.crm.Customer does not resolve" in r]
    assert len(other) == PER_KIND and "to eda_lake.customer.CustomerCreated" in other[0]
    typed = [r for r in reasons if r.startswith("CloudEvents type")]
    assert len(typed) == 5 * PER_KIND
    assert sum("'partner.shop.CustomerCreated'" in r for r in typed) == PER_KIND
    assert sum("'eda_lake.customer.customercreated'" in r for r in typed) == PER_KIND
    ours = [r for r in typed if "writer's type eda_lake.customer.CustomerCreated" in r]
    assert sum("'partner.crm.Customer'" in r for r in ours) == PER_KIND
    untyped = [r for r in reasons if r.startswith("no CloudEvents type")]
    assert len(untyped) == PER_KIND and "CustomerCreated" in untyped[0]
    # A retry lands none of them: the type is read again from bronze.
    retry = lake.recovery.retry_quarantine(files=False)
    assert (retry.events_landed, retry.events_still_quarantined) == (0, 7 * PER_KIND)
    assert len(_rows(lake, "silver", "customer_created")) == customers


def test_an_event_renamed_with_an_alias_keeps_its_old_type() -> None:
    """Events written before a rename carry the old name as their type: the reader's
    aliases (an alias without a dot is in its namespace) are its types too."""
    renamed = parse_schema(
        json.dumps(
            {
                "type": "record",
                "name": "CustomerSignedUp",
                "namespace": "eda_lake.customer",
                "aliases": ["CustomerCreated", "legacy.Customer"],
                "fields": [],
            }
        )
    )
    assert renamed.names == {
        "eda_lake.customer.CustomerSignedUp",
        "eda_lake.customer.CustomerCreated",
        "legacy.Customer",
    }


def test_a_writer_schema_the_lake_cannot_parse_quarantines_its_events(tmp_path: Path) -> None:
    """Another producer's registry client may register a schema the lake cannot read (here
    nested past the lake's limit). Seen: its SchemaDefinitionError stopped silver, on every
    run."""
    settings = Settings(home=tmp_path / "home")
    simulation = provisioned(settings)
    report = simulation.run_chain(seed=3, customers=CUSTOMERS)
    spec = simulation.catalogue.event("CustomerCreated")
    deep: Any = "string"
    for level in range(60):
        deep = {"type": "record", "name": f"N{level}", "fields": [{"name": "f", "type": deep}]}
    with sqlite3.connect(settings.registry_file) as registry:
        group = registry.execute("SELECT group_name FROM schemas LIMIT 1").fetchone()[0]
        registry.execute(
            "INSERT INTO schemas VALUES ('partner-deep', ?, 'N59', 1, 'deep', ?)",
            (group, json.dumps(deep)),
        )
    created = world.EPOCH
    envelope = CloudEvent("partner-deep-1", "/partner/crm", spec.schema.full_name, created)
    event = EventData(b"\x02a", envelope.to_properties(), "k", "avro/binary+partner-deep")
    simulation.hub.send(spec.hub, [event])
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    lake.silver()
    assert len(_rows(lake, "silver", "customer_created")) == report.customers
    [quarantined] = _rows(lake, "quarantine", "events")
    assert "partner-deep" in quarantined["reason"] and "nested deeper" in quarantined["reason"]
