"""Bench data: capture files shaped like the issue's: 4 partitions, ~400-byte bodies."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.writer import write_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import ReceivedEvent

NAMES = ArchiveNameFormat()
START = datetime(2026, 11, 1, tzinfo=UTC)


def write_bench_container(
    root: Path, events: int, files_per_partition: int = 2, partitions: int = 4
) -> list[Path]:
    """`events` CloudEvents with registry-shaped properties and random 400-byte bodies."""
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
                    envelope = CloudEvent(
                        id=f"{partition}-{sequence}",
                        source="/bench",
                        type="bench.Event",
                        time=moment,
                        subject=str(sequence % 1000),
                        dataschema="urn:eda-lake:schema:" + "a" * 32,
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
