"""A table's preview holds no raw event data: bronze's bodies, property values and partition
keys are shown as sizes and types, its CloudEvents attributes as they are."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from eda_lake.lake.bronze.schema import BRONZE_SCHEMA
from eda_lake.lake.delta import metadata

EMAIL, NAME = "zoe.weber.7@example.org", "Zoe Weber"
MOMENT = datetime(2026, 10, 3, 12, tzinfo=UTC)


def _event(sequence: int) -> dict[str, object]:
    """A foreign producer's event: personal data in its body, a property and its key."""
    return {
        "namespace": "ns", "hub": "customer-created", "partition_id": "0",
        "sequence_number": sequence, "offset": str(sequence), "enqueued_time": MOMENT,
        "partition_key": EMAIL,
        "system_properties": [("x-opt-partition-key", {"string": EMAIL})],
        "properties": [
            ("cloudEvents_id", {"string": f"id-{sequence}"}),
            ("contact", {"string": NAME}),
            ("avatar", {"bytes": NAME.encode()}),
            ("age", {"long": 41}),
            ("nothing", {}),
        ],
        "schema_id": "s1", "ce_id": f"id-{sequence}", "ce_type": "com.example.CustomerCreated",
        "ce_source": "/customers", "ce_time": MOMENT,
        "body": b"\x02" + EMAIL.encode() + b"\x02" + NAME.encode(),
        "source_file": "ns/customer-created/0/2026/10/03/12/00/00.avro",
        "ingested_at": MOMENT, "date": "2026-10-03",
    }  # fmt: skip


def test_bronze_preview_shows_sizes_types_and_cloudevents_attributes(tmp_path: Path) -> None:
    uri = str(tmp_path / "bronze")
    rows = pa.Table.from_pylist([_event(1), _event(2)], schema=BRONZE_SCHEMA)
    write_deltalake(uri, rows)
    preview = metadata.preview(uri)
    assert preview is not None
    shown = preview.to_pylist()
    assert EMAIL not in repr(shown) and NAME not in repr(shown)
    first = shown[0]
    assert first["body_bytes"] == 2 + len(EMAIL) + len(NAME)
    assert first["partition_key_bytes"] == len(EMAIL)
    assert first["properties"] == (
        "cloudEvents_id: string, contact: string, avatar: bytes, age: long, nothing: null"
    )
    assert first["system_properties"] == "x-opt-partition-key: string"
    assert (first["ce_id"], first["ce_type"], first["ce_source"], first["schema_id"]) == (
        "id-1",
        "com.example.CustomerCreated",
        "/customers",
        "s1",
    )
    assert {"body", "partition_key"}.isdisjoint(preview.column_names)
