"""The event hub's data plane on Azure Event Hubs, over `azure-eventhub`.

Sends go through the producer's buffered mode, which batches per partition (routed by the
partition key) and flushes before `send` returns, so an acknowledged send is in the hub. An
event the SDK or the service refuses as it is (larger than the link takes) raises
`EventRefusedError`; throttling, timeouts and lost connections stay errors worth a retry.

Receives: one consumer client per hub and consumer group for the client's life (a run), and
one receiving thread per partition, started at the group's checkpoint for every partition
of the hub at once, so the idle waits of empty partitions overlap instead of adding up. Each
thread feeds a bounded queue (a slow reader holds its partition back, never memory); the
SDK's empty batch after `IDLE_SECONDS` without events marks the partition as read to its end.
Within a run each event is handed out once; a new run starts after the checkpoint.
Checkpoints live in Blob Storage (`azure-eventhub-checkpointstoreblob`), in a storage account
of its own without hierarchical namespace, soft delete or versioning, as Microsoft requires.

Credentials: Entra ID (`DefaultAzureCredential`, with Azure RBAC on each hub), or a
hub-scoped SAS connection string per hub, never a namespace-level Listen rule.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, cast

from azure.eventhub import EventData as AzureEventData
from azure.eventhub import EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.exceptions import EventDataError, EventDataSendError

from eda_lake.hub.base import (
    Batch,
    EventData,
    EventRefusedError,
    HubError,
    PropertyValue,
    ReceivedEvent,
    send_one_at_a_time,
)

IDLE_SECONDS = 1.0  # no event for this long: the partition is read to its end
QUEUED_BATCHES = 4  # per partition: what a receiving thread may hold ahead of its reader
_IDLE = None  # queued when the SDK reports an idle partition


# Conditions (after the "amqp:" prefix, as the SDK keeps them) under which the service refuses
# an event as it is; throttling, timeouts and lost links are worth a retry.
REFUSAL_CONDITIONS = frozenset({"link:message-size-exceeded"})


def is_refusal(error: Exception) -> bool:
    """Whether the SDK reports an event Event Hubs can never take, rather than a failure that
    a later send may get past."""
    if isinstance(error, EventDataError):
        return True
    return isinstance(error, EventDataSendError) and error.error in REFUSAL_CONDITIONS


@dataclass(frozen=True)
class EventHubsConnection:
    """How to reach a namespace: Entra ID, or a hub-scoped connection string per hub."""

    fully_qualified_namespace: str
    hub_connection_strings: dict[str, str] = field(default_factory=dict, repr=False)
    credential: Any = field(default=None, repr=False)  # a TokenCredential


def to_azure(event: EventData) -> AzureEventData:
    data = AzureEventData(event.body)
    data.properties = cast(dict[str | bytes, Any], dict(event.properties))
    if event.content_type is not None:
        data.content_type = event.content_type
    return data


def _text(value: Any) -> PropertyValue:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def from_azure(hub: str, partition_id: str, event: Any) -> ReceivedEvent:
    """A received `azure.eventhub.EventData` as the hub interface's ReceivedEvent."""
    properties = {
        (key.decode() if isinstance(key, bytes) else str(key)): value
        for key, value in (event.properties or {}).items()
    }
    return ReceivedEvent(
        hub=hub,
        partition_id=partition_id,
        sequence_number=int(event.sequence_number),
        offset=int(event.offset),
        enqueued_time=event.enqueued_time.astimezone(UTC),
        partition_key=_text(event.partition_key),  # type: ignore[arg-type]
        content_type=event.content_type,
        properties=properties,
        body=b"".join(event.body) if not isinstance(event.body, bytes) else event.body,
    )


