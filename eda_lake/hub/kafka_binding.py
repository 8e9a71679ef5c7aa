"""CloudEvents 1.0 in the Kafka protocol binding's binary content mode.

Each attribute travels as a header `ce_<attribute>` (UTF-8 text), the payload's content type
in the `content-type` header (`avro/binary+<schema-id>` for registry-encoded bodies, as on
Event Hubs), the partition key as the message key, the data as the value.

The rest of eda-lake speaks the AMQP binding (`cloudEvents_<attribute>` properties, the
content type and partition key beside them), so a received message is mapped back into that
shape: subscribers, dead letters and the Kafka capture need nothing Kafka-specific. Headers
that are no CloudEvents attribute pass through as bytes-valued properties, which is how
Event Hubs hands Kafka headers to AMQP consumers and Capture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from eda_lake.hub.base import PropertyValue
from eda_lake.hub.properties import EncodedProperties
from eda_lake.native import avro as native

Headers = list[tuple[str, bytes]]


class KafkaHeaderError(ValueError):
    """A property that has no faithful Kafka header form."""


def to_headers(properties: Mapping[str, PropertyValue], content_type: str | None) -> Headers:
    """Kafka headers of an event given in the AMQP binding's properties (compiled:
    `native.kafka_headers`)."""
    try:
        headers: Headers = native.kafka_headers(properties, content_type)
    except ValueError as exc:
        raise KafkaHeaderError(str(exc)) from None
    return headers


class FromKafka(NamedTuple):
    """A message's headers and key in the AMQP binding's shape."""

    properties: EncodedProperties
    content_type: str | None
    partition_key: str | None


def from_message(
    headers: Sequence[tuple[str, str | bytes | None]] | None, key: str | bytes | None
) -> FromKafka:
    """Map a message's headers and key back to properties, content type and partition key
    (compiled: `native.kafka_properties`).

    Lenient, as the lake reads any producer's messages: a CloudEvents header that is not
    UTF-8 text stays bytes (readers then refuse the event with a reason), a header without
    a value is a null property, and a key that is not UTF-8 is no partition key.
    The property map is built directly in Capture's Avro form, the form the capture writes.
    """
    avro, content_type, partition_key = native.kafka_properties(headers, key)
    return FromKafka(EncodedProperties(avro), content_type, partition_key)
