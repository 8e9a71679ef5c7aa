"""What eda-lake needs of an event broker, in Event Hubs' terms."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import NamedTuple, Protocol

from eda_lake.shared.errors import UserError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Value types an AMQP application property can carry through Event Hubs Capture.
PropertyValue = int | float | str | bytes | None


class HubError(UserError):
    """Base of the hub's errors."""


class HubNotFoundError(HubError, LookupError):
    """The event hub (or consumer group) does not exist in the namespace."""


class EventRefusedError(HubError):
    """The hub refuses an event as it is (larger than it takes, malformed): sending it again
    cannot succeed, unlike a hub out of reach. `acknowledged` counts the events at the start
    of the refused batch that the hub took before it (a producer sending as it goes)."""

    def __init__(self, message: str, acknowledged: int = 0) -> None:
        super().__init__(message)
        self.acknowledged = acknowledged


@dataclass(frozen=True)
class HubSpec:
    name: str
    partitions: int
    retention_days: int


@dataclass(frozen=True)
class ConsumerGroupSpec:
    hub: str
    name: str
    user_metadata: str = ""


class EventData(NamedTuple):
    """An event to send: body bytes, application properties, and how to route it.

    A named tuple rather than a dataclass: publishers build one per event, and a tuple is
    several times cheaper to create than a frozen dataclass.
    """

    body: bytes
    properties: Mapping[str, PropertyValue] = MappingProxyType({})
    partition_key: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class ReceivedEvent:
    """An event as stored in a partition."""

    hub: str
    partition_id: str
    sequence_number: int
    offset: int
    enqueued_time: datetime
    partition_key: str | None
    content_type: str | None
    properties: Mapping[str, PropertyValue]
    body: bytes

    @property
    def enqueued_time_ms(self) -> int:
        # In whole numbers: `timestamp() * 1000` in floats reads 1.001 s as 1000 ms.
        delta = self.enqueued_time - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000

    def system_properties(self) -> dict[str, PropertyValue]:
        """System properties as Event Hubs Capture writes them."""
        props: dict[str, PropertyValue] = {
            "x-opt-sequence-number": self.sequence_number,
            "x-opt-offset": str(self.offset),
            "x-opt-enqueued-time": self.enqueued_time_ms,
        }
        if self.partition_key is not None:
            props["x-opt-partition-key"] = self.partition_key
        if self.content_type is not None:
            props["content-type"] = self.content_type
        return props


def ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)  # exact, where `ms / 1000` in floats is not


def partition_for_key(key: str, partitions: int) -> int:
    """Stable mapping of a partition key to a partition, the same in every process.

    Not Event Hubs' own hash (the service's is internal); what matters is that one key
    always lands in one partition, which keeps each entity's events in order.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


class EventHubAdmin(Protocol):
    """Management plane: hubs and consumer groups (Azure: azure-mgmt-eventhub)."""

    namespace: str

    def ensure_hub(self, spec: HubSpec) -> bool:
        """Create the hub or update its retention; True if anything changed."""

    def ensure_consumer_group(self, spec: ConsumerGroupSpec) -> bool:
        """Create the consumer group or update its metadata; True if anything changed."""

    def hubs(self) -> list[HubSpec]: ...

    def consumer_groups(self, hub: str) -> list[ConsumerGroupSpec]: ...


Batch = tuple[str, Sequence["EventData"]]  # a hub and events for it


def send_one_at_a_time(
    client: EventHubClient, batches: Iterable[Batch]
) -> Iterator[tuple[str, int]]:
    """`send_batches` for a client that sends each batch before the next."""
    for hub, events in batches:
        yield hub, client.send(hub, events)


class EventHubClient(Protocol):
    """Data plane: send, receive from a consumer group, checkpoint (Azure: azure-eventhub)."""

    namespace: str

    def partition_ids(self, hub: str) -> list[str]: ...

    def send(
        self, hub: str, events: Sequence[EventData], *, partition_id: str | None = None
    ) -> int:
        """Send a batch atomically; events are routed by partition key (stable hash) unless
        `partition_id` is given. Returns how many were sent."""

    def send_batches(self, batches: Iterable[Batch]) -> Iterator[tuple[str, int]]:
        """Send batches in order, as `send` does each, yielding (hub, events sent) as each is
        acknowledged; all are acknowledged when the iteration ends. An adapter may have the
        next batch on its way while it waits for one (Kafka); others send one at a time.
        `EventRefusedError` is raised for the first batch not reported: every batch before
        the refused one is reported first."""

    def receive(
        self, hub: str, consumer_group: str, partition_id: str, max_events: int
    ) -> list[ReceivedEvent]:
        """The next events after the group's checkpoint in the partition, oldest first."""

    def checkpoint(
        self, hub: str, consumer_group: str, partition_id: str, sequence_number: int
    ) -> None:
        """Record that the group has processed the partition up to `sequence_number`."""

    def checkpoint_of(self, hub: str, consumer_group: str, partition_id: str) -> int | None: ...
