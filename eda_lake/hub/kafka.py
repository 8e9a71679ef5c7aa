"""The event hub on Kafka (Apache Kafka, or Event Hubs' Kafka endpoint), over confluent-kafka.

One topic per hub, named as the hub; a consumer group per subscribing team and `datalake`
for the capture; committed offsets are the checkpoints, and Kafka offsets the sequence
numbers. Messages follow the CloudEvents Kafka binding (`eda_lake.hub.kafka_binding`).

Sending: an idempotent producer with `acks=all`; `send` returns only once the broker has
acknowledged every message of the batch, and raises if any failed. Keys are placed with
murmur2, Kafka's Java client's partitioner, so any other Kafka producer puts a key where
this one does.

Receiving: one long-lived consumer per consumer group, which assigns partitions itself from
the group's committed offsets instead of joining the group: a SIGKILLed process's ghost
member keeps subscribed partitions until the broker evicts it (noida-db did not within
150 s), and an assigned consumer never waits on it. A sweep over a partition reads up to the
end offset seen when the sweep began and then reports it empty, as the embedded hub does.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import (  # not re-exported for type checkers
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)
from confluent_kafka.cimpl import NewTopic

from eda_lake.hub.base import (
    Batch,
    ConsumerGroupSpec,
    EventData,
    EventRefusedError,
    HubError,
    HubNotFoundError,
    HubSpec,
    ReceivedEvent,
    ms_to_datetime,
)
from eda_lake.hub.kafka_binding import from_message, to_headers
from eda_lake.settings import KAFKA_BOOTSTRAP_VAR, KafkaSettings

DAY_MS = 86_400_000
# Batches handed to the producer before the oldest must be acknowledged. Brokers answer in
# bursts (noida-db when it saves, about twice a second; a far cluster after its round trip):
# 64 batches of the Publisher's 500 events keep about a second of work on its way.
IN_FLIGHT_BATCHES = 64
_log = logging.getLogger("eda_lake.kafka")


class BrokerUnavailableError(HubError):
    """The Kafka cluster did not answer in time, or refused what was asked."""


# Answers that refuse a message as it is: sending it again cannot succeed.
_REFUSALS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD})


def client_config(
    settings: KafkaSettings, hub: str | None = None, timeout: float = 30.0
) -> dict[str, Any]:
    """librdkafka settings to reach the cluster; `hub` picks its own SASL password if set.
    `timeout` bounds every request, so a cluster gone away is an error, not a hang."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
        "socket.timeout.ms": max(100, int(timeout * 1000)),
        "logger": _log,  # librdkafka's own lines go to logging, not to stderr
    }
    if settings.sasl_mechanism is not None:
        config["sasl.mechanism"] = settings.sasl_mechanism
        if settings.sasl_username is not None:
            config["sasl.username"] = settings.sasl_username
        password = settings.hub_passwords.get(hub or "", settings.sasl_password)
        if password is not None:
            config["sasl.password"] = password
    return config


@dataclass
class _Sweep:
    """Where a consumer group is in one partition during this client's life."""

    committed: int  # next offset to hand out: the checkpoint + 1 (or the log start)
    metadata: str  # the group's commit metadata, kept on every commit
    end: int | None = None  # end offset seen when the current sweep began


class _Delivery:
    """The broker's answers to the messages of one batch, as the producer hands them over."""

    def __init__(self, hub: str, producer: Any, expected: int) -> None:
        self.hub = hub
        self.producer = producer
        self.expected = expected
        self.delivered = 0
        self.failures: list[KafkaError] = []

    @property
    def answered(self) -> int:
        return self.delivered + len(self.failures)

    def on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failures.append(error)


@dataclass
class _GroupReader:
    consumer: Any
    commits: list[tuple[KafkaError | None, list[Any]]]  # answers to this reader's commits
    sweeps: dict[tuple[str, int], _Sweep] = field(default_factory=dict)
    assigned: tuple[str, int] | None = None
    position: int | None = None  # the consumer's next offset in `assigned`


