"""Bronze's columns: the contract analysts and the later layers rely on.

Where the events came from (namespace, hub, partition: the blob path), then the events as
every capture reader produces them (`capture.arrow_schema.EVENT_COLUMNS`), then lineage.
"""

from __future__ import annotations

import pyarrow as pa

from eda_lake.capture.arrow_schema import EVENT_COLUMNS, PROPERTY_MAP, UTC_MICROS

__all__ = ["BRONZE_SCHEMA", "PARTITION_COLUMNS", "PROPERTY_MAP", "UTC_MICROS"]

BRONZE_SCHEMA = pa.schema(
    [
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("hub", pa.string(), nullable=False),
        pa.field("partition_id", pa.string(), nullable=False),
        *EVENT_COLUMNS,
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("ingested_at", UTC_MICROS, nullable=False),
        pa.field(
            "date", pa.string(), nullable=False
        ),  # partition: UTC day of the file's capture window
    ]
)
PARTITION_COLUMNS = ["hub", "date"]
