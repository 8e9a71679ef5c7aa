from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from eda_lake.events.cloudevents import CloudEvent, CloudEventError, attributes, parse_time
from eda_lake.settings import REPO_ROOT
from eda_lake.shared import cloudevents_names
from eda_lake.shared.trace_context import child_context, root_context

# A binding's prefix in a string literal of code (prose writes `cloudEvents_<name>`).
SPELLED_PREFIX = re.compile(r"""b?["'](?:cloudEvents[_:]|ce_["'])""")

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


def test_trace_context_travels_as_the_tracing_extension_and_is_optional() -> None:
    assert EVENT.trace_context() is None  # sent without one: a foreign producer's
    assert "cloudEvents_traceparent" not in EVENT.to_properties()
    cause = root_context("/eda-lake/customer", "c-0")
    context = child_context(cause, EVENT.source, EVENT.id)
    traced = replace(EVENT, traceparent=context.traceparent(), tracestate=context.tracestate())
    props = traced.to_properties()
    assert props["cloudEvents_traceparent"] == context.traceparent()
    assert props["cloudEvents_tracestate"] == f"edalake={cause.span_id}"
    kafka = {k.replace("cloudEvents_", "ce_"): v.encode() for k, v in props.items()}
    assert CloudEvent.from_properties(kafka).trace_context() == context
    malformed = replace(EVENT, traceparent="00-not-a-trace-01")
    assert CloudEvent.from_properties(malformed.to_properties()).trace_context() is None


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


def _spelled_prefixes(text: str) -> list[str]:
    return SPELLED_PREFIX.findall(text)


def test_the_check_below_sees_a_binding_prefix_spelled_in_code() -> None:
    code = """names = [b"cloudEvents_id", "cloudEvents:type"]\nheader = 'ce_' + name\n"""
    assert len(_spelled_prefixes(code)) == 3
    assert _spelled_prefixes('"""`cloudEvents_<name>` or `ce_<name>`; the ce_id column"""') == []


def test_the_bindings_names_are_spelled_in_one_module() -> None:
    declared_in = Path(cloudevents_names.__file__)
    package = REPO_ROOT / "eda_lake"
    spelled = {
        str(path.relative_to(REPO_ROOT)): found
        for path in sorted([*package.rglob("*.py"), *package.rglob("*.pyx")])
        if path != declared_in and (found := _spelled_prefixes(path.read_text()))
    }
    assert spelled == {}, "use the names eda_lake.shared.cloudevents_names declares"
