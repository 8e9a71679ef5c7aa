"""Kafka as the backbone: publishing to a real broker (noida-db), and the Kafka capture
against the embedded capture on the same events, in the same run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from eda_lake.capture.runtime import run_capture
from eda_lake.settings import Broker, KafkaSettings, Settings
from eda_lake_tests.simulation.helpers import provisioned
from infra_scripts.kafka_broker import start_kafka_broker

KAFKA_CUSTOMERS = 100_000


def bench_kafka_publish() -> dict[str, float]:
    """CustomerCreated into Kafka from one process: encoding, CloudEvents headers, the
    idempotent acks=all producer, every delivery confirmed."""
    with tempfile.TemporaryDirectory() as home:
        broker = start_kafka_broker(Path(home) / "kafka")
        try:
            settings = Settings(
                home=Path(home), broker=Broker.KAFKA, kafka=KafkaSettings(broker.bootstrap_servers)
            )
            simulation = provisioned(settings)
            started = time.perf_counter()
            published = simulation.publish_customers(seed=1, count=KAFKA_CUSTOMERS)
            elapsed = time.perf_counter() - started
            simulation.close()
        finally:
            broker.stop()
    return {"events": published, "seconds": elapsed, "events_per_s": published / elapsed}


def bench_kafka_capture() -> dict[str, float]:
    """`capture run --flush` on the embedded hub and on Kafka, for the same seeded events."""
    seconds: dict[str, float] = {}
    events: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as home:
        broker = start_kafka_broker(Path(home) / "kafka")
        try:
            embedded = Settings(home=Path(home) / "embedded")
            kafka = Settings(
                home=Path(home) / "on-kafka",
                broker=Broker.KAFKA,
                kafka=KafkaSettings(broker.bootstrap_servers),
            )
            for label, settings in (("embedded", embedded), ("kafka", kafka)):
                simulation = provisioned(settings)
                simulation.publish_customers(seed=2, count=KAFKA_CUSTOMERS)
                simulation.close()
                started = time.perf_counter()
                events[label] = run_capture(settings, flush=True).events
                seconds[label] = time.perf_counter() - started
        finally:
            broker.stop()
    assert events["kafka"] == events["embedded"], events
    return {
        "events": events["kafka"],
        "embedded_s": seconds["embedded"],
        "kafka_s": seconds["kafka"],
        "ratio": seconds["kafka"] / seconds["embedded"],
    }
