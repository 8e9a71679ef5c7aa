"""A team's subscriber on Kafka, SIGKILLed at random moments and restarted at once."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import defaultdict

from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.kafka import KafkaEventHub, offset_of, to_received
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.kafka.helpers import group_members


def _published(settings: Settings, event: str) -> list[tuple[str, str]]:
    """(CloudEvents id, customer id) of every message of an event's topic."""
    simulation = Simulation(settings)
    assert settings.kafka is not None
    hub = KafkaEventHub(settings.kafka, settings.namespace)
    spec = simulation.catalogue.event(event)
    found = []
    for partition in range(len(hub.partition_ids(spec.hub))):
        start, end = hub.progress("test-reader", spec.hub, partition)
        while start < end:
            messages = hub.read("test-reader", spec.hub, partition, start, end, 5000)
            for received in map(to_received, messages):
                envelope = CloudEvent.from_properties(received.properties)
                record = simulation.decoder.decode(
                    received.body, content_type=received.content_type
                )
                found.append((envelope.id, str(record["customer_id"])))
            start = offset_of(messages[-1]) + 1
    hub.close()
    simulation.close()
    return found


def _subscribe(settings: Settings) -> None:
    simulation = Simulation(settings)
    subscriber = simulation.subscriber("conversions")
    subscriber.batch_size = 100
    subscriber.run()
    simulation.close()


def _progress(settings: Settings) -> int:
    simulation = Simulation(settings)
    try:
        return simulation.events_received()
    finally:
        simulation.close()


def test_sigkilled_subscriber_restarts_at_once_and_loses_nothing(kafka_settings: Settings) -> None:
    provision(kafka_settings)
    simulation = Simulation(kafka_settings)
    simulation.publish_products(seed=31)
    simulation.publish_customers(seed=31, count=3000)
    simulation.close()
    assert kafka_settings.kafka is not None
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(31)
    killed = 0
    for _ in range(3):
        before = _progress(kafka_settings)
        worker = ctx.Process(target=_subscribe, args=(kafka_settings,))
        worker.start()
        deadline = time.monotonic() + 60
        while _progress(kafka_settings) == before and worker.is_alive():
            assert time.monotonic() < deadline, "the subscriber committed nothing within 60 s"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        # Its consumers read and commit as no member of their groups: the SIGKILL leaves
        # none behind that the next subscriber's rebalance would wait on.
        members = group_members(kafka_settings.kafka.bootstrap_servers)
        assert members and not any(members.values()), members
        os.kill(worker.pid or 0, signal.SIGKILL)  # its consumer never says goodbye
        worker.join()
        killed += worker.exitcode == -signal.SIGKILL
    assert killed >= 2, "the subscriber finished before it could be killed: give it more work"
    _subscribe(kafka_settings)
    customers = {c for _, c in _published(kafka_settings, "CustomerCreated")}
    reactions: dict[str, set[str]] = defaultdict(set)
    for event in ("LeadGenerated", "LeadAbandoned"):
        for event_id, customer in _published(kafka_settings, event):
            reactions[customer].add(event_id)
    assert set(reactions) == customers  # nothing lost
    assert all(len(ids) == 1 for ids in reactions.values())  # a repeat carries the same id