@dataclass
class _PartitionReceiver:
    """One partition's receiving thread and what it has received but not handed out."""

    batches: queue.Queue[Any]
    thread: threading.Thread
    stopping: threading.Event
    leftover: deque[Any] = field(default_factory=deque)
    offsets: dict[int, int] = field(default_factory=dict)  # of the last batch handed out
    failure: Exception | None = None

    @classmethod
    def start(
        cls, consumer: Any, partition_id: str, after: int | None, batch_size: int
    ) -> _PartitionReceiver:
        stopping = threading.Event()
        batches: queue.Queue[Any] = queue.Queue(maxsize=QUEUED_BATCHES * batch_size)

        def on_batch(_context: Any, batch: list[Any]) -> None:
            for event in batch or [_IDLE]:
                while not stopping.is_set():
                    try:
                        batches.put(event, timeout=IDLE_SECONDS)
                        break
                    except queue.Full:
                        continue

        def on_error(_context: Any, error: Exception) -> None:
            receiver.failure = error
            batches.put(_IDLE)

        thread = threading.Thread(
            target=consumer.receive_batch,
            kwargs={
                "on_event_batch": on_batch,
                "on_error": on_error,
                "partition_id": partition_id,
                "max_batch_size": batch_size,
                "max_wait_time": IDLE_SECONDS,
                "starting_position": "-1" if after is None else after,
                "starting_position_inclusive": False,
            },
            daemon=True,
            name=f"eventhubs-receive-{partition_id}",
        )
        receiver = cls(batches, thread, stopping)
        thread.start()
        return receiver


