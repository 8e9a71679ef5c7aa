"""The CloudEvents Kafka binding both ways, and Capture files shaped by Event Hubs' endpoint."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from eda_lake.capture.columnar import read_pure_batches
from eda_lake.capture.writer import write_capture
from eda_lake.events.cloudevents import CloudEvent, attributes
from eda_lake.events.kafka_binding import from_message, to_headers
from eda_lake.hub.base import ReceivedEvent

EVENT = CloudEvent(
    id="7f0c", source="/eda-lake/customer", type="eda_lake.customer.CustomerCreated",
    time=datetime(2026, 10, 1, 8, 30, tzinfo=UTC), subject="c-1", dataschema="urn:x:abc",
)  # fmt: skip


def test_binary_mode_headers_both_ways() -> None:
    headers = to_headers(EVENT.to_properties() | {"trace": "t-1"}, "avro/binary+abc")
    assert ("ce_id", b"7f0c") in headers and ("ce_specversion", b"1.0") in headers
    assert ("content-type", b"avro/binary+abc") in headers and ("trace", b"t-1") in headers
    assert not any(name.startswith("cloudEvents") for name, _ in headers)
    back = from_message(headers, b"c-1")
    assert back.content_type == "avro/binary+abc" and back.partition_key == "c-1"
    assert CloudEvent.from_properties(back.properties) == EVENT
    assert dict(back.properties)["trace"] == b"t-1"  # other headers stay bytes, as on Event Hubs


def test_lenient_on_what_others_produce() -> None:
    assert dict(from_message(None, None).properties) == {}
    odd = from_message([("ce_id", b"\xff"), ("empty", None), ("content-type", b"\xfe")], b"\xff")
    expected = {"cloudEvents_id": b"\xff", "empty": None, "content-type": b"\xfe"}
    assert dict(odd.properties) == expected
    assert odd.content_type is None and odd.partition_key is None


def test_capture_files_from_event_hubs_kafka_endpoint_are_read() -> None:
    """Through Event Hubs' Kafka endpoint a Kafka producer's headers reach Capture as bytes
    properties named as the headers, and the key is no x-opt-partition-key."""
    properties = {name: value for name, value in to_headers(EVENT.to_properties(), None)}
    properties["content-type"] = b"avro/binary+abc"
    event = ReceivedEvent(
        hub="customer-created", partition_id="0", sequence_number=5, offset=1024,
        enqueued_time=datetime(2026, 10, 1, 8, 30, 1, tzinfo=UTC), partition_key=None,
        content_type=None, properties=properties, body=b"\x02",
    )  # fmt: skip
    assert attributes(properties)["id"] == "7f0c"
    stream = io.BytesIO()
    write_capture(stream, [event], "null")
    stream.seek(0)
    (batch,) = read_pure_batches(stream, "kafka-endpoint.avro")
    row = batch.to_pylist()[0]
    assert (row["ce_id"], row["ce_type"], row["ce_source"]) == (EVENT.id, EVENT.type, EVENT.source)
    assert row["schema_id"] == "abc"
