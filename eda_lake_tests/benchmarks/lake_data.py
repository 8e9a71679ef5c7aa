"""Bench data: capture files shaped like the issue's: 4 partitions, ~400-byte bodies."""

from __future__ import annotations

import random
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