def _raise_for(error: KafkaError, what: str, servers: str) -> NoReturn:
    code = error.code()
    if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
        raise HubNotFoundError(f"{what}: {error.str()}; provision it first (eda-lake provision)")
    raise BrokerUnavailableError(
        f"Kafka at {servers} failed {what}: {error.str()}; check that the cluster is up and "
        f"{KAFKA_BOOTSTRAP_VAR} and the security variables are right"
    )


class KafkaEventHub:
    """Implements `EventHubAdmin` and `EventHubClient` over a Kafka cluster."""

    def __init__(self, settings: KafkaSettings, namespace: str, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.namespace = namespace  # names capture files, as an Event Hubs namespace does
        self.timeout = timeout
        self._producers: dict[str, Any] = {}
        self._readers: dict[tuple[str, str], _GroupReader] = {}
        self._admins: dict[str, Any] = {}
        self._partition_counts: dict[str, int] = {}

    def _credential(self, hub: str | None) -> str:
        """Which client a hub uses: its own when it has its own password, else the shared."""
        return hub if hub is not None and hub in self.settings.hub_passwords else ""

    def close(self) -> None:
        for reader in self._readers.values():
            reader.consumer.close()
        for producer in self._producers.values():
            producer.flush(self.timeout)
        self._readers.clear()
        self._producers.clear()
        self._admins.clear()

    # management -------------------------------------------------------------------------

    def _admin(self, hub: str | None = None) -> Any:
        key = self._credential(hub)
        admin = self._admins.get(key)
        if admin is None:
            admin = self._admins[key] = AdminClient(client_config(self.settings, hub, self.timeout))
        return admin

    def _metadata(self, hub: str | None = None) -> Any:
        """The cluster's metadata (all topics: asking for one would auto-create it)."""
        try:
            return self._admin(hub).list_topics(timeout=self.timeout)
        except KafkaException as exc:
            _raise_for(exc.args[0], "listing topics", self.settings.bootstrap_servers)

    def _retention_days(self, topics: list[str]) -> dict[str, int]:
        if not topics:
            return {}
        resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics]
        found: dict[str, int] = {}
        for resource, future in self._admin().describe_configs(resources).items():
            try:
                entry = future.result(self.timeout).get("retention.ms")
            except KafkaException as exc:
                _raise_for(exc.args[0], f"describing topic {resource.name}", self._servers)
            if entry is not None and entry.value is not None and int(entry.value) > 0:
                found[resource.name] = max(1, int(entry.value) // DAY_MS)
        return found

    @property
    def _servers(self) -> str:
        return self.settings.bootstrap_servers

    def hubs(self) -> list[HubSpec]:
        topics = {
            name: len(meta.partitions)
            for name, meta in self._metadata().topics.items()
            if not name.startswith("__") and meta.error is None
        }
        retention = self._retention_days(sorted(topics))
        return [
            HubSpec(name, count, retention.get(name, 0)) for name, count in sorted(topics.items())
        ]

    def ensure_hub(self, spec: HubSpec) -> bool:
        """Create the topic, or set its retention. A topic whose partition count differs is
        drift that this refuses to repair: more partitions re-map keys, fewer are impossible."""
        current = next((h for h in self.hubs() if h.name == spec.name), None)
        retention = {"retention.ms": str(spec.retention_days * DAY_MS)}
        if current is None:
            replicas = min(3, len(self._metadata().brokers))
            topic = NewTopic(spec.name, spec.partitions, replicas, config=retention)
            future = self._admin(spec.name).create_topics([topic])[spec.name]
            try:
                future.result(self.timeout)
            except KafkaException as exc:
                _raise_for(exc.args[0], f"creating topic {spec.name}", self._servers)
            self._wait_for_topic(spec.name)
            return True
        if current.partitions != spec.partitions:
            raise ValueError(
                f"topic {spec.name} has {current.partitions} partitions, the catalogue says "
                f"{spec.partitions}: Kafka cannot remove partitions and adding some re-maps "
                "keys; create a new hub (topic) or put the catalogue back"
            )
        if current.retention_days == spec.retention_days:
            return False
        entry = ConfigEntry("retention.ms", retention["retention.ms"],
                            incremental_operation=AlterConfigOpType.SET)  # fmt: skip
        resource = ConfigResource(ConfigResource.Type.TOPIC, spec.name, incremental_configs=[entry])
        try:
            future = self._admin(spec.name).incremental_alter_configs([resource])[resource]
            future.result(self.timeout)
        except KafkaException as exc:
            _raise_for(exc.args[0], f"setting retention of {spec.name}", self._servers)
        return True

    def _wait_for_topic(self, topic: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            meta = self._metadata().topics.get(topic)
            if meta is not None and meta.error is None and meta.partitions:
                return
            time.sleep(0.05)
        raise BrokerUnavailableError(
            f"topic {topic} was created but not listed within {self.timeout} s"
        )

    def ensure_consumer_group(self, spec: ConsumerGroupSpec) -> bool:
        """Kafka has no group resource: a group exists once it has committed offsets. This
        commits the log start of every partition the group has no offset for yet, with the
        group's description as commit metadata, which every later commit keeps."""
        partitions = self._partitions(spec.hub)
        reader = self._reader(spec.name, spec.hub)
        consumer = reader.consumer
        wanted = [TopicPartition(spec.hub, p) for p in range(partitions)]
        committed = self._committed(consumer, wanted)
        missing = [tp for tp in committed if tp.offset == OFFSET_INVALID or tp.offset < 0]
        stale = [tp for tp in committed if tp not in missing and tp.metadata != spec.user_metadata]
        if not missing and not stale:
            return False
        offsets = []
        for tp in missing:
            low, _high = self._watermarks(consumer, tp.topic, tp.partition)
            offsets.append(TopicPartition(tp.topic, tp.partition, low, metadata=spec.user_metadata))
        offsets += [
            TopicPartition(tp.topic, tp.partition, tp.offset, metadata=spec.user_metadata)
            for tp in stale
        ]
        self._commit(reader, offsets)
        self._readers.pop((spec.name, self._credential(spec.hub)), None)
        consumer.close()
        return True

    def consumer_groups(self, hub: str) -> list[ConsumerGroupSpec]:
        admin = self._admin(hub)
        try:
            listed = admin.list_consumer_groups().result(self.timeout)
        except KafkaException as exc:
            _raise_for(exc.args[0], "listing consumer groups", self._servers)
        wanted = [TopicPartition(hub, p) for p in range(self._partitions(hub))]
        groups: list[ConsumerGroupSpec] = []
        for group in sorted(g.group_id for g in listed.valid):
            request = [ConsumerGroupTopicPartitions(group, wanted)]
            try:
                result = admin.list_consumer_group_offsets(request)[group].result(self.timeout)
            except KafkaException as exc:
                _raise_for(exc.args[0], f"reading group {group}'s offsets", self._servers)
            offsets = [tp for tp in result.topic_partitions if tp.offset >= 0]
            if offsets:
                groups.append(ConsumerGroupSpec(hub, group, offsets[0].metadata or ""))
        return groups

    # data plane -------------------------------------------------------------------------

    def _partitions(self, hub: str) -> int:
        count = self._partition_counts.get(hub)
        if count is None:
            meta = self._metadata(hub).topics.get(hub)
            if meta is None or meta.error is not None or not meta.partitions:
                raise HubNotFoundError(
                    f"topic {hub!r} does not exist on the Kafka cluster at {self._servers}; "
                    "provision it first (eda-lake provision)"
                )
            count = self._partition_counts[hub] = len(meta.partitions)
        return count

    def partition_ids(self, hub: str) -> list[str]:
        return [str(p) for p in range(self._partitions(hub))]

    def _producer(self, hub: str) -> Any:
        key = self._credential(hub)
        producer = self._producers.get(key)
        if producer is None:
            config = client_config(self.settings, hub, self.timeout) | {
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": "murmur2_random",
                "linger.ms": 1,
                "compression.type": self.settings.compression,
                "message.timeout.ms": int(self.timeout * 1000),
            }
            producer = self._producers[key] = Producer(config)
        return producer

    def send(
        self, hub: str, events: Sequence[EventData], *, partition_id: str | None = None
    ) -> int:
        return self._acknowledged(self._produce(hub, events, partition_id))

    def send_batches(self, batches: Iterable[Batch]) -> Generator[tuple[str, int]]:
        """Later batches are on their way while an earlier one is acknowledged (at most
        IN_FLIGHT_BATCHES waiting): the broker works while the caller builds the next, and
        still nothing is reported sent before the broker has it. The idempotent producer
        keeps each partition's order. A batch the producer refuses is raised only after
        every batch before it is reported, so the refused batch is the first one not
        reported."""
        unsettled: list[_Delivery] = []  # handed to the producer, not yet acknowledged
        try:
            for hub, events in batches:
                try:
                    delivery = self._produce(hub, events, None)
                except EventRefusedError:
                    while unsettled:
                        yield unsettled[0].hub, self._acknowledged(unsettled.pop(0))
                    raise
                unsettled.append(delivery)
                if len(unsettled) > IN_FLIGHT_BATCHES:
                    oldest = unsettled.pop(0)
                    yield oldest.hub, self._acknowledged(oldest)
            while unsettled:
                yield unsettled[0].hub, self._acknowledged(unsettled.pop(0))
        finally:
            # The caller failed or stopped, or a batch was refused: wait for the broker's
            # answers to what was handed over, so that nothing is still in flight once this
            # returns; the error that ended the sending is the one raised.
            for delivery in unsettled:
                with contextlib.suppress(BrokerUnavailableError, EventRefusedError):
                    self._acknowledged(delivery)

    def _produce(
        self, hub: str, events: Sequence[EventData], partition_id: str | None
    ) -> _Delivery:
        producer = self._producer(hub)
        delivery = _Delivery(hub, producer, len(events))
        if not events:
            return delivery
        count = self._partitions(hub)
        partition = -1 if partition_id is None else int(partition_id)
        if partition_id is not None and not 0 <= partition < count:
            raise HubNotFoundError(f"hub {hub} has no partition {partition_id}")
        on_delivery = delivery.on_delivery
        for index, event in enumerate(events):
            key = None if event.partition_key is None else event.partition_key.encode("utf-8")
            headers = to_headers(event.properties, event.content_type)
            while True:
                try:
                    producer.produce(hub, event.body, key, partition, on_delivery, headers=headers)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    producer.poll(0.05)
                except KafkaException as exc:
                    if exc.args[0].code() not in _REFUSALS:
                        raise
                    # The events before it are on their way: once acknowledged, the caller
                    # need not send them again.
                    delivery.expected = index
                    raise EventRefusedError(
                        f"topic {hub} refuses an event of {len(event.body):,} bytes: "
                        f"{exc.args[0].str()}",
                        acknowledged=self._acknowledged(delivery),
                    ) from exc
        return delivery

    def _acknowledged(self, delivery: _Delivery) -> int:
        """Wait for the broker's answer to every message of `delivery`: its count, or an
        error naming what was not delivered. Each message is answered (delivered or failed)
        within `message.timeout.ms`; the margin covers answers still being handed over."""
        deadline = time.monotonic() + self.timeout + 5
        while delivery.answered < delivery.expected and time.monotonic() < deadline:
            delivery.producer.poll(0.01)
        refusals = [f for f in delivery.failures if f.code() in _REFUSALS]
        if refusals:
            raise EventRefusedError(
                f"topic {delivery.hub} refuses {len(refusals)} of {delivery.expected} events: "
                f"{refusals[0].str()}"
            )
        if delivery.failures or delivery.delivered != delivery.expected:
            missing = delivery.expected - delivery.delivered
            reason = (
                delivery.failures[0].str()
                if delivery.failures
                else f"{delivery.expected - delivery.answered} not acknowledged in time"
            )
            raise BrokerUnavailableError(
                f"sending to topic {delivery.hub} at {self._servers}: {missing} of "
                f"{delivery.expected} events not delivered ({reason}); nothing was "
                "checkpointed, run again once the cluster is reachable"
            )
        return delivery.delivered

    def _reader(self, group: str, hub: str) -> _GroupReader:
        key = (group, self._credential(hub))
        reader = self._readers.get(key)
        if reader is None:
            commits: list[tuple[KafkaError | None, list[Any]]] = []
            config = client_config(self.settings, hub, self.timeout) | {
                "group.id": group,
                "on_commit": lambda error, offsets: commits.append((error, offsets)),
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
            reader = self._readers[key] = _GroupReader(Consumer(config), commits)
        return reader

    def _committed(self, consumer: Any, partitions: list[Any]) -> list[Any]:
        try:
            return list(consumer.committed(partitions, timeout=self.timeout))
        except KafkaException as exc:
            _raise_for(exc.args[0], "reading committed offsets", self._servers)

    def _watermarks(self, consumer: Any, topic: str, partition: int) -> tuple[int, int]:
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=self.timeout
            )
        except KafkaException as exc:
            _raise_for(exc.args[0], f"reading the end of {topic}/{partition}", self._servers)
        return int(low), int(high)

    def _commit(self, reader: _GroupReader, offsets: list[Any]) -> None:
        """Commit and wait for the broker's answer, at most `timeout` (a synchronous commit
        waits 45 s for a coordinator that has gone away)."""
        reader.commits.clear()
        try:
            # A commit queued while no broker answers holds up close() and exit for ~45 s:
            # ask for the topic's metadata first, which fails within the timeout instead.
            reader.consumer.list_topics(offsets[0].topic, timeout=self.timeout)
            reader.consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            _raise_for(exc.args[0], "committing offsets", self._servers)
        deadline = time.monotonic() + self.timeout
        while not reader.commits:
            if time.monotonic() > deadline:
                _raise_for(KafkaError(KafkaError._TIMED_OUT), "committing offsets", self._servers)
            if reader.consumer.poll(0.05) is not None:
                reader.position = None  # a fetched message was dropped here: seek next time
        error, results = reader.commits[0]
        if error is not None:
            _raise_for(error, "committing offsets", self._servers)
        for tp in results:
            if tp.error is not None:
                _raise_for(tp.error, f"committing {tp.topic}/{tp.partition}", self._servers)

    def _sweep(self, reader: _GroupReader, hub: str, partition: int) -> _Sweep:
        sweep = reader.sweeps.get((hub, partition))
        if sweep is None:
            (tp,) = self._committed(reader.consumer, [TopicPartition(hub, partition)])
            if tp.offset >= 0:
                start = int(tp.offset)
            else:
                start = self._watermarks(reader.consumer, hub, partition)[0]
            sweep = reader.sweeps[(hub, partition)] = _Sweep(start, tp.metadata or "")
        return sweep

    def checkpoint_of(self, hub: str, consumer_group: str, partition_id: str) -> int | None:
        self._partitions(hub)
        reader = self._reader(consumer_group, hub)
        (tp,) = self._committed(reader.consumer, [TopicPartition(hub, int(partition_id))])
        return int(tp.offset) - 1 if tp.offset > 0 else None

    def receive(
        self, hub: str, consumer_group: str, partition_id: str, max_events: int
    ) -> list[ReceivedEvent]:
        partition = int(partition_id)
        if not 0 <= partition < self._partitions(hub):
            raise HubNotFoundError(f"hub {hub} has no partition {partition_id}")
        reader = self._reader(consumer_group, hub)
        sweep = self._sweep(reader, hub, partition)
        if sweep.end is None:
            sweep.end = self._watermarks(reader.consumer, hub, partition)[1]
        if sweep.committed >= sweep.end:
            sweep.end = None  # this sweep is over; the next one looks for a new end
            return []
        messages = self.read(consumer_group, hub, partition, sweep.committed, sweep.end, max_events)
        if not messages:
            sweep.end = None
        return [to_received(m) for m in messages]

    def read(
        self, consumer_group: str, hub: str, partition: int, start: int, end: int, limit: int
    ) -> list[Message]:
        """Messages of a partition from offset `start`, before offset `end`, at most `limit`
        (read_committed: what aborted transactions wrote is never returned)."""
        reader = self._reader(consumer_group, hub)
        consumer = reader.consumer
        if reader.assigned != (hub, partition) or reader.position != start:
            consumer.assign([TopicPartition(hub, partition, start)])
            reader.assigned, reader.position = (hub, partition), start
        found: list[Message] = []
        waited_since = time.monotonic()
        while len(found) < limit:
            left = end - (reader.position if reader.position is not None else start)
            if left <= 0:
                break
            # Never ask for more than is left before `end`: consume() waits for the count.
            batch = consumer.consume(max(1, min(limit - len(found), left, 10_000)), 0.5)
            if not batch:
                if time.monotonic() - waited_since > self.timeout:
                    raise BrokerUnavailableError(
                        f"reading {hub}/{partition} at {self._servers}: no answer within "
                        f"{self.timeout:.0f} s; nothing was checkpointed, run again once the "
                        "cluster is reachable"
                    )
                continue
            waited_since = time.monotonic()
            reached_end = False
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        reached_end = True
                        continue
                    _raise_for(error, f"reading {hub}/{partition}", self._servers)
                offset = message.offset()
                if offset >= end:
                    reached_end = True
                    reader.position = None  # read past this sweep's end: seek next time
                    break
                found.append(message)
                reader.position = offset + 1
            if reached_end:
                break
        return found

    def progress(self, consumer_group: str, hub: str, partition: int) -> tuple[int, int]:
        """(next offset to read: the group's committed offset or the log start, the end
        offset now): what a capture run reads."""
        reader = self._reader(consumer_group, hub)
        reader.sweeps.pop((hub, partition), None)  # ask the broker, not this client's memory
        start = self._sweep(reader, hub, partition).committed
        return start, self._watermarks(reader.consumer, hub, partition)[1]

    def checkpoint(
        self, hub: str, consumer_group: str, partition_id: str, sequence_number: int
    ) -> None:
        reader = self._reader(consumer_group, hub)
        partition = int(partition_id)
        sweep = self._sweep(reader, hub, partition)
        following = sequence_number + 1
        if following <= sweep.committed:
            return  # only forward, as on the embedded hub
        offset = TopicPartition(hub, partition, following, metadata=sweep.metadata)
        self._commit(reader, [offset])
        sweep.committed = following


def offset_of(message: Message) -> int:
    """The offset of a message the consumer returned (only errors have none)."""
    offset = message.offset()
    assert offset is not None
    return offset


def to_received(message: Message) -> ReceivedEvent:
    """A Kafka message as the hub interface's ReceivedEvent (the offset is both the
    sequence number and the offset, as Capture's `SequenceNumber` and `Offset`)."""
    headers = message.headers()
    mapped = from_message(
        list(headers.items()) if isinstance(headers, dict) else headers, message.key()
    )
    offset = offset_of(message)
    return ReceivedEvent(
        hub=message.topic() or "",
        partition_id=str(message.partition()),
        sequence_number=offset,
        offset=offset,
        enqueued_time=ms_to_datetime(message.timestamp()[1]),
        partition_key=mapped.partition_key,
        content_type=mapped.content_type,
        properties=mapped.properties,
        body=message.value() or b"",
    )
