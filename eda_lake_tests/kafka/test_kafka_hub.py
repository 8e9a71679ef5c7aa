"""The Kafka adapter against a real broker: topics, keys, headers, offsets, resume, restarts."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from eda_lake.hub import kafka
from eda_lake.hub.base import (
    ConsumerGroupSpec,
    EventData,
    EventRefusedError,
    HubNotFoundError,
    HubSpec,
)
from eda_lake.hub.kafka import BrokerUnavailableError, KafkaEventHub, _Delivery
from eda_lake.settings import KafkaSettings
from eda_lake_tests.kafka.helpers import group_members
from infra_scripts.kafka_broker import KafkaBroker

NAMESPACE = "eda-lake-test"


def _topic() -> str:
    return f"orders-{uuid.uuid4().hex[:8]}"  # unique, so a shared cluster is no problem


def _hub(bootstrap: str, topic: str | None = None, timeout: float = 30.0) -> KafkaEventHub:
    hub = KafkaEventHub(KafkaSettings(bootstrap), NAMESPACE, timeout=timeout)
    if topic is not None:
        hub.ensure_hub(HubSpec(topic, 4, 7))
        hub.ensure_consumer_group(ConsumerGroupSpec(topic, "billing", "team: billing"))
    return hub


def _events(count: int, start: int = 0) -> list[EventData]:
    return [
        EventData(
            f"body {i}".encode(),
            {"cloudEvents_id": f"id-{i}", "cloudEvents_source": "/test", "n": i, "raw": b"\x00"},
            partition_key=f"key-{i % 10}",
            content_type="avro/binary+abc",
        )
        for i in range(start, start + count)
    ]


def _drain(hub: KafkaEventHub, topic: str, group: str = "billing") -> list[int]:
    seen = []
    for partition in hub.partition_ids(topic):
        while batch := hub.receive(topic, group, partition, 70):
            seen += [int(e.body.split()[1]) for e in batch]
            hub.checkpoint(topic, group, partition, batch[-1].sequence_number)
    return seen


def test_topics_are_created_checked_and_drift_refused(kafka_bootstrap: str) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap)
    assert hub.ensure_hub(HubSpec(topic, 4, 7)) is True
    assert hub.ensure_hub(HubSpec(topic, 4, 7)) is False
    assert HubSpec(topic, 4, 7) in hub.hubs()
    assert hub.ensure_hub(HubSpec(topic, 4, 3)) is True  # retention follows the catalogue
    assert HubSpec(topic, 4, 3) in hub.hubs()
    with pytest.raises(ValueError, match="has 4 partitions, the catalogue says 8"):
        hub.ensure_hub(HubSpec(topic, 8, 3))
    group = ConsumerGroupSpec(topic, "billing", "team: billing")
    assert hub.ensure_consumer_group(group) is True
    assert hub.ensure_consumer_group(group) is False
    assert hub.consumer_groups(topic) == [group]
    with pytest.raises(HubNotFoundError, match="provision it first"):
        hub.send("no-such-topic", _events(1))
    hub.close()


def test_round_trip_keeps_keys_headers_partitions_and_offsets(kafka_bootstrap: str) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)
    assert hub.send(topic, _events(200)) == 200
    partition_of_key: dict[str, str] = {}
    for partition in hub.partition_ids(topic):
        batch = hub.receive(topic, "billing", partition, 1000)
        assert [e.sequence_number for e in batch] == list(range(len(batch)))  # gapless offsets
        for event in batch:
            n = int(event.body.split()[1])
            assert event.partition_key == f"key-{n % 10}"
            assert partition_of_key.setdefault(event.partition_key, partition) == partition
            assert event.content_type == "avro/binary+abc"
            assert dict(event.properties) == {
                "cloudEvents_id": f"id-{n}",
                "cloudEvents_source": "/test",
                "n": str(n).encode(),  # headers are bytes: non-CloudEvents ones stay bytes
                "raw": b"\x00",
            }
            assert event.offset == event.sequence_number
    assert len(partition_of_key) == 10
    hub.close()


def test_batches_sent_while_others_are_acknowledged_all_arrive_in_order(
    kafka_bootstrap: str,
) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)
    batches = [(topic, _events(size, start)) for start, size in ((0, 50), (50, 1), (51, 149))]
    assert list(hub.send_batches(batches)) == [(topic, 50), (topic, 1), (topic, 149)]
    per_partition = {
        p: [int(e.body.split()[1]) for e in hub.receive(topic, "billing", p, 1000)]
        for p in hub.partition_ids(topic)
    }
    assert sorted(n for ns in per_partition.values() for n in ns) == list(range(200))
    assert all(ns == sorted(ns) for ns in per_partition.values())  # each key's order kept
    hub.close()


def test_a_caller_that_fails_midway_leaves_what_it_handed_over_delivered(
    kafka_bootstrap: str,
) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)

    def batches() -> Iterator[tuple[str, list[EventData]]]:
        yield topic, _events(30)  # on its way when the caller fails
        raise ValueError("a record that does not fit")

    with pytest.raises(ValueError, match="does not fit"):
        for _ in hub.send_batches(batches()):
            pass
    # Acknowledged before the error went on: nothing waits in the producer, not even the
    # broker's answers (the producer counts those until they are served).
    assert len(hub._producer(topic)) == 0
    assert sorted(_drain(_hub(kafka_bootstrap), topic)) == list(range(30))
    hub.close()


class _Recorded(KafkaEventHub):
    """The adapter with its producer replaced by a log of what `send_batches` asks of it."""

    def __init__(self) -> None:
        super().__init__(KafkaSettings("127.0.0.1:1"), NAMESPACE)
        self.log: list[str] = []

    def _produce(self, hub: str, events: Sequence[EventData], partition_id: str | None) -> Any:
        self.log.append(f"produce {hub}")
        return _Delivery(hub, None, len(events))

    def _acknowledged(self, delivery: Any) -> int:
        self.log.append(f"ack {delivery.hub}")
        return int(delivery.expected)


def test_send_batches_acknowledges_each_batch_once_whatever_the_caller_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches = [("a", _events(1)), ("b", _events(2)), ("c", _events(3))]
    hub = _Recorded()
    assert list(hub.send_batches(batches)) == [("a", 1), ("b", 2), ("c", 3)]
    assert hub.log == ["produce a", "produce b", "produce c", "ack a", "ack b", "ack c"]
    monkeypatch.setattr(kafka, "IN_FLIGHT_BATCHES", 1)
    one_ahead = _Recorded()
    assert list(one_ahead.send_batches(batches)) == [("a", 1), ("b", 2), ("c", 3)]
    assert one_ahead.log == ["produce a", "produce b", "ack a", "produce c", "ack b", "ack c"]
    stopped = _Recorded()
    sending = stopped.send_batches(batches)
    next(sending)
    sending.close()  # the caller stopped while "b" was on its way
    assert stopped.log == ["produce a", "produce b", "ack a", "ack b"]


class _RefusingRecorded(_Recorded):
    """The recorded adapter whose producer refuses the batch for hub "refused"."""

    def _produce(self, hub: str, events: Sequence[EventData], partition_id: str | None) -> Any:
        if hub == "refused":
            self.log.append(f"refuse {hub}")
            raise EventRefusedError("an event larger than the topic takes")
        return super()._produce(hub, events, partition_id)


def test_a_refused_batch_is_raised_after_every_batch_before_it_is_reported() -> None:
    batches = [("a", _events(1)), ("b", _events(2)), ("refused", _events(3)), ("c", _events(1))]
    hub = _RefusingRecorded()
    reported = []
    with pytest.raises(EventRefusedError, match="larger than the topic takes"):
        for acknowledged in hub.send_batches(batches):
            reported.append(acknowledged)
    assert reported == [("a", 1), ("b", 2)]  # the refused batch is the first not reported
    assert hub.log == ["produce a", "produce b", "refuse refused", "ack a", "ack b"]


def test_a_caller_that_stops_after_an_acknowledgement_leaves_nothing_in_flight(
    kafka_bootstrap: str,
) -> None:
    """Its progress callback failed, or the run was cancelled, while the next batch was on
    its way: that batch is acknowledged before the sending ends."""
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)
    sending = hub.send_batches([(topic, _events(20)), (topic, _events(20, 20))])
    assert next(sending) == (topic, 20)
    sending.close()
    assert len(hub._producer(topic)) == 0
    assert sorted(_drain(_hub(kafka_bootstrap), topic)) == list(range(40))
    hub.close()


def test_checkpoints_resume_and_a_sweep_stops_at_the_end_it_saw(kafka_bootstrap: str) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)
    hub.send(topic, _events(100), partition_id="0")
    first = hub.receive(topic, "billing", "0", 30)
    assert hub.receive(topic, "billing", "0", 30) == first  # not checkpointed: the same again
    hub.checkpoint(topic, "billing", "0", first[-1].sequence_number)
    hub.send(topic, _events(50, start=100), partition_id="0")  # arrives during the sweep
    rest = []
    while batch := hub.receive(topic, "billing", "0", 30):
        rest += batch
        hub.checkpoint(topic, "billing", "0", batch[-1].sequence_number)
    assert len(first) + len(rest) == 100  # the sweep ended where it began
    assert hub.checkpoint_of(topic, "billing", "0") == 99
    resumed = _hub(kafka_bootstrap)  # another client resumes after the committed offset
    assert [int(e.body.split()[1]) for e in resumed.receive(topic, "billing", "0", 100)] == list(
        range(100, 150)
    )
    hub.close()
    resumed.close()


def _consume_forever(bootstrap: str, topic: str) -> None:
    hub = _hub(bootstrap)
    while True:
        for partition in hub.partition_ids(topic):
            batch = hub.receive(topic, "billing", partition, 5)
            if batch:
                hub.checkpoint(topic, "billing", partition, batch[-1].sequence_number)
        time.sleep(0.01)


def test_two_subscribers_share_a_group_and_a_sigkilled_one_is_not_waited_on(
    kafka_bootstrap: str,
) -> None:
    topic = _topic()
    hub = _hub(kafka_bootstrap, topic)
    hub.send(topic, _events(2000))
    ghost = multiprocessing.get_context("spawn").Process(
        target=_consume_forever, args=(kafka_bootstrap, topic)
    )
    ghost.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        hub.checkpoint_of(topic, "billing", p) for p in hub.partition_ids(topic)
    ):
        time.sleep(0.05)
    # Reading and committing, it is no member of the group: a SIGKILL leaves no member
    # behind that a rebalance would wait on until the broker evicted it.
    assert group_members(kafka_bootstrap)["billing"] == 0
    os.kill(ghost.pid or 0, signal.SIGKILL)
    ghost.join()
    other = _hub(kafka_bootstrap)
    seen = _drain(other, topic)
    assert group_members(kafka_bootstrap)["billing"] == 0
    committed = {p: hub.checkpoint_of(topic, "billing", p) for p in hub.partition_ids(topic)}
    assert 0 < len(seen) < 2000  # the killed one did part of the work ...
    assert sum((c or -1) + 1 for c in committed.values()) == 2000  # ... and nothing is lost
    hub.close()
    other.close()


def test_data_and_offsets_survive_a_broker_restart(kafka_broker: KafkaBroker) -> None:
    topic = _topic()
    hub = _hub(kafka_broker.bootstrap_servers, topic)
    hub.send(topic, _events(300))
    first = _drain(hub, topic)
    hub.close()
    kafka_broker.wait_until_saved(
        lambda saved: saved.messages(topic) == saved.consumed("billing", topic) == 300
    )
    kafka_broker.restart()
    hub = _hub(kafka_broker.bootstrap_servers)
    assert _drain(hub, topic) == []  # resumed after the committed offsets
    hub.send(topic, _events(100, start=300))
    assert sorted(first + _drain(hub, topic)) == list(range(400))
    hub.close()


def test_a_broker_gone_is_one_clear_error_and_nothing_is_committed(
    kafka_broker: KafkaBroker,
) -> None:
    topic = _topic()
    hub = _hub(kafka_broker.bootstrap_servers, topic, timeout=3)
    hub.send(topic, _events(10), partition_id="0")
    batch = hub.receive(topic, "billing", "0", 100)
    kafka_broker.wait_until_saved(lambda saved: saved.messages(topic) == 10)
    kafka_broker.stop()
    with pytest.raises(BrokerUnavailableError, match=r"Kafka at 127\.0\.0\.1:\d+ failed") as err:
        hub.checkpoint(topic, "billing", "0", batch[-1].sequence_number)
    assert "\n" not in str(err.value)
    with pytest.raises(BrokerUnavailableError, match="not delivered"):
        hub.send(topic, _events(5))
    with pytest.raises(BrokerUnavailableError, match="not delivered"):
        list(hub.send_batches([(topic, _events(5)), (topic, _events(5, 5))]))
    hub.close()
    kafka_broker.start()
    assert _hub(kafka_broker.bootstrap_servers).checkpoint_of(topic, "billing", "0") is None


def test_the_factory_picks_kafka_from_the_environment(tmp_path: Path) -> None:
    from eda_lake.hub.factory import make_hub_admin, make_hub_client
    from eda_lake.settings import Settings

    settings = Settings.from_env(
        {"EDA_LAKE_BROKER": "kafka", "EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    )
    assert isinstance(make_hub_client(settings), KafkaEventHub)
    assert isinstance(make_hub_admin(settings), KafkaEventHub)
