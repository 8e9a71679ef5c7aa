"""A hub per aggregate or per event: the same seed gives the same silver events and gold.

Both catalogues carry the same events with the same schemas; the per-aggregate one puts
them on fewer hubs, so a capture file holds several types, bronze lands them together and
silver splits them by type into each event's own typed table.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.derived.declarations import event_table
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.event_tables import event_schema
from eda_lake.settings import Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import captured_chain, lake_through_gold, provisioned

KEY = "one-key-for-both-lakes"
PER_AGGREGATE = "catalogue-per-aggregate.toml"
# Where an event sat (hub, partition, position, capture file): the hubs' layout's, not the
# event's, so the two lakes differ there and only there.
PLACEMENT = ("hub", "partition_id", "sequence_number", "enqueued_time", "source_file")


def _lake(settings: Settings) -> Lake:
    return lake_through_gold(settings, seed=7, customers=60, pii_key=KEY)


def _rows(uri: str, drop: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    table = DeltaTable(uri).to_pyarrow_table()
    table = table.drop_columns([c for c in drop if c in table.column_names])
    return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())


def test_per_aggregate_hubs_give_the_same_silver_events_and_gold_as_per_event(
    tmp_path: Path,
) -> None:
    per_event = _lake(Settings(home=tmp_path / "per-event"))
    per_aggregate = _lake(
        replace(Settings(home=tmp_path / "per-aggregate"), catalogue_file=PER_AGGREGATE)
    )
    catalogue = per_aggregate.catalogue
    assert len(catalogue.hubs) < len(catalogue.events)

    # A shared hub's capture files hold several types; bronze lands them as they came.
    bronze = DeltaTable(per_aggregate.layout.bronze_uri).to_pyarrow_table(
        columns=["hub", "source_file", "ce_type"]
    )
    types = bronze.group_by("source_file").aggregate([("ce_type", "count_distinct")])
    assert pc.max(types["ce_type_count_distinct"]).as_py() > 1
    assert set(pc.unique(bronze["hub"]).to_pylist()) == set(catalogue.hubs)

    tables = per_aggregate.layout.existing_tables()
    expected = per_event.layout.existing_tables()
    assert tables.keys() == expected.keys()
    for spec in catalogue.events.values():  # each event its own table, typed by its schema
        landed = DeltaTable(tables[f"silver.{event_table(spec.name)}"]).to_pyarrow_table()
        assert landed.num_rows > 0, spec.name
        assert landed.schema.equals(event_schema(spec), check_metadata=False), spec.name
        assert pc.unique(landed["hub"]).to_pylist() == [spec.hub]
    compared = [t for t in tables if t.startswith(("silver.", "gold."))]
    assert any(_rows(tables[t]) for t in compared if t.startswith("gold."))
    for table in compared:
        assert _rows(tables[table], PLACEMENT) == _rows(expected[table], PLACEMENT), table


def test_a_subscriber_skips_its_hubs_other_events_by_type_before_decoding(
    settings: Settings,
) -> None:
    simulation = provisioned(replace(settings, catalogue_file=PER_AGGREGATE))
    simulation.publish_products(seed=1)
    simulation.publish_customers(seed=1, count=30)
    catalogue = simulation.catalogue
    purchased = catalogue.event("CustomerPurchased")
    assert purchased.hub == catalogue.event("CustomerCreated").hub == "customer"
    # Neither body decodes: the first is the hub's other event, which conversions does not
    # read, so it is never decoded; the second is a type the hub does not carry at all.
    strangers = [
        _event(purchased.cloudevents_type(), b"\xff\xff\xff"),
        _event("com.other.Thing", b"\xff\xff\xff"),
    ]
    simulation.hub.send("customer", strangers, partition_id="0")

    report = simulation.subscriber("conversions").run()
    assert (report.skipped, report.dead_lettered) == (1, 1)
    assert report.by_event["CustomerCreated"] == 30
    [letter] = simulation.dead_letters.list("conversions")
    assert letter.origin == "customer"
    assert letter.reason == (
        "ReactionError: event type 'com.other.Thing' on hub customer, which carries "
        "'eda_lake.customer.CustomerCreated', 'eda_lake.customer.CustomerPurchased'"
    )
    assert simulation.subscriber("conversions").run().received == 0  # checkpointed past both


def _event(type_: str, body: bytes) -> EventData:
    envelope = CloudEvent("stranger-" + type_, "/elsewhere", type_, world.EPOCH)
    return EventData(body, envelope.to_properties(), partition_key="p")


def test_silver_for_one_event_of_a_shared_hub_leaves_the_others_to_their_own_runs(
    settings: Settings,
) -> None:
    settings = replace(settings, catalogue_file=PER_AGGREGATE)
    captured_chain(settings, seed=3, customers=30)
    lake = Lake(settings, pii_key=KEY)
    lake.ingest()
    created = lake.silver_events(["CustomerCreated"])
    assert (created.quarantined, created.inserted) == (0, {"CustomerCreated": 30})
    purchased = lake.silver_events(["CustomerPurchased"])
    assert purchased.quarantined == 0 and purchased.inserted["CustomerPurchased"] > 0
