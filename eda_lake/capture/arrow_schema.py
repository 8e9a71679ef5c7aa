"""The Arrow shape of Capture's events: the columns every capture reader produces.

Parquet cannot store Avro unions, so Capture's property maps become maps from string to a
struct with one nullable field per branch (`long`, `double`, `string`, `bytes`); exactly one
field is set per entry (none for an Avro `null`), so no type is lost.
"""

from __future__ import annotations

import pyarrow as pa

PROPERTY_VALUE = pa.struct(
    [
        pa.field("long", pa.int64()),
        pa.field("double", pa.float64()),
        pa.field("string", pa.string()),
        pa.field("bytes", pa.binary()),
    ]
)
PROPERTY_MAP = pa.map_(pa.string(), PROPERTY_VALUE)
UTC_MICROS = pa.timestamp("us", tz="UTC")

EVENT_COLUMNS = pa.schema(
    [
        pa.field("sequence_number", pa.int64(), nullable=False),
        pa.field("offset", pa.string(), nullable=False),
        pa.field("enqueued_time", UTC_MICROS, nullable=False),
        pa.field("partition_key", pa.string()),
        pa.field("system_properties", PROPERTY_MAP),
        pa.field("properties", PROPERTY_MAP),
        pa.field("schema_id", pa.string()),
        pa.field("ce_id", pa.string()),
        pa.field("ce_type", pa.string()),
        pa.field("ce_source", pa.string()),
        pa.field("ce_time", UTC_MICROS),
        pa.field("body", pa.binary()),
        # W3C trace id of the CloudEvents `traceparent`; last, as the lake's tables hold it
        # (added after their first release: Delta appends a column a table takes in place).
        pa.field("trace_id", pa.string()),
    ]
)
