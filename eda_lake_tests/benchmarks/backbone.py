"""Publishing into the embedded hub, and capture writing against fastavro's own writer."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import fastavro

from eda_lake.capture.embedded import EmbeddedCapture
from eda_lake.capture.envelope import PARSED_CAPTURE_SCHEMA, format_enqueued_time
from eda_lake.hub.base import ReceivedEvent
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import provisioned

PUBLISH_CUSTOMERS = 200_000


def fastavro_record(event: ReceivedEvent) -> dict[str, object]:
    return {
        "SequenceNumber": event.sequence_number,
        "Offset": str(event.offset),
        "EnqueuedTimeUtc": format_enqueued_time(event.enqueued_time),
        "SystemProperties": event.system_properties(),
        "Properties": dict(event.properties),
        "Body": event.body,
    }


def bench_publish() -> dict[str, float]:
    """CustomerCreated for a seeded population: generation, Avro encoding, CloudEvents
    envelope, Customer's store and outbox, the relay's batches and the hub's durable write,
    in one process."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        simulation = provisioned(settings)
        started = time.perf_counter()
        published = simulation.publish_customers(seed=1, count=PUBLISH_CUSTOMERS)
        elapsed = time.perf_counter() - started
        simulation.close()
    return {"events": published, "seconds": elapsed, "events_per_s": published / elapsed}


def bench_capture() -> dict[str, float]:
    """The embedded capture job (read the hub, write files) against fastavro.writer on the
    same records, already built in memory, in the same run."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        simulation = provisioned(settings)
        simulation.publish_customers(seed=2, count=PUBLISH_CUSTOMERS)
        hub = simulation.hub
        capture = EmbeddedCapture(
            hub, LakeLayout(settings.lake_dir).capture,  # type: ignore[arg-type]
            simulation.catalogue.capture, settings.hub_dir,
        )  # fmt: skip
        started = time.perf_counter()
        report = capture.run(flush=True)
        ours = time.perf_counter() - started

        spec = simulation.catalogue.event("CustomerCreated")
        records = [
            fastavro_record(e)
            for p in hub.partition_ids(spec.hub)
            for e in hub.read(spec.hub, p, None, 10**7)  # type: ignore[attr-defined]
        ]
        started = time.perf_counter()
        fastavro.writer(io.BytesIO(), PARSED_CAPTURE_SCHEMA, records, sync_interval=1 << 20)
        theirs = time.perf_counter() - started
        capture.close()
        simulation.close()
    return {
        "events": report.events,
        "capture_s": ours,
        "fastavro_writer_s": theirs,
        "ratio": ours / theirs,
    }
