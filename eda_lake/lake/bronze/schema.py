"""Bronze's columns: the contract analysts and the later layers rely on.

Where the events came from (namespace, hub, partition: the blob path), then the events as
every capture reader produces them (`capture.arrow_schema.EVENT_COLUMNS`), then lineage.
"""

from __future__ import annotations

import pyarrow as pa

from eda_lake.capture.arrow_schema import EVENT_COLUMNS, PROPERTY_MAP, UTC_MICROS

__all__ = [
    "BRONZE_DESCRIPTION",
    "BRONZE_SCHEMA",
    "COLUMN_DESCRIPTIONS",
    "PARTITION_COLUMNS",
    "PROPERTY_MAP",
    "QUALIFIED_NAME",
    "UTC_MICROS",
]

# Columns added after the table's first release, last: a table written before them takes
# them in place on its next commit (`commits.add_columns`; Delta appends them).
ADDED_COLUMNS = ("trace_id",)
QUALIFIED_NAME = "bronze.events"  # bronze's one table, as the later layers name their input
BRONZE_SCHEMA = pa.schema(
    [
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("hub", pa.string(), nullable=False),
        pa.field("partition_id", pa.string(), nullable=False),
        *(f for f in EVENT_COLUMNS if f.name not in ADDED_COLUMNS),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_MICROS, nullable=False),
        pa.field(
            "date", pa.string(), nullable=False
        ),  # partition: UTC day of the file's capture window
        *(EVENT_COLUMNS.field(name) for name in ADDED_COLUMNS),
    ]
)
PARTITION_COLUMNS = ["hub", "date"]

BRONZE_DESCRIPTION = (
    "Every capture file's events, one row each, exactly once per file: any namespace and hub, "
    "foreign producers included. Bodies and properties are kept byte for byte, personal data "
    "included."
)
# What each column holds, for the data dictionary (`lake.dictionary`).
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "namespace": "Event Hubs namespace the capture file came from (from its blob path).",
    "hub": "Event hub the event was sent to (from the capture file's blob path); a partition "
    "column of the table.",
    "partition_id": "Event hub partition that held the event (from the blob path), as text.",
    "sequence_number": "Position of the event in its hub partition, assigned by Event Hubs; "
    "with `hub` and `partition_id` it identifies a delivery.",
    "offset": "Event Hubs offset of the event in its partition, as Capture wrote it (text).",
    "enqueued_time": "When Event Hubs accepted the event, UTC (broker time, not business time).",
    "partition_key": "Key the producer sent to choose the partition, verbatim (may be "
    "personal: reports show its length only); null when none was sent.",
    "system_properties": "Broker-set properties Capture recorded (content type, message id, "
    "...), name to a value of one of the branches long, double, string or bytes.",
    "properties": "Producer's application properties, the CloudEvents attributes among them, "
    "name to a value of one of the branches long, double, string or bytes.",
    "schema_id": "Schema registry id of the body's writer schema, from the content type "
    "(`avro/binary+<id>`) or the CloudEvents `dataschema`; null for a body naming none.",
    "ce_id": "CloudEvents `id` attribute: unique per `ce_source`; null when absent.",
    "ce_type": "CloudEvents `type` attribute: which kind of event the body is (for example "
    "`eda_lake.customer.CustomerCreated`); null when absent.",
    "ce_source": "CloudEvents `source` attribute: the producing team's URI reference; null "
    "when absent.",
    "ce_time": "CloudEvents `time` attribute: business time of the occurrence, UTC; null when "
    "absent or not RFC 3339.",
    "trace_id": "W3C trace id (32 lowercase hex digits) of the CloudEvents `traceparent` "
    "(distributed tracing), under any of the bindings' prefixes: the trace the event belongs to, "
    "shared by everything it caused; null when absent or malformed, and in rows ingested "
    "before the column existed. Its span and its cause's are in `properties`.",
    "body": "Event payload exactly as sent (Avro in the registry's wire format, or any other "
    "bytes a foreign producer sent).",
    "source_file": "Path of the capture file in its container; every row of a file shares it.",
    "ingested_at": "When this lake's ingestion committed the file's rows, UTC.",
    "date": "UTC day (YYYY-MM-DD) of the capture file's time window; a partition column of the "
    "table, so a file's rows sit in one partition.",
}
