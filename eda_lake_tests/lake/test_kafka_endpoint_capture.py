"""Capture files of events that Kafka producers sent through Event Hubs' Kafka endpoint.

Microsoft documents ("Exchange events between consumers and producers that use different
protocols: AMQP, Kafka, and HTTPS") that Kafka headers reach AMQP consumers, and so Capture,
as binary application properties, and (Event Hubs for Kafka, "Receive key-value pairs from
events sent using Event Hubs Kafka endpoint") that the Kafka key is the system property
`x-opt-kafka-key`, not `x-opt-partition-key`. CloudEvents' Kafka binding names attributes
`ce_<name>` and the content type `content-type`. Files are written here in that shape with
fastavro, an independent writer.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa

from eda_lake.capture.columnar import read_capture_batches
from eda_lake.capture.envelope import CAPTURE_SCHEMA
from eda_lake.capture.reader import read_capture
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake_tests.lake.helpers import NAMES, bronze_rows, ingest

SCHEMA_ID = "0123456789abcdef0123456789abcdef"
WINDOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
MILLIS = 1_793_611_800_000


def _record(sequence: int, system: dict[str, Any], headers: dict[str, bytes]) -> dict[str, Any]:
    return {
        "SequenceNumber": sequence,
        "Offset": str(sequence * 100),
        "EnqueuedTimeUtc": "11/2/2026 9:30:00 AM",
        "SystemProperties": {
            "x-opt-sequence-number": sequence,
            "x-opt-offset": str(sequence * 100),
            "x-opt-enqueued-time": MILLIS + sequence,
            **system,
        },
        "Properties": headers,
        "Body": b"\x02\x06abc",
    }


def _kafka_headers(sequence: int) -> dict[str, bytes]:
    return {
        "ce_specversion": b"1.0",
        "ce_id": f"kafka-{sequence}".encode(),
        "ce_source": b"/eda-lake/customer",
        "ce_type": b"eda_lake.customer.CustomerCreated",
        "ce_time": b"2026-11-02T09:29:59.5Z",
        "content-type": f"avro/binary+{SCHEMA_ID}".encode(),
    }


def _kafka_file() -> bytes:
    records = [
        _record(0, {"x-opt-kafka-key": b"customer-7"}, _kafka_headers(0)),
        # A key Event Hubs got as a partition key too: that one wins.
        _record(1, {"x-opt-partition-key": "pk", "x-opt-kafka-key": b"other"}, _kafka_headers(1)),
        # A Long key (Kafka's LongSerializer: 8 raw bytes) and an id that is not UTF-8: both
        # are no text, the event still lands.
        _record(
            2,
            {"x-opt-kafka-key": b"\x00\x00\x00\x00\x00\x00\x00\xff"},
            {**_kafka_headers(2), "ce_id": b"\xff\xfe"},
        ),
        # The dataschema header names the schema when there is no content type.
        _record(
            3,
            {},
            {
                "ce_id": b"kafka-3",
                "ce_source": b"/eda-lake/customer",
                "ce_dataschema": f"https://ns.servicebus.windows.net/$schemagroups/$schemas/{SCHEMA_ID}".encode(),
            },
        ),
    ]
    stream = io.BytesIO()
    fastavro.writer(stream, fastavro.parse_schema(CAPTURE_SCHEMA), records, codec="deflate")
    return stream.getvalue()


def _expected_columns(table: pa.Table) -> None:
    assert table["partition_key"].to_pylist() == ["customer-7", "pk", None, None]
    assert table["ce_id"].to_pylist() == ["kafka-0", "kafka-1", None, "kafka-3"]
    assert table["ce_source"].to_pylist() == ["/eda-lake/customer"] * 4
    assert table["ce_type"].to_pylist()[:3] == ["eda_lake.customer.CustomerCreated"] * 3
    assert table["schema_id"].to_pylist() == [SCHEMA_ID] * 4
    moment = datetime(2026, 11, 2, 9, 29, 59, 500000, tzinfo=UTC)
    assert table["ce_time"].to_pylist() == [moment, moment, moment, None]


def test_the_reader_takes_the_kafka_binding() -> None:
    batches = list(read_capture_batches(io.BytesIO(_kafka_file()), "kafka.avro"))
    _expected_columns(pa.Table.from_batches(batches))


def test_capture_inspect_reads_the_same_attributes() -> None:
    events = list(read_capture(io.BytesIO(_kafka_file()), "kafka.avro"))
    assert [e.partition_key for e in events] == ["customer-7", "pk", None, None]
    assert [e.schema_id() for e in events] == [SCHEMA_ID] * 4
    assert events[0].properties["ce_id"] == b"kafka-0"


def test_bronze_columns_from_kafka_producers(tmp_path: Path, layout: LakeLayout) -> None:
    root = tmp_path / "container"
    path = root / NAMES.render("kafka-ns", "customer-created", "0", WINDOW)
    path.parent.mkdir(parents=True)
    path.write_bytes(_kafka_file())
    report = ingest(layout, root)
    assert (report.files_ingested, report.rows, report.files_quarantined) == (1, 4, 0)
    rows = sorted(bronze_rows(layout), key=lambda r: r["sequence_number"])
    names = ["partition_key", "ce_id", "ce_source", "ce_type", "schema_id", "ce_time"]
    _expected_columns(pa.table({n: pa.array([r[n] for r in rows]) for n in names}))
    assert dict(rows[0]["properties"])["ce_id"]["bytes"] == b"kafka-0"  # kept as it came
    assert Quarantine(layout).quarantined_files() == {}
