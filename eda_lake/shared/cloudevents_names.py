"""CloudEvents 1.0's names: its context attributes, and their names in each binding.

Declared once, below every room: the publishers and subscribers (`events`), the Kafka
binding (`hub`) and the compiled decoders (`native`, which the hubs use) all read them here.
"""

from __future__ import annotations

# The names of CloudEvents 1.0's context attributes that eda-lake writes or reads. In the
# binary content mode `datacontenttype` is no property of its own: it travels as the
# message's content type. The one extension written is distributed tracing's (`traceparent`,
# W3C Trace Context, and `tracestate`).
ID = "id"
SOURCE = "source"
TYPE = "type"
SPECVERSION = "specversion"
TIME = "time"
SUBJECT = "subject"
DATASCHEMA = "dataschema"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
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
TRACEPARENT_PROPERTY = PREFIX + TRACEPARENT
TRACESTATE_PROPERTY = PREFIX + TRACESTATE

SPEC_VERSION = "1.0"
