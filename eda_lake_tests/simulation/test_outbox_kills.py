"""Teams killed where a change and its events could part: after the store's commit, after the
hub's acknowledgement, after a subscriber stored its reactions. After a restart, each team's
stored changes and the events on the hub correspond one to one (none missing, a repeat only
with the same id, and no event without a stored change), and so do the stored changes and the
silver event tables once the lake has captured, ingested and refined the hubs: there, a repeat
is gone, as silver keeps each event id once."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time
from collections import defaultdict
from dataclasses import replace
from multiprocessing.synchronize import Event
from typing import Any

import pytest
from deltalake import DeltaTable

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.kafka import KafkaEventHub, offset_of, to_received
from eda_lake.lake.derived.declarations import event_table
from eda_lake.lake.runtime import Lake
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.simulation.outbox import (
    AFTER_ACK,
    AFTER_COMMIT,
    AFTER_REACTIONS_STORED,
    team_store_file,
)
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.simulation.helpers import published

KILLED = 86  # the exit status of a worker ended at its step
CUSTOMERS = 600
PII_KEY = "a-key-for-the-killed-teams-lake"
PER_AGGREGATE = "catalogue-per-aggregate.toml"

# Each team's state table, its key, and the event reporting a row of it (keyed alike).
CHANGES = {
    "product": [("products", "product_id", "ProductUpdated")],
    "customer": [
        ("customers", "customer_id", "CustomerCreated"),
        ("purchases", "sale_id", "CustomerPurchased"),
    ],
    "conversions": [
        ("leads", "lead_id", "LeadGenerated"),
        ("abandoned", "customer_id", "LeadAbandoned"),
        ("sales", "sale_id", "SaleConfirmed"),
        ("purchased", "sale_id", "LeadPurchased"),
    ],
}


def _teams_at_work(
    settings: Settings, seed: int, kill_at: str | None, nth: int, ready: Event | None
) -> None:
    """The whole chain once; with `kill_at`, the process ends at that step's `nth` time."""
    reached: dict[str, int] = defaultdict(int)

    def on_step(step: str) -> None:
        reached[step] += 1
        if step == kill_at and reached[step] == nth:
            os._exit(KILLED)

    simulation = Simulation(settings, on_step=on_step)
    if ready is not None:
        ready.set()
    simulation.publish_products(seed=5)
    simulation.publish_customers(seed=seed, count=CUSTOMERS)
    conversions = simulation.subscriber("conversions")
    conversions.batch_size = 100
    conversions.run()
    simulation.drop_partner_files()
    simulation.ingest_partner_files()
    conversions.run()
    simulation.subscriber("customer").run()
    simulation.close()


def _in_a_process(settings: Settings, seed: int, kill_at: str | None = None, nth: int = 0) -> int:
    ctx = multiprocessing.get_context("spawn")
    worker = ctx.Process(target=_teams_at_work, args=(settings, seed, kill_at, nth, None))
    worker.start()
    worker.join(300)
    return worker.exitcode or 0


def _on_the_hub(
    settings: Settings, simulation: Simulation, event: str
) -> list[tuple[CloudEvent, dict[str, Any]]]:
    if settings.kafka is None:
        return published(simulation, event)
    hub = KafkaEventHub(settings.kafka, settings.namespace)
    spec = simulation.catalogue.event(event)
    topic = spec.hub
    found = []
    try:
        for partition in range(len(hub.partition_ids(topic))):
            start, end = hub.progress("test-reader", topic, partition)
            while start < end:
                messages = hub.read("test-reader", topic, partition, start, end, 5000)
                for received in map(to_received, messages):
                    envelope = CloudEvent.from_properties(received.properties)
                    if envelope.type != spec.cloudevents_type():  # the hub's other events
                        continue
                    record = simulation.decoder.decode(
                        received.body, content_type=received.content_type
                    )
                    found.append((envelope, record))
                start = offset_of(messages[-1]) + 1
    finally:
        hub.close()
    return found


