"""CloudEvents 1.0 in the AMQP binding's binary content mode.

Attributes travel as AMQP application properties named `cloudEvents_<attribute>` (the
binding's current prefix; readers also accept the older `cloudEvents:`, and the Kafka
binding's `ce_`, which is how a Kafka producer's headers reach Capture through Event Hubs'
Kafka endpoint: as bytes-valued properties). All values are
strings, `time` in RFC 3339, because Event Hubs Capture keeps only long, double, string and
bytes in its property map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# The names of CloudEvents 1.0's context attributes that eda-lake writes or reads. In the
# binary content mode `datacontenttype` is no property of its own: it travels as the
# message's content type. No extension attribute is written.
ID = "id"
SOURCE = "source"
TYPE = "type"
SPECVERSION = "specversion"
TIME = "time"
SUBJECT = "subject"
DATASCHEMA = "dataschema"
REQUIRED = (ID, SOURCE, TYPE, SPECVERSION)

# An attribute's name as an AMQP application property: the binding's current prefix, and
# the older one readers also accept; as a Kafka header: the Kafka binding's prefix.
PREFIX = "cloudEvents_"
LEGACY_PREFIX = "cloudEvents:"
KAFKA_PREFIX = "ce_"
READ_PREFIXES = (PREFIX, LEGACY_PREFIX, KAFKA_PREFIX)

# The properties publishers write.
ID_PROPERTY = PREFIX + ID
SOURCE_PROPERTY = PREFIX + SOURCE
TYPE_PROPERTY = PREFIX + TYPE
SPECVERSION_PROPERTY = PREFIX + SPECVERSION
TIME_PROPERTY = PREFIX + TIME
SUBJECT_PROPERTY = PREFIX + SUBJECT
DATASCHEMA_PROPERTY = PREFIX + DATASCHEMA

SPEC_VERSION = "1.0"


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

    def to_properties(self) -> dict[str, str]:
        return binary_mode_properties(
            self.id, self.source, self.type, self.time, self.subject, self.dataschema,
            self.specversion,
        )  # fmt: skip

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
        )


def binary_mode_properties(
    id: str,
    source: str,
    type: str,
    time: datetime,
    subject: str | None = None,
    dataschema: str | None = None,
    specversion: str = SPEC_VERSION,
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
