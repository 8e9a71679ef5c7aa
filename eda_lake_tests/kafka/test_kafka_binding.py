"""The CloudEvents Kafka binding both ways, and Capture files shaped by Event Hubs' endpoint."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.capture.columnar import read_pure_batches
from eda_lake.capture.writer import write_capture
from eda_lake.events import kafka_binding
from eda_lake.events.cloudevents import CloudEvent, attributes
from eda_lake.events.kafka_binding import from_message, to_headers
from eda_lake.hub.base import ReceivedEvent
from eda_lake.native import avro as native

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


_HEADER_NAMES = st.one_of(
    st.sampled_from(["ce_id", "ce_type", "ce_", "content-type", "trace", "CE_id"]),
    st.text(max_size=8).map(lambda n: "ce_" + n),
    st.text(max_size=8),
)
_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
_HEADER_VALUES = st.one_of(st.none(), st.binary(max_size=40), _TEXT.map(str.encode), _TEXT)


@pytest.mark.skipif(native is None, reason="the compiled module was not built here")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=12),
    st.one_of(st.none(), st.binary(max_size=12), st.text(max_size=12)),
)
def test_compiled_and_python_mapping_of_messages_agree(
    headers: list[tuple[str, bytes | str | None]], key: bytes | str | None
) -> None:
    compiled, python = from_message(headers, key), kafka_binding._from_message(headers, key)
    assert compiled.properties.avro == python.properties.avro
    assert (compiled.content_type, compiled.partition_key) == (
        python.content_type,
        python.partition_key,
    )


_PROPERTY_VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"])), st.binary(), st.integers(),
    st.floats(), st.booleans(),
)  # fmt: skip


@pytest.mark.skipif(native is None, reason="the compiled module was not built here")
@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["cloudEvents_id", "cloudEvents:type"]), st.text(max_size=8)),
        _PROPERTY_VALUES,
        max_size=10,
    ),
    st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)),
)
def test_compiled_and_python_headers_agree(
    properties: dict[str, Any], content_type: str | None
) -> None:
    assert to_headers(properties, content_type) == kafka_binding._to_headers(
        properties, content_type
    )


def test_a_property_with_no_header_form_is_named() -> None:
    with pytest.raises(kafka_binding.KafkaHeaderError, match="property 'gone' is None"):
        to_headers({"cloudEvents_id": "1", "gone": None}, None)


@pytest.mark.skipif(native is None, reason="the compiled module was not built here")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**62),
            st.integers(0, 4_102_444_800_000),  # milliseconds up to 2100
            st.one_of(st.none(), st.binary(max_size=12), _TEXT.map(str.encode)),
            st.one_of(st.none(), st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=8)),
            st.one_of(st.none(), st.binary(max_size=64)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_compiled_capture_records_of_messages_are_the_python_ones(
    messages: list[tuple[int, int, bytes | None, Any, bytes | None]],
) -> None:
    from confluent_kafka import Message

    from eda_lake.capture.kafka import _record_encoder
    from eda_lake.capture.writer import EnqueuedText, encode_record
    from eda_lake.hub.kafka import to_received

    compiled, text = _record_encoder(), EnqueuedText()
    for offset, millis, key, headers, value in messages:
        message = Message(
            topic="orders", partition=1, offset=offset, key=key, value=value, headers=headers,
            timestamp=(1, millis),
        )  # fmt: skip
        assert compiled(message) == encode_record(to_received(message), text)


def test_without_the_compiled_module_messages_become_the_same_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from confluent_kafka import Message

    from eda_lake.capture import kafka as kafka_capture

    message = Message(
        topic="orders", partition=0, offset=41, key=b"c-1", value=b"body",
        headers=list[tuple[str, str | bytes | None]](
            to_headers(EVENT.to_properties(), "avro/binary+abc")
        ),
        timestamp=(1, 1_764_000_001_001),
    )  # fmt: skip
    compiled = kafka_capture._record_encoder()(message) if native is not None else None
    monkeypatch.setattr(kafka_capture, "native", None)
    pure = kafka_capture._record_encoder()(message)
    assert compiled in (None, pure)
    [batch] = read_pure_batches(io.BytesIO(_container(pure)), "t.avro")
    [event] = batch.to_pylist()
    assert (event["sequence_number"], event["partition_key"]) == (41, "c-1")
    assert event["enqueued_time"] == datetime(2025, 11, 24, 16, 0, 1, 1000, tzinfo=UTC)


def _container(record: bytes) -> bytes:
    from eda_lake.capture.writer import write_records

    stream = io.BytesIO()
    write_records(stream, [record], "null")
    return stream.getvalue()
