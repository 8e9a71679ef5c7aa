"""One damaged event never blocks silver: a registry body with a negative enum index or text
that is not UTF-8 is quarantined with its reason, and the other events land (seen: each
failed every silver run, as ArrowIndexError or the Delta writer's "non UTF-8 data")."""

from __future__ import annotations

import uuid

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import provisioned

KEY = "a-test-key-that-is-long-enough"


def test_damaged_bodies_are_quarantined_and_the_rest_lands(lake_settings: Settings) -> None:
    settings = lake_settings
    simulation = provisioned(settings)
    spec = simulation.catalogue.event("CustomerCreated")
    record = {
        "customer_id": str(uuid.UUID(int=7)),
        "created_at": world.EPOCH,
        "email": "a@example.org",
        "full_name": "Ann Example",
        "country": "DE",
        "channel": "STORE",  # the last field: its index is the body's last byte
    }
    payload = simulation.encoder.encode(record, spec.schema)
    good = payload.body
    negative_enum = good[:-1] + b"\x01"  # index -1: was read as the last symbol, or broke silver
    bad_text = good.replace(b"DE", b"D\xff")  # country is not UTF-8
    events = []
    for n, body in enumerate([good, negative_enum, bad_text]):
        envelope = CloudEvent(f"e-{n}", "/eda-lake/customer", spec.cloudevents_type(), world.EPOCH)
        events.append(EventData(body, envelope.to_properties(), "k", payload.content_type))
    simulation.hub.send(spec.hub, events)
    run_capture(settings, flush=True)
    lake = Lake(settings, simulation.catalogue, pii_key=KEY)
    lake.ingest()
    run = lake.silver_events()
    assert run.decoded["CustomerCreated"] == 1 and run.quarantined == 2
    table = tables.open_table(
        lake.layout.table_uri("quarantine", "events"), lake.layout.storage_options
    )
    assert table is not None
    reasons = {
        r["ce_id"]: r["reason"] for r in tables.query("SELECT * FROM t", t=table).to_pylist()
    }
    assert "enum index -1 out of range for 4 symbols" in reasons["e-1"]
    assert "string is not UTF-8" in reasons["e-2"]
    silver = tables.open_table(
        lake.layout.table_uri("silver", "customer_created"), lake.layout.storage_options
    )
    assert silver is not None
    assert [
        r["event_id"] for r in tables.query("SELECT event_id FROM t", t=silver).to_pylist()
    ] == ["e-0"]