class AzureEventHubClient:
    """Implements `EventHubClient` over Azure Event Hubs."""

    def __init__(
        self,
        connection: EventHubsConnection,
        checkpoint_store: Any,
        *,
        producer_factory: Callable[..., Any] = EventHubProducerClient,
        consumer_factory: Callable[..., Any] = EventHubConsumerClient,
    ) -> None:
        self.connection = connection
        self.namespace = connection.fully_qualified_namespace
        self.checkpoints = checkpoint_store
        self._producer_factory = producer_factory
        self._consumer_factory = consumer_factory
        self._consumers: dict[tuple[str, str], Any] = {}
        self._receivers: dict[tuple[str, str, str], _PartitionReceiver] = {}

    def _client_args(self, hub: str) -> dict[str, Any]:
        connection_string = self.connection.hub_connection_strings.get(hub)
        if connection_string:
            return {"conn_str": connection_string, "eventhub_name": hub}
        if self.connection.credential is None:
            raise ValueError(
                f"no credential for hub {hub!r}: set a hub-scoped connection string for it or "
                "use Entra ID (DefaultAzureCredential)"
            )
        return {
            "fully_qualified_namespace": self.namespace,
            "eventhub_name": hub,
            "credential": self.connection.credential,
        }

    def _producer(self, hub: str, **options: Any) -> Any:
        args = self._client_args(hub)
        if "conn_str" in args:
            return self._producer_factory.from_connection_string(**args, **options)  # type: ignore[attr-defined]
        return self._producer_factory(**args, **options)

    def _consumer(self, hub: str, consumer_group: str) -> Any:
        args = self._client_args(hub) | {"consumer_group": consumer_group}
        if "conn_str" in args:
            return self._consumer_factory.from_connection_string(**args)  # type: ignore[attr-defined]
        return self._consumer_factory(**args)

    def partition_ids(self, hub: str) -> list[str]:
        with self._producer(hub) as producer:
            return [str(p) for p in producer.get_partition_ids()]

    def send_batches(self, batches: Iterable[Batch]) -> Iterator[tuple[str, int]]:
        return send_one_at_a_time(self, batches)

    def send(
        self, hub: str, events: Sequence[EventData], *, partition_id: str | None = None
    ) -> int:
        if not events:
            return 0
        failures: list[Exception] = []

        def on_error(_events: Any, _partition: str | None, error: Exception) -> None:
            failures.append(error)

        producer = self._producer(hub, buffered_mode=True, on_error=on_error, on_success=None)
        with producer:
            for index, event in enumerate(events):
                try:
                    if partition_id is not None:
                        producer.send_event(to_azure(event), partition_id=partition_id)
                    else:
                        producer.send_event(to_azure(event), partition_key=event.partition_key)
                except (ValueError, EventDataError) as exc:
                    # The SDK raises ValueError for an event that does not fit an empty batch;
                    # the events buffered before it go out now, so they need no second send.
                    producer.flush()
                    raise EventRefusedError(
                        f"hub {hub} refuses an event of {len(event.body)} bytes: {exc}",
                        acknowledged=0 if failures else index,
                    ) from exc
            producer.flush()
        refusals = [failure for failure in failures if is_refusal(failure)]
        if refusals:
            raise EventRefusedError(f"hub {hub} refused an event: {refusals[0]}") from refusals[0]
        if failures:
            raise RuntimeError(f"{len(failures)} send(s) to hub {hub} failed: {failures[0]}")
        return len(events)

    def checkpoint_of(self, hub: str, consumer_group: str, partition_id: str) -> int | None:
        for checkpoint in self.checkpoints.list_checkpoints(self.namespace, hub, consumer_group):
            if str(checkpoint["partition_id"]) == partition_id:
                return int(checkpoint["sequence_number"])
        return None

    def receive(
        self, hub: str, consumer_group: str, partition_id: str, max_events: int
    ) -> list[ReceivedEvent]:
        receiver = self._receiver(hub, consumer_group, partition_id, max_events)
        events: list[ReceivedEvent] = []
        while len(events) < max_events:
            if receiver.leftover:
                item = receiver.leftover.popleft()
            else:
                try:
                    item = receiver.batches.get(timeout=IDLE_SECONDS * 10)
                except queue.Empty:
                    item = _IDLE  # the SDK reports idle partitions; it has stopped reporting
            if item is _IDLE:
                if events:
                    receiver.leftover.appendleft(_IDLE)  # the next call ends at once
                elif receiver.failure is not None:
                    raise HubError(
                        f"receiving {hub}/{partition_id} for group {consumer_group}: "
                        f"{receiver.failure}"
                    ) from receiver.failure
                break
            events.append(from_azure(hub, partition_id, item))
        if events:
            receiver.offsets = {e.sequence_number: e.offset for e in events}  # this batch only
        return events

    def _receiver(
        self, hub: str, consumer_group: str, partition_id: str, max_events: int
    ) -> _PartitionReceiver:
        receiver = self._receivers.get((hub, consumer_group, partition_id))
        if receiver is None:
            consumer = self._consumers.get((hub, consumer_group))
            if consumer is None:
                consumer = self._consumers[(hub, consumer_group)] = self._consumer(
                    hub, consumer_group
                )
            for partition in [str(p) for p in consumer.get_partition_ids()]:
                key = (hub, consumer_group, partition)
                if key not in self._receivers:
                    after = self.checkpoint_of(hub, consumer_group, partition)
                    self._receivers[key] = _PartitionReceiver.start(
                        consumer, partition, after, max_events
                    )
            receiver = self._receivers[(hub, consumer_group, partition_id)]
        return receiver

    def close(self) -> None:
        """Stop the run's consumers and their receiving threads."""
        for receiver in self._receivers.values():
            receiver.stopping.set()
        for consumer in self._consumers.values():
            consumer.close()
        for receiver in self._receivers.values():
            receiver.thread.join(IDLE_SECONDS * 5)
        self._receivers.clear()
        self._consumers.clear()

    def checkpoint(
        self, hub: str, consumer_group: str, partition_id: str, sequence_number: int
    ) -> None:
        receiver = self._receivers.get((hub, consumer_group, partition_id))
        offset = None if receiver is None else receiver.offsets.get(sequence_number)
        if offset is None:
            raise ValueError(
                f"no received event {sequence_number} of {hub}/{partition_id} in group "
                f"{consumer_group}: checkpoint an event this client received"
            )
        self.checkpoints.update_checkpoint(
            {
                "fully_qualified_namespace": self.namespace,
                "eventhub_name": hub,
                "consumer_group": consumer_group,
                "partition_id": partition_id,
                "sequence_number": sequence_number,
                "offset": str(offset),
            }
        )
