"""Trace context through the teams' chain: a reaction continues its cause's trace, a sale
from a partner's file and a foreign producer's event start traces of their own."""

from __future__ import annotations

from typing import Any

import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.events.publisher import OutgoingEvent
from eda_lake.hub.base import EventData
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.shared.cloudevents_names import ID_PROPERTY, TRACEPARENT_PROPERTY
from eda_lake.shared.trace_context import (
    TraceContext,
    child_context,
    file_context,
    parse,
    root_context,
)
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import provisioned, published

Traced = dict[str, tuple[TraceContext, dict[str, Any]]]


def _traced(envelopes: list[tuple[CloudEvent, dict[str, Any]]], key: str) -> Traced:
    """Each event's context and record, by the record's `key`."""
    found: Traced = {}
    for envelope, record in envelopes:
        context = envelope.trace_context()
        assert context is not None, f"{envelope.type} {envelope.id} carries no traceparent"
        assert context.span_id == root_context(envelope.source, envelope.id).span_id
        found[str(record[key])] = (context, record)
    return found


def _continues(reaction: TraceContext, cause: TraceContext) -> bool:
    return (reaction.trace_id, reaction.parent_span_id) == (cause.trace_id, cause.span_id)


def test_reactions_continue_their_causes_trace_down_the_chain(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.run_chain(seed=21, customers=150)
    created = _traced(published(simulation, "CustomerCreated"), "customer_id")
    generated = _traced(published(simulation, "LeadGenerated"), "lead_id")
    abandoned = _traced(published(simulation, "LeadAbandoned"), "customer_id")
    sales = _traced(published(simulation, "SaleConfirmed"), "lead_id")
    purchased = _traced(published(simulation, "LeadPurchased"), "lead_id")
    purchasers = _traced(published(simulation, "CustomerPurchased"), "lead_id")
    assert generated and abandoned and sales and purchasers

    for customer, (context, _) in created.items():  # published on its own: a root
        assert context.parent_span_id is None
        assert customer in abandoned or any(
            str(r["customer_id"]) == customer for _, r in generated.values()
        )
    for customer, (context, _) in abandoned.items():
        assert _continues(context, created[customer][0])
    for context, record in generated.values():
        assert _continues(context, created[str(record["customer_id"])][0])
    for lead, (sale, record) in sales.items():
        # Made from a partner's file: a trace of its own, not the lead's, nor the file's.
        assert sale.parent_span_id is None
        assert sale.trace_id != generated[lead][0].trace_id
        assert sale.trace_id != file_context(str(record["partner_file"])).trace_id
        assert _continues(purchased[lead][0], sale)  # the reaction's reaction, and its own
        assert _continues(purchasers[lead][0], purchased[lead][0])
        assert purchasers[lead][0].trace_id == sale.trace_id
    simulation.close()


def test_a_replayed_dead_letter_continues_its_causes_trace(settings: Settings) -> None:
    simulation = provisioned(settings)
    simulation.publish_customers(seed=22, count=60)  # before any product: leads fail
    assert simulation.subscriber("conversions").run().dead_lettered > 0
    letters = simulation.dead_letters.list("conversions")
    assert all(TRACEPARENT_PROPERTY in letter.properties for letter in letters)
    simulation.publish_products(seed=22)
    simulation.subscriber("conversions").run()
    assert simulation.subscriber("conversions").replay_dead_letters().replayed == len(letters)

    created = _traced(published(simulation, "CustomerCreated"), "customer_id")
    replayed = _traced(published(simulation, "LeadGenerated"), "customer_id")
    assert len(replayed) == len(letters)
    conversions = simulation.catalogue.source("conversions")
    for customer, (context, _) in replayed.items():
        cause = created[customer][0]
        assert _continues(context, cause)
        # Derived from ids alone: what the cause would have caused the first time.
        lead = next(e for e, r in published(simulation, "LeadGenerated")
                    if str(r["customer_id"]) == customer)  # fmt: skip
        assert context == child_context(cause, conversions, lead.id)
    simulation.close()


def test_a_cause_delivered_again_causes_its_reactions_with_the_same_context(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=23)
    simulation.publish_customers(seed=23, count=30)
    simulation.subscriber("conversions").run()
    first = {e.id: e.traceparent for e, _ in published(simulation, "LeadGenerated")}
    assert first and None not in first.values()

    spec = simulation.catalogue.event("CustomerCreated")
    hub = simulation.hub
    again = [
        EventData(e.body, e.properties, e.partition_key, e.content_type)
        for partition in hub.partition_ids(spec.hub)
        for e in hub.read(spec.hub, partition, None, 10**7)  # type: ignore[attr-defined]
        if CloudEvent.from_properties(e.properties).type == spec.cloudevents_type()
    ]
    hub.send(spec.hub, again)  # at least once: every cause delivered a second time
    prepared: list[EventData] = []
    prepare = simulation.publisher.prepare

    def recorded(outgoing: OutgoingEvent) -> tuple[str, EventData]:
        made = prepare(outgoing)
        prepared.append(made[1])
        return made

    monkeypatch.setattr(simulation.publisher, "prepare", recorded)
    assert simulation.subscriber("conversions").run().reactions == 0  # stored once
    remade = {
        str(d.properties[ID_PROPERTY]): d.properties[TRACEPARENT_PROPERTY]
        for d in prepared
        if str(d.properties[ID_PROPERTY]) in first
    }
    assert remade == first
    simulation.close()


def test_a_foreign_cause_without_a_valid_traceparent_starts_a_new_trace(
    settings: Settings,
) -> None:
    simulation = provisioned(settings)
    simulation.publish_products(seed=24)
    spec = simulation.catalogue.event("CustomerCreated")
    sent = []
    for n, traceparent in enumerate([None, "garbage", f"00-{'0' * 32}-{'1' * 16}-01"]):
        customer_id = f"5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b1{n}"
        record = {
            "customer_id": customer_id,
            "created_at": world.EPOCH,
            "email": "a@b",
            "full_name": "A B",
            "country": "DE",
            "channel": "WEB",
        }
        payload = simulation.encoder.encode(record, spec.schema)
        envelope = CloudEvent(
            f"foreign-{n}", "/elsewhere", spec.cloudevents_type(), world.EPOCH,
            traceparent=traceparent,
        )  # fmt: skip
        assert parse(envelope.traceparent) is None
        sent.append(EventData(payload.body, envelope.to_properties(), customer_id,
                              payload.content_type))  # fmt: skip
    simulation.hub.send(spec.hub, sent)
    report = simulation.subscriber("conversions").run()
    assert (report.dead_lettered, report.reactions) == (0, len(sent))

    reactions = [
        *published(simulation, "LeadGenerated"),
        *published(simulation, "LeadAbandoned"),
    ]
    assert len(reactions) == len(sent)
    for envelope, _ in reactions:
        assert envelope.trace_context() == root_context(envelope.source, envelope.id)
    simulation.close()

    # In the lake: the foreign events land with a null trace id, their reactions with theirs.
    run_capture(settings, flush=True)
    lake = Lake(settings, pii_key="trace-test-key-not-a-secret")
    lake.ingest()
    assert lake.silver().events.quarantined == 0
    foreign = _silver(lake, "customer_created", "WHERE event_source = '/elsewhere'")
    assert foreign == {f"foreign-{n}": None for n in range(len(sent))}
    traced = {
        **_silver(lake, "lead_generated", ""),
        **_silver(lake, "lead_abandoned", ""),
    }
    conversions = simulation.catalogue.source("conversions")
    assert traced == {e.id: root_context(conversions, e.id).trace_id for e, _ in reactions}


def _silver(lake: Lake, table: str, where: str) -> dict[str, str | None]:
    """event_id -> trace_id of a silver event table's rows."""
    found = tables.open_table(lake.layout.table_uri("silver", table))
    assert found is not None
    rows = tables.query(f"SELECT event_id, trace_id FROM t {where}", t=found)
    return dict(zip(rows["event_id"].to_pylist(), rows["trace_id"].to_pylist(), strict=True))
