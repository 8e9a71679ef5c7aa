"""CloudEvents 1.0 in the AMQP binding's binary content mode.

Attributes travel as AMQP application properties named `cloudEvents_<attribute>` (the
binding's current prefix; readers also accept the older `cloudEvents:`, and the Kafka
binding's `ce_`, which is how a Kafka producer's headers reach Capture through Event Hubs'
Kafka endpoint: as bytes-valued properties). All values are
strings, `time` in RFC 3339, because Event Hubs Capture keeps only long, double, string and
bytes in its property map. The one extension is distributed tracing's: `traceparent` and
`tracestate` (W3C Trace Context, `shared.trace_context`), optional when read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from eda_lake.shared.cloudevents_names import (
    DATASCHEMA,
    DATASCHEMA_PROPERTY,
    ID,
    ID_PROPERTY,
    KAFKA_PREFIX,
    LEGACY_PREFIX,
    PREFIX,
    READ_PREFIXES,
    REQUIRED,
    SOURCE,
    SOURCE_PROPERTY,
    SPEC_VERSION,
    SPECVERSION,
    SPECVERSION_PROPERTY,
    SUBJECT,
    SUBJECT_PROPERTY,
    TIME,
    TIME_PROPERTY,
    TRACEPARENT,
    TRACEPARENT_PROPERTY,
    TRACESTATE,
    TRACESTATE_PROPERTY,
    TYPE,
    TYPE_PROPERTY,
)
from eda_lake.shared.trace_context import TraceContext, parse


class CloudEventError(ValueError):
    """Properties that do not make a valid CloudEvent."""


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. 2026-11-27T06:36:59.123456Z."""
    if moment.tzinfo is None:
        raise CloudEventError(f"CloudEvents time {moment!r} has no time zone; use UTC")
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CloudEventError(f"CloudEvents time {text!r} is not RFC 3339") from None
    if moment.tzinfo is None:
        raise CloudEventError(f"CloudEvents time {text!r} has no offset; RFC 3339 requires one")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class CloudEvent:
    """The context attributes of one event; the data travels as the message body."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    dataschema: str | None = None
    specversion: str = SPEC_VERSION
    traceparent: str | None = None  # as sent: `trace_context` reads it leniently
    tracestate: str | None = None

    def to_properties(self) -> dict[str, str]:
        return binary_mode_properties(
            self.id, self.source, self.type, self.time, self.subject, self.dataschema,
            self.specversion, self.traceparent, self.tracestate,
        )  # fmt: skip

    def trace_context(self) -> TraceContext | None:
        """The trace the event belongs to; None when it carried no valid `traceparent` (a
        foreign producer's event): a reaction to it then starts a trace of its own."""
        return parse(self.traceparent, self.tracestate)

    @classmethod
    def from_properties(cls, properties: Mapping[str, object]) -> CloudEvent:
        attrs = attributes(properties)
        missing = [a for a in REQUIRED if not attrs.get(a)]
        if missing:
            raise CloudEventError(
                f"not a CloudEvent: missing attribute(s) {missing} (looked for properties "
                f"{PREFIX}<name>, {LEGACY_PREFIX}<name> and {KAFKA_PREFIX}<name>)"
            )
        if TIME not in attrs:
            raise CloudEventError(f"CloudEvent {attrs[ID]!r} has no time attribute")
        return cls(
            id=attrs[ID],
            source=attrs[SOURCE],
            type=attrs[TYPE],
            time=parse_time(attrs[TIME]),
            subject=attrs.get(SUBJECT),
            dataschema=attrs.get(DATASCHEMA),
            specversion=attrs[SPECVERSION],
            traceparent=attrs.get(TRACEPARENT),
            tracestate=attrs.get(TRACESTATE),
        )


def binary_mode_properties(
    id: str,
    source: str,
    type: str,
    time: datetime,
    subject: str | None = None,
    dataschema: str | None = None,
    specversion: str = SPEC_VERSION,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> dict[str, str]:
    """The AMQP application properties of an event; publishers call this directly, which
    spares building an envelope object per event."""
    props = {
        ID_PROPERTY: id,
        SOURCE_PROPERTY: source,
        TYPE_PROPERTY: type,
        SPECVERSION_PROPERTY: specversion,
        TIME_PROPERTY: format_time(time),
    }
    if subject is not None:
        props[SUBJECT_PROPERTY] = subject
    if dataschema is not None:
        props[DATASCHEMA_PROPERTY] = dataschema
    if traceparent is not None:
        props[TRACEPARENT_PROPERTY] = traceparent
    if tracestate is not None:
        props[TRACESTATE_PROPERTY] = tracestate
    return props


def attributes(properties: Mapping[str, object]) -> dict[str, str]:
    """CloudEvents attributes found in a property map, as strings, whatever the prefix.

    Lenient by design: the lake reads any producer's events, so this never raises.
    """
    found: dict[str, str] = {}
    for key, value in properties.items():
        for prefix in READ_PREFIXES:
            if key.startswith(prefix) and value is not None:
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                found.setdefault(key[len(prefix) :], str(text))
    return found
