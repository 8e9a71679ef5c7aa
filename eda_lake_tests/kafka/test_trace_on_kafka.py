"""Trace context in the Kafka binding: `ce_traceparent` headers on the wire, a reaction
continuing its cause's trace on a real broker, and bronze's trace id from Kafka's capture."""

from __future__ import annotations

from typing import Any

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.kafka import KafkaEventHub, offset_of, to_received
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.shared.cloudevents_names import KAFKA_PREFIX, TRACEPARENT, TRACESTATE
from eda_lake.shared.trace_context import TraceContext
from eda_lake.simulation.runtime import Simulation

PII_KEY = "kafka-trace-test-key-not-a-secret"


def _messages(settings: Settings, event: str) -> list[tuple[dict[str, bytes], CloudEvent]]:
    """Each message of the event's topic: its raw headers, and its envelope as read."""
    assert settings.kafka is not None
    hub = KafkaEventHub(settings.kafka, settings.namespace)
    simulation = Simulation(settings)
    spec = simulation.catalogue.event(event)
    found = []
    for partition in range(len(hub.partition_ids(spec.hub))):
        start, end = hub.progress("trace-reader", spec.hub, partition)
        while start < end:
            messages = hub.read("trace-reader", spec.hub, partition, start, end, 5000)
            for message in messages:
                headers: Any = message.headers() or []
                envelope = CloudEvent.from_properties(to_received(message).properties)
                if envelope.type == spec.cloudevents_type():
                    found.append((dict(headers), envelope))
            start = offset_of(messages[-1]) + 1
    hub.close()
    simulation.close()
    return found


def _context(envelope: CloudEvent) -> TraceContext:
    context = envelope.trace_context()
    assert context is not None, envelope.id
    return context


def test_reactions_continue_their_causes_trace_on_kafka(kafka_settings: Settings) -> None:
    provision(kafka_settings)
    simulation = Simulation(kafka_settings)
    simulation.publish_products(seed=41)
    simulation.publish_customers(seed=41, count=30)
    simulation.subscriber("conversions").run()
    simulation.close()

    causes = {}
    for headers, envelope in _messages(kafka_settings, "CustomerCreated"):
        traceparent = headers[KAFKA_PREFIX + TRACEPARENT].decode()  # the binding's header
        assert traceparent == envelope.traceparent and KAFKA_PREFIX + TRACESTATE not in headers
        causes[_context(envelope).span_id] = _context(envelope)
    reactions = [
        *_messages(kafka_settings, "LeadGenerated"),
        *_messages(kafka_settings, "LeadAbandoned"),
    ]
    assert len(reactions) == len(causes) == 30
    for headers, envelope in reactions:
        context = _context(envelope)
        assert headers[KAFKA_PREFIX + TRACESTATE].decode() == f"edalake={context.parent_span_id}"
        cause = causes[str(context.parent_span_id)]
        assert context.trace_id == cause.trace_id

    # Kafka's capture writes the headers as bytes-valued properties: bronze reads them.
    run_capture(kafka_settings, flush=True)
    lake = Lake(kafka_settings, pii_key=PII_KEY)
    lake.ingest()
    bronze = tables.open_table(lake.layout.bronze_uri)
    assert bronze is not None
    rows = tables.query("SELECT ce_type, trace_id FROM t", t=bronze)
    traces = {c.trace_id for c in causes.values()}
    assert rows.num_rows >= 60 and rows["trace_id"].null_count == 0
    reacted = [t for k, t in zip(*(rows[c].to_pylist() for c in rows.column_names), strict=True)
               if "Lead" in k]  # fmt: skip
    assert len(reacted) == 30 and set(reacted) <= traces
