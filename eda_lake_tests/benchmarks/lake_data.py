"""Bench data: capture files of our shape (4 partitions, 7 CloudEvents properties, random
~400-byte bodies) and a foreign producer's, as the README's Speed table names them."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.writer import write_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import ReceivedEvent
from eda_lake.shared.trace_context import root_context

NAMES = ArchiveNameFormat()
START = datetime(2026, 11, 1, tzinfo=UTC)


def write_bench_container(
    root: Path, events: int, files_per_partition: int = 2, partitions: int = 4
) -> list[Path]:
    """`events` CloudEvents with registry-shaped properties (a trace context among them, as
    every event eda-lake publishes carries) and random 400-byte bodies."""
    rng = random.Random(7)
    per_file = events // (partitions * files_per_partition)
    paths = []
    for partition in range(partitions):
        sequence = 0
        for index in range(files_per_partition):
            window = START + timedelta(minutes=5 * index)

            def generate(window: datetime = window, partition: int = partition) -> object:
                nonlocal sequence
                for _ in range(per_file):
                    moment = window + timedelta(milliseconds=sequence)
                    event_id = f"{partition}-{sequence}"
                    envelope = CloudEvent(
                        id=event_id,
                        source="/bench",
                        type="bench.Event",
                        time=moment,
                        subject=str(sequence % 1000),
                        dataschema="urn:eda-lake:schema:" + "a" * 32,
                        traceparent=root_context("/bench", event_id).traceparent(),
                    )
                    yield ReceivedEvent(
                        hub="bench",
                        partition_id=str(partition),
                        sequence_number=sequence,
                        offset=sequence * 480,
                        enqueued_time=moment,
                        partition_key=str(sequence % 1000),
                        content_type="avro/binary+" + "a" * 32,
                        properties=envelope.to_properties(),
                        body=rng.randbytes(400),
                    )
                    sequence += 1

            path = root / NAMES.render("bench-ns", "bench", str(partition), window)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as stream:
                write_capture(stream, generate(), "null")  # type: ignore[arg-type]
            paths.append(path)
    return paths


def write_foreign_container(
    root: Path, events: int, files_per_partition: int = 2, partitions: int = 4
) -> list[Path]:
    """Another producer's files, written by fastavro in Azure's envelope: two system and
    two user properties, ~400-byte JSON bodies (compressible, unlike ours), no CloudEvents."""
    import json

    import fastavro

    from eda_lake.capture.envelope import PARSED_CAPTURE_SCHEMA, format_enqueued_time

    rng = random.Random(11)
    per_file = events // (partitions * files_per_partition)
    paths = []
    for partition in range(partitions):
        sequence = 0
        for index in range(files_per_partition):
            window = START + timedelta(minutes=5 * index)

            def records(window: datetime = window) -> Iterator[dict[str, object]]:
                nonlocal sequence
                for _ in range(per_file):
                    moment = window + timedelta(milliseconds=sequence)
                    reading = {
                        "device": f"sensor-{sequence % 5000:05d}",
                        "site": rng.choice(["north", "south", "east", "west"]),
                        "readings": [round(rng.uniform(-20, 40), 3) for _ in range(40)],
                        "status": "ok" if sequence % 97 else "degraded",
                    }
                    yield {
                        "SequenceNumber": sequence,
                        "Offset": str(sequence * 520),
                        "EnqueuedTimeUtc": format_enqueued_time(moment),
                        "SystemProperties": {
                            "x-opt-enqueued-time": int(moment.timestamp() * 1000),
                            "x-opt-partition-key": reading["device"],
                        },
                        "Properties": {"source": "plant-7", "schema": "reading/v3"},
                        "Body": json.dumps(reading).encode(),
                    }
                    sequence += 1

            path = root / NAMES.render("their-ns", "telemetry", str(partition), window)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as stream:
                fastavro.writer(stream, PARSED_CAPTURE_SCHEMA, records(), codec="null")
            paths.append(path)
    return paths


# A foreign producer's event for silver to decode: several fields of different types.
METER_READING = {
    "type": "record",
    "name": "MeterReading",
    "namespace": "partner.metering",
    "fields": [
        {"name": "meter_id", "type": "string"},
        {"name": "read_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "kwh", "type": "double"},
        {"name": "voltage", "type": "float"},
        {"name": "phase", "type": "int"},
        {"name": "pulses", "type": "long"},
        {"name": "estimated", "type": "boolean"},
        {"name": "quality", "type": {"type": "enum", "name": "Quality",
                                     "symbols": ["GOOD", "SUSPECT", "BAD"]}},
        {"name": "firmware", "type": ["null", "string"], "default": None},
    ],
}  # fmt: skip
METER_EVENT = """
[[events]]
name = "MeterReading"
team = "platform"
hub = "meter-readings"
partition_key = "meter_id"
schema = "partner/MeterReading.avsc"
subscribers = []
"""


def schemas_with_meter_readings(directory: Path) -> Path:
    """The catalogue's schemas plus a foreign producer's MeterReading, in `directory`."""
    from eda_lake_tests.catalogues import schemas_with_event

    return schemas_with_event(directory, "partner/MeterReading.avsc", METER_READING, METER_EVENT)


def meter_readings(count: int) -> Iterator[object]:
    """`count` MeterReading events (OutgoingEvent) of one meter fleet."""
    from eda_lake.events.publisher import OutgoingEvent

    rng = random.Random(13)
    for n in range(count):
        moment = START + timedelta(seconds=n)
        yield OutgoingEvent(
            event="MeterReading",
            record={
                "meter_id": f"meter-{n % 20_000:05d}",
                "read_at": moment,
                "kwh": rng.uniform(0, 50),
                "voltage": rng.uniform(220, 240),
                "phase": n % 3,
                "pulses": rng.getrandbits(40),
                "estimated": n % 11 == 0,
                "quality": ("GOOD", "SUSPECT", "BAD")[n % 3],
                "firmware": None if n % 5 else "4.2.1",
            },
            id=f"reading-{n}",
            source="/partner/metering",
            time=moment,
        )
