"""The relay: sends in stored order, dead-letters what the hub refuses, keeps what it could
not send, prunes what was sent long ago."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest

from eda_lake.cli import main
from eda_lake.hub.base import EventData, HubNotFoundError
from eda_lake.hub.embedded import MAX_EVENT_BYTES
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings
from eda_lake.shared.cloudevents_names import ID_PROPERTY
from eda_lake.simulation.outbox import TeamStore
from eda_lake.simulation.relay import OUTBOX_ORIGIN_PREFIX, SENT_RETENTION
from eda_lake.simulation.runtime import Simulation


@pytest.fixture
def simulation(settings: Settings) -> Iterator[Simulation]:
    simulation = Simulation(settings)
    yield simulation
    simulation.close()


def _event(number: int, size: int = 10) -> EventData:
    return EventData(b"x" * size, {ID_PROPERTY: f"event-{number}"}, f"key-{number % 3}")


def _hub(simulation: Simulation) -> str:
    return simulation.catalogue.event("CustomerCreated").hub


def _store(simulation: Simulation, events: list[EventData]) -> TeamStore:
    store = simulation.stores["customer"]
    with store.transaction():
        store.enqueue((_hub(simulation), e) for e in events)
    return store


def _on_hub(simulation: Simulation) -> list[str]:
    hub = _hub(simulation)
    found = []
    for partition in simulation.hub.partition_ids(hub):
        for event in simulation.hub.read(hub, partition, None, 1000):  # type: ignore[attr-defined]
            found.append((event.partition_key, str(event.properties[ID_PROPERTY])))
    return [event_id for _, event_id in sorted(found, key=lambda f: (f[0], int(f[1][6:])))]


def test_a_refused_event_is_dead_lettered_and_the_rows_behind_it_go(
    settings: Settings,
    simulation: Simulation,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provision(settings)
    events = [_event(n) for n in range(6)]
    events[2] = _event(2, size=MAX_EVENT_BYTES + 1)
    store = _store(simulation, events)

    report = simulation.relay("customer")

    assert (report.sent, report.refused) == (5, 1)
    assert _on_hub(simulation) == [f"event-{n}" for n in (0, 3, 1, 4, 5)]  # order per key
    (letter,) = simulation.dead_letters.list("customer")
    assert letter.origin == OUTBOX_ORIGIN_PREFIX + _hub(simulation)
    assert "the hub refused it" in letter.reason and "over the" in letter.reason
    assert len(letter.body) == MAX_EVENT_BYTES + 1
    summary = store.summary()
    assert (summary.pending, summary.sent, summary.refused) == (0, 5, 1)
    monkeypatch.setenv("EDA_LAKE_HOME", str(settings.home))
    assert main(["dead-letters", "customer"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["replayable"] is False  # no subscriber reads it back: the team stores it again


def test_a_hub_out_of_reach_leaves_the_rows_pending_for_the_next_run(
    settings: Settings, simulation: Simulation
) -> None:
    store = _store(simulation, [_event(n) for n in range(4)])  # no hub provisioned yet

    with pytest.raises(HubNotFoundError):
        simulation.relay("customer")

    assert store.summary().pending == 4
    assert {row.attempts for row in store.pending(10)} == {1}
    provision(settings)
    assert simulation.relay("customer").sent == 4
    assert store.summary().pending == 0


def test_rows_sent_longer_ago_than_the_retention_are_pruned(
    settings: Settings, simulation: Simulation
) -> None:
    provision(settings)
    store = _store(simulation, [_event(n) for n in range(3)])
    simulation.relay("customer")
    long_ago = int(time.time() * 1000) - SENT_RETENTION.total_seconds() * 1000 - 1
    store.conn.execute("UPDATE outbox SET sent_at_ms = ? WHERE event_id = 'event-0'", (long_ago,))

    assert simulation.relay("customer").pruned == 1
    assert store.summary().sent == 2


def test_an_event_is_stored_in_the_outbox_once_and_only_inside_a_transaction(
    simulation: Simulation,
) -> None:
    store = _store(simulation, [_event(1), _event(2)])
    with store.transaction():
        assert store.enqueue([(_hub(simulation), _event(2)), (_hub(simulation), _event(3))]) == 1
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        store.enqueue([(_hub(simulation), _event(4))])
    assert store.summary().pending == 3


def test_a_failed_change_stores_none_of_its_events(simulation: Simulation) -> None:
    store = simulation.stores["customer"]
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as conn:
        store.enqueue([(_hub(simulation), _event(1))])
        conn.execute("INSERT INTO customers (customer_id) VALUES ('no other columns')")
    assert store.summary().pending == 0


def test_on_kafka_a_refused_event_is_dead_lettered_and_the_rows_behind_it_go(
    kafka_settings: Settings,
) -> None:
    provision(kafka_settings)
    simulation = Simulation(kafka_settings)
    try:
        events = [_event(n) for n in range(4)]
        events[1] = _event(1, size=2 * MAX_EVENT_BYTES)  # over the producer's message.max.bytes
        _store(simulation, events)
        report = simulation.relay("customer")
        assert (report.sent, report.refused) == (3, 1)
        (letter,) = simulation.dead_letters.list("customer")
        assert "refuses an event" in letter.reason and letter.sequence_number == 2
    finally:
        simulation.close()


def test_on_kafka_one_refused_row_among_many_sends_every_other_row_once(
    kafka_settings: Settings,
) -> None:
    """The producer refuses the bad row while the batches before it are still in flight:
    those are acknowledged and marked sent, and only the refused row's batch goes row by row."""
    provision(kafka_settings)
    simulation = Simulation(kafka_settings)
    try:
        simulation.publisher.batch_size = 10  # many batches in flight before the bad one
        events = [_event(n) for n in range(300)]
        events[254] = _event(254, size=2 * MAX_EVENT_BYTES)
        _store(simulation, events)
        report = simulation.relay("customer")
        assert (report.sent, report.refused) == (299, 1)
        on_hub: list[str] = []
        hub = _hub(simulation)
        for partition in simulation.hub.partition_ids(hub):
            while batch := simulation.hub.receive(hub, "counting", partition, 500):
                on_hub += [str(e.properties[ID_PROPERTY]) for e in batch]
                simulation.hub.checkpoint(hub, "counting", partition, batch[-1].sequence_number)
        assert sorted(on_hub) == sorted(f"event-{n}" for n in range(300) if n != 254)
    finally:
        simulation.close()
