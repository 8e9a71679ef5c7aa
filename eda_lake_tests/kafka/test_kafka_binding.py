"""The CloudEvents Kafka binding both ways, and Capture files shaped by Event Hubs' endpoint."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.writer import write_capture
from eda_lake.events.cloudevents import CloudEvent, attributes
from eda_lake.hub import kafka_binding
from eda_lake.hub.base import ReceivedEvent
from eda_lake.hub.kafka_binding import from_message, to_headers

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
    (batch,) = read_capture_batches(stream, "kafka-endpoint.avro")
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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _expected_mapping(
    headers: list[tuple[str, bytes | str | None]], key: bytes | str | None
) -> tuple[dict[str, Any], str | None, str | None]:
    """The binding's rules, spelled out: the first `content-type` that is UTF-8 text is the
    content type; `ce_<name>` is `cloudEvents_<name>`, text where it is UTF-8; any other
    header stays bytes; a header without a value is a null property."""

    def text(value: bytes | str) -> str | None:
        try:
            return value if isinstance(value, str) else value.decode("utf-8")
        except UnicodeDecodeError:
            return None

    mapped: dict[str, Any] = {}
    content_type = None
    for name, value in headers:
        if name == "content-type" and value is not None and content_type is None:
            content_type = text(value)
            if content_type is not None:
                continue
        attribute = name.startswith("ce_")
        property_name = "cloudEvents_" + name[3:] if attribute else name
        data = value.encode("utf-8") if isinstance(value, str) else value
        if data is not None and attribute and text(data) is not None:
            mapped[property_name] = text(data)
        else:
            mapped[property_name] = data
    return mapped, content_type, None if key is None else text(key)


def _read_content_type(
    content_type: str | None, headers: list[tuple[str, bytes | str | None]]
) -> str | None:
    """The capture reader's content type: the system one unless empty, else the first
    `content-type` application property that is UTF-8 text (the binding makes every
    `content-type` header after the first text one such a property)."""
    if content_type:
        return content_type
    taken = content_type is None  # no header was taken as the content type
    for name, value in headers:
        if name != "content-type" or value is None:
            continue
        try:
            text = value if isinstance(value, str) else value.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not taken:
            taken = True
            continue
        return text
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=12),
    st.one_of(st.none(), st.binary(max_size=12), st.text(max_size=12)),
)
def test_messages_map_by_the_binding_s_rules(
    headers: list[tuple[str, bytes | str | None]], key: bytes | str | None
) -> None:
    mapped = from_message(headers, key)
    expected = _expected_mapping(headers, key)
    assert (dict(mapped.properties), mapped.content_type, mapped.partition_key) == expected


_PROPERTY_VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"])), st.binary(), st.integers(),
    st.floats(), st.booleans(),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["cloudEvents_id", "cloudEvents:type"]), st.text(max_size=8)),
        _PROPERTY_VALUES,
        max_size=10,
    ),
    st.one_of(st.none(), st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)),
)
def test_headers_follow_the_binding_s_rules(
    properties: dict[str, Any], content_type: str | None
) -> None:
    def header(name: str) -> str:
        for prefix in ("cloudEvents_", "cloudEvents:"):
            if name.startswith(prefix):
                return "ce_" + name[len(prefix) :]
        return name

    def value(v: Any) -> bytes:
        return v if isinstance(v, bytes) else (v if isinstance(v, str) else str(v)).encode()

    expected = [(header(n), value(v)) for n, v in properties.items()]
    if content_type is not None:
        expected.append(("content-type", content_type.encode()))
    assert to_headers(properties, content_type) == expected


def test_a_property_with_no_header_form_is_named() -> None:
    with pytest.raises(kafka_binding.KafkaHeaderError, match="property 'gone' is None"):
        to_headers({"cloudEvents_id": "1", "gone": None}, None)
    with pytest.raises(kafka_binding.KafkaHeaderError, match="property 'odd' has a list"):
        to_headers({"odd": [1]}, None)  # type: ignore[dict-item]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**62),
            st.integers(0, 4_102_444_800_000),  # milliseconds up to 2100
            st.one_of(st.none(), st.binary(max_size=12), _TEXT.map(str.encode)),
            st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=8),
            st.one_of(st.none(), st.binary(max_size=64)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_messages_become_records_the_capture_reader_reads_back(
    messages: list[tuple[int, int, bytes | None, Any, bytes | None]],
) -> None:
    from confluent_kafka import Message

    from eda_lake.capture import kafka as kafka_capture
    from eda_lake.capture.reader import read_capture

    encode = kafka_capture._record_encoder()
    records = []
    for offset, millis, key, headers, value in messages:
        message = Message(
            topic="orders", partition=1, offset=offset, key=key, value=value, headers=headers,
            timestamp=(1, millis),
        )  # fmt: skip
        records.append(encode(message))
    events = list(read_capture(io.BytesIO(_container(*records)), "t.avro"))
    assert len(events) == len(messages)
    for event, (offset, millis, key, headers, value) in zip(events, messages, strict=True):
        properties, content_type, partition_key = _expected_mapping(headers, key)
        assert (event.sequence_number, event.offset) == (offset, str(offset))
        assert event.enqueued_time == EPOCH + timedelta(milliseconds=millis)
        expected_content_type = _read_content_type(content_type, headers)
        assert (event.partition_key, event.content_type) == (partition_key, expected_content_type)
        assert dict(event.properties) == properties
        assert event.body == (value or b"")


def test_a_message_becomes_a_record_the_capture_reader_reads() -> None:
    from confluent_kafka import Message

    from eda_lake.capture import kafka as kafka_capture

    message = Message(
        topic="orders", partition=0, offset=41, key=b"c-1", value=b"body",
        headers=list[tuple[str, str | bytes | None]](
            to_headers(EVENT.to_properties(), "avro/binary+abc")
        ),
        timestamp=(1, 1_764_000_001_001),
    )  # fmt: skip
    record = kafka_capture._record_encoder()(message)
    [batch] = read_capture_batches(io.BytesIO(_container(record)), "t.avro")
    [event] = batch.to_pylist()
    assert (event["sequence_number"], event["partition_key"]) == (41, "c-1")
    assert event["enqueued_time"] == datetime(2025, 11, 24, 16, 0, 1, 1000, tzinfo=UTC)
    assert (event["ce_id"], event["schema_id"], event["body"]) == (EVENT.id, "abc", b"body")


def _container(*records: bytes) -> bytes:
    from eda_lake.capture.writer import write_records

    stream = io.BytesIO()
    write_records(stream, records, "null")
    return stream.getvalue()