def _in_silver(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Each event's (key, event id) rows in silver, after capturing every window (the open
    ones too), ingesting them into bronze and refining bronze into the silver event tables."""
    run_capture(settings, flush=True)
    lake = Lake(settings, pii_key=PII_KEY)
    lake.ingest()
    lake.silver()
    tables = lake.layout.existing_tables()
    found = {}
    for changes in CHANGES.values():
        for _, key, event in changes:
            rows = DeltaTable(tables[f"silver.{event_table(event)}"]).to_pyarrow_table(
                columns=[key, "event_id"]
            )
            found[event] = [(str(row[key]), row["event_id"]) for row in rows.to_pylist()]
    return found


def _assert_changes_and_events_correspond(settings: Settings) -> int:
    """Every stored change has its event on the hub and in silver, and every event its
    change; returns how many events are on the hub more than once (each time with the same
    id, and once in silver)."""
    simulation = Simulation(settings)
    silver = _in_silver(settings)
    repeats = 0
    try:
        for team, changes in CHANGES.items():
            store = sqlite3.connect(team_store_file(settings.simulation_dir, team))
            pending = store.execute(
                "SELECT COUNT(*) FROM outbox WHERE sent_at_ms IS NULL AND refused_at_ms IS NULL"
            ).fetchone()[0]
            assert pending == 0, f"{team} left {pending} events unsent"
            outbox_ids = {row[0] for row in store.execute("SELECT event_id FROM outbox")}
            for table, key, event in changes:
                stored = {str(row[0]) for row in store.execute(f"SELECT {key} FROM {table}")}
                ids_by_key: dict[str, set[str]] = defaultdict(set)
                copies = 0
                for envelope, record in _on_the_hub(settings, simulation, event):
                    ids_by_key[str(record[key])].add(envelope.id)
                    copies += 1
                assert set(ids_by_key) == stored, f"{event} on the hub and {team}.{table} differ"
                assert all(len(ids) == 1 for ids in ids_by_key.values()), f"{event}: two ids"
                assert set().union(*ids_by_key.values()) <= outbox_ids
                repeats += copies - len(ids_by_key)

                in_silver = silver[event]
                keys = [key_value for key_value, _ in in_silver]
                assert len(keys) == len(set(keys)), f"{event}: a change twice in silver"
                assert set(keys) == stored, f"{event} in silver and {team}.{table} differ"
                on_the_hub = {k: next(iter(ids)) for k, ids in ids_by_key.items()}
                assert dict(in_silver) == on_the_hub, f"{event}: other ids in silver"
            store.close()
    finally:
        simulation.close()
    return repeats


STEPS = [
    (AFTER_COMMIT, 1),  # Product's catalogue stored, nothing sent
    (AFTER_COMMIT, 2),  # Customer's first sign-ups stored, nothing sent
    (AFTER_ACK, 1),  # the catalogue on the hub, its rows not marked sent
    (AFTER_ACK, 3),  # Conversions' first reactions on the hub, not marked sent
    (AFTER_REACTIONS_STORED, 2),  # reactions stored, the partition not checkpointed
]


@pytest.mark.parametrize(("step", "nth"), STEPS)
def test_killed_at_a_step_then_restarted(settings: Settings, step: str, nth: int) -> None:
    _killed_at_a_step_then_restarted(settings, step, nth)


@pytest.mark.parametrize(("step", "nth"), STEPS)
def test_killed_at_a_step_with_hubs_per_aggregate_then_restarted(
    settings: Settings, step: str, nth: int
) -> None:
    _killed_at_a_step_then_restarted(replace(settings, catalogue_file=PER_AGGREGATE), step, nth)


def _killed_at_a_step_then_restarted(settings: Settings, step: str, nth: int) -> None:
    provision(settings)
    assert _in_a_process(settings, seed=5, kill_at=step, nth=nth) == KILLED
    assert _in_a_process(settings, seed=5) == 0  # the restart runs to the end
    repeats = _assert_changes_and_events_correspond(settings)
    if step == AFTER_ACK:
        assert repeats > 0  # the acknowledged batch went again, with its ids


def test_nothing_killed_sends_each_event_once(settings: Settings) -> None:
    provision(settings)
    assert _in_a_process(settings, seed=5) == 0
    assert _assert_changes_and_events_correspond(settings) == 0


def _killed_at_random_moments(settings: Settings) -> None:
    provision(settings)
    ctx = multiprocessing.get_context("spawn")

    def at_work(seed: int) -> multiprocessing.process.BaseProcess:
        """The teams' worker, past its start-up."""
        ready = ctx.Event()
        worker = ctx.Process(target=_teams_at_work, args=(settings, seed, None, 0, ready))
        worker.start()
        ready.wait(120)
        return worker

    # How long the teams work on this machine, now: the kills fall within it, however fast
    # or loaded the machine is.
    worker, started = at_work(99), time.monotonic()
    worker.join()
    assert worker.exitcode == 0
    span = time.monotonic() - started
    rng = random.Random(20)
    killed = rounds = 0
    while killed < 32 and rounds < 64:
        worker = at_work(100 + rounds)
        worker.join(rng.uniform(0, span))  # somewhere in storing, relaying or reacting
        if worker.is_alive():
            os.kill(worker.pid or 0, signal.SIGKILL)
            killed += 1
        worker.join()
        rounds += 1
    assert killed >= 30, f"only {killed} workers were still at work when killed"
    assert _in_a_process(settings, seed=999) == 0  # the last restart runs to the end
    _assert_changes_and_events_correspond(settings)


@pytest.mark.slow
def test_sigkill_at_random_moments_on_the_embedded_hub(settings: Settings) -> None:
    _killed_at_random_moments(settings)


@pytest.mark.slow
def test_sigkill_at_random_moments_on_kafka(kafka_settings: Settings) -> None:
    _killed_at_random_moments(kafka_settings)


@pytest.mark.parametrize(
    ("step", "nth"), [(AFTER_COMMIT, 2), (AFTER_ACK, 3), (AFTER_REACTIONS_STORED, 2)]
)
def test_killed_at_a_step_on_kafka_then_restarted(
    kafka_settings: Settings, step: str, nth: int
) -> None:
    _killed_at_a_step_then_restarted(kafka_settings, step, nth)
