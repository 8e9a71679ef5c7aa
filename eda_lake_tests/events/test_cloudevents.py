from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from eda_lake.events.cloudevents import CloudEvent, CloudEventError, attributes, parse_time

EVENT = CloudEvent(
    id="e-1",
    source="/eda-lake/customer",
    type="eda_lake.customer.CustomerCreated",
    time=datetime(2026, 11, 1, 9, 30, 0, 123456, tzinfo=UTC),
    subject="c-1",
    dataschema="urn:eda-lake:schema:abc123",
)


def test_binary_mode_properties_are_prefixed_strings() -> None:
    props = EVENT.to_properties()
    assert props["cloudEvents_time"] == "2026-11-01T09:30:00.123456Z"
    assert all(k.startswith("cloudEvents_") and isinstance(v, str) for k, v in props.items())
    assert CloudEvent.from_properties(props) == EVENT


def test_legacy_colon_prefix_and_bytes_values_are_read() -> None:
    props = {
        k.replace("cloudEvents_", "cloudEvents:"): v.encode()
        for k, v in EVENT.to_properties().items()
    }
    assert CloudEvent.from_properties(props) == EVENT


def test_missing_attributes_are_named() -> None:
    with pytest.raises(CloudEventError, match=r"\['source'"):
        CloudEvent.from_properties(
            {"cloudEvents_id": "x", "cloudEvents_type": "t", "cloudEvents_specversion": "1.0"}
        )
    assert attributes({"other": 1}) == {}


def test_time_offsets_normalise_to_utc() -> None:
    moment = parse_time("2026-11-01T10:30:00+01:00")
    assert moment == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    with pytest.raises(CloudEventError, match="offset"):
        parse_time("2026-11-01T10:30:00")
    with pytest.raises(CloudEventError, match="time zone"):
        CloudEvent("i", "s", "t", datetime(2026, 1, 1)).to_properties()
    assert parse_time("2026-11-01T09:30:00Z").tzinfo is not None
    assert datetime(2026, 11, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))) == moment
