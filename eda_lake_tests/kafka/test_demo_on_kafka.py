"""The whole demo on Kafka: the same gold as on the embedded hub; bad messages dead-lettered."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from eda_lake.demo import run_demo
from eda_lake.hub.kafka import KafkaEventHub
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.kafka.helpers import tables

SEED, CUSTOMERS = 17, 150


@pytest.mark.parametrize("catalogue_file", ["catalogue.toml", "catalogue-per-aggregate.toml"])
def test_the_demo_on_kafka_gives_the_embedded_hubs_gold(
    settings: Settings, kafka_env: Settings, catalogue_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a topic per event or per aggregate, the gold of the embedded hub's topic per event."""
    embedded = replace(settings, home=settings.home.with_name("embedded_home"))
    expected = run_demo(embedded, customers=CUSTOMERS, seed=SEED)
    monkeypatch.setenv("EDA_LAKE_CATALOGUE_FILE", catalogue_file)
    kafka_env = replace(kafka_env, catalogue_file=catalogue_file)
    result = subprocess.run(  # the command a user runs, configured by the environment alone
        [sys.executable, "-m", "eda_lake.cli", "demo", "--seed", str(SEED),
         "--customers", str(CUSTOMERS)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    gold = tables(kafka_env, "gold")
    assert set(gold) == {"funnel_daily", "time_to_convert", "abandoned_customers", "sales_daily"}
    assert gold == tables(embedded, "gold")
    assert gold["funnel_daily"] == expected.funnel.sort_by(
        [(n, "ascending") for n in expected.funnel.schema.names]
    )
    assert kafka_env.kafka is not None
    hub = KafkaEventHub(kafka_env.kafka, kafka_env.namespace)
    topics = {h.name: h.partitions for h in hub.hubs()}
    hub.close()
    catalogue = Simulation(kafka_env).catalogue
    assert topics == {h.name: h.partitions for h in catalogue.hubs.values()}  # one per hub


def test_bad_messages_are_dead_lettered_with_reasons_and_the_partition_flows_on(
    kafka_settings: Settings,
) -> None:
    provision(kafka_settings)
    simulation = Simulation(kafka_settings)
    simulation.publish_products(seed=4)
    simulation.subscriber("conversions").run()  # the catalogue first
    assert kafka_settings.kafka is not None
    producer = Producer({"bootstrap.servers": kafka_settings.kafka.bootstrap_servers})
    good = dict(
        ce_id=b"bad-3", ce_source=b"/partner", ce_specversion=b"1.0",
        ce_type=b"eda_lake.customer.CustomerCreated", ce_time=b"2026-10-01T00:00:00Z",
    )  # fmt: skip
    hub = simulation.catalogue.event("CustomerCreated").hub
    for partition in range(4):  # the same bad input in every partition, between good events
        simulation.publish_customers(seed=10 + partition, count=20)
        producer.produce(hub, b"no headers at all", partition=partition)
        wrong = good | {"ce_id": b"bad-2", "ce_time": b"\xff\xfe not text"}
        producer.produce(hub, b"x", partition=partition, headers=list(wrong.items()))
        undecodable: list[tuple[str, str | bytes | None]] = [
            *good.items(),
            ("content-type", b"avro/binary+" + b"0" * 32),
        ]
        producer.produce(hub, b"\xff\x00garbage", partition=partition, headers=undecodable)
    assert producer.flush(30) == 0
    simulation.publish_customers(seed=20, count=40)
    report = simulation.subscriber("conversions").run()
    assert report.dead_lettered == 12 and report.received == 80 + 40 + 12
    reasons = [letter.reason for letter in simulation.dead_letters.list("conversions")]
    assert sum("not a CloudEvent: missing attribute" in r for r in reasons) == 4
    assert sum("CloudEvents time" in r and "not RFC 3339" in r for r in reasons) == 4
    assert sum("0" * 32 in r for r in reasons) == 4  # the schema id it named is unknown
    assert simulation.events_received() >= 132  # every partition committed past the bad ones
    simulation.close()
