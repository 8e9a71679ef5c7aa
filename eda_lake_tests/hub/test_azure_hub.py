"""The Azure Event Hubs adapter at the SDK boundary, its checkpoint store on Azurite, and
live tests that run only when EVENTHUB_* variables name a real namespace."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from azure.eventhub import EventData as AzureEventData
from azure.eventhub import EventDataBatch
from azure.eventhub._pyamqp.error import ErrorCondition, MessageException
from azure.eventhub.exceptions import EventDataSendError
from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore
from azure.storage.blob import BlobServiceClient

from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.azure import AzureEventHubClient, EventHubsConnection, from_azure
from eda_lake.hub.base import EventData, EventRefusedError
from infra_scripts.azurite import Azurite

NAMESPACE = "example-ns.servicebus.windows.net"
MAX_MESSAGE_BYTES = 1024  # the link's limit in the fake producer


class FakeProducer:
    """Records what the adapter asks of EventHubProducerClient."""

    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.sent: list[tuple[AzureEventData, dict[str, Any]]] = []
        self.flushed = False
        FakeProducer.instances.append(self)

    @classmethod
    def from_connection_string(cls, **kwargs: Any) -> FakeProducer:
        return cls(**kwargs)

    def __enter__(self) -> FakeProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get_partition_ids(self) -> list[str]:
        return ["0", "1"]

    def send_event(self, event: AzureEventData, **kwargs: Any) -> None:
        # As the buffered producer does: an event that does not fit an empty batch of the
        # link's message size raises the SDK's own ValueError.
        EventDataBatch(MAX_MESSAGE_BYTES).add(event)
        self.sent.append((event, kwargs))

    def flush(self) -> None:
        self.flushed = True
        on_error = self.kwargs.get("on_error")
        failure = self.kwargs.get("fail")
        if failure and on_error:
            on_error([], "0", failure)


class FakeConsumer:
    """Receives like EventHubConsumerClient.receive_batch: a loop per partition until the
    client closes, handing out stored events after the start, then empty batches when idle."""

    events: ClassVar[list[AzureEventData]] = []
    calls: ClassVar[list[dict[str, Any]]] = []
    instances: ClassVar[list[FakeConsumer]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.closed = threading.Event()
        FakeConsumer.instances.append(self)

    def get_partition_ids(self) -> list[str]:
        return ["0", "1"]

    def receive_batch(self, on_event_batch: Any, **kwargs: Any) -> None:
        FakeConsumer.calls.append(kwargs)
        after = kwargs["starting_position"]
        position = -1 if after == "-1" else int(after)
        while not self.closed.is_set():
            batch = [e for e in FakeConsumer.events if (e.sequence_number or 0) > position]
            batch = batch[: kwargs["max_batch_size"]]
            if batch:
                position = batch[-1].sequence_number or 0
            else:
                self.closed.wait(0.01)  # the SDK waits max_wait_time, then reports idle
            on_event_batch(None, batch)

    def close(self) -> None:
        self.closed.set()


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def list_checkpoints(self, namespace: str, hub: str, group: str) -> list[dict[str, Any]]:
        return [c for k, c in self.saved.items() if k[:3] == (namespace, hub, group)]

    def update_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        key = (checkpoint["fully_qualified_namespace"], checkpoint["eventhub_name"],
               checkpoint["consumer_group"], checkpoint["partition_id"])  # fmt: skip
        self.saved[key] = checkpoint


def _received(sequence: int) -> AzureEventData:
    """An EventData as the SDK hands it out, with its system annotations."""
    event = AzureEventData(f"body {sequence}".encode())
    event.properties = {b"cloudEvents_id": f"id-{sequence}".encode()}
    event.content_type = "avro/binary+abc"
    # The AMQP message annotations Event Hubs sets, which the SDK's properties read.
    annotations = event.raw_amqp_message.annotations
    assert annotations is not None
    annotations[b"x-opt-sequence-number"] = sequence
    annotations[b"x-opt-offset"] = str(sequence * 100).encode()
    annotations[b"x-opt-enqueued-time"] = 1_767_225_600_000 + sequence
    annotations[b"x-opt-partition-key"] = b"key"
    return event


def _client(**connection: Any) -> AzureEventHubClient:
    return AzureEventHubClient(
        EventHubsConnection(NAMESPACE, **connection),
        MemoryCheckpoints(),
        producer_factory=FakeProducer,
        consumer_factory=FakeConsumer,
    )


def test_send_routes_by_partition_key_and_carries_cloudevents() -> None:
    FakeProducer.instances.clear()
    client = _client(credential=object())
    envelope = CloudEvent("e1", "/s", "t", datetime(2026, 1, 1, tzinfo=UTC)).to_properties()
    events = [EventData(b"a", envelope, "k1", "avro/binary+abc"), EventData(b"b", {}, "k2")]
    assert client.send("orders", events) == 2
    [producer] = FakeProducer.instances
    assert producer.kwargs["buffered_mode"] is True and producer.flushed
    assert producer.kwargs["fully_qualified_namespace"] == NAMESPACE
    (first, first_args), (_, second_args) = producer.sent
    assert first_args == {"partition_key": "k1"} and second_args == {"partition_key": "k2"}
    assert first.properties["cloudEvents_id"] == "e1" and first.content_type == "avro/binary+abc"


def test_hub_scoped_connection_strings_are_used_per_hub() -> None:
    FakeProducer.instances.clear()
    client = _client(hub_connection_strings={"orders": "Endpoint=sb://x/;EntityPath=orders"})
    client.send("orders", [EventData(b"a")], partition_id="1")
    [producer] = FakeProducer.instances
    assert producer.kwargs["conn_str"].endswith("EntityPath=orders")
    assert producer.sent[0][1] == {"partition_id": "1"}
    with pytest.raises(ValueError, match="no credential for hub 'payments'"):
        client.send("payments", [EventData(b"a")])


def _failing_client(failure: Exception) -> AzureEventHubClient:
    return AzureEventHubClient(
        EventHubsConnection(NAMESPACE, credential=object()),
        MemoryCheckpoints(),
        producer_factory=lambda **kw: FakeProducer(**kw, fail=failure),
        consumer_factory=FakeConsumer,
    )


def _service_error(condition: ErrorCondition | bytes) -> EventDataSendError:
    """What the SDK hands `on_error` when the service settles a send with an error."""
    cause = MessageException(condition, description="refused by the service")
    return EventDataSendError(str(cause), cause)  # type: ignore[arg-type]


def test_failed_sends_raise() -> None:
    with pytest.raises(RuntimeError, match="throttled"):
        _failing_client(RuntimeError("throttled")).send("orders", [EventData(b"a")])


def test_transient_service_errors_are_not_refusals() -> None:
    server_busy = _service_error(b"com.microsoft:server-busy")
    with pytest.raises(RuntimeError, match="1 send\\(s\\) to hub orders failed") as raised:
        _failing_client(server_busy).send("orders", [EventData(b"a")])
    assert not isinstance(raised.value, EventRefusedError)


def test_an_event_larger_than_the_link_takes_is_refused() -> None:
    FakeProducer.instances.clear()
    events = [EventData(b"a", {}, "k1"), EventData(b"x" * (MAX_MESSAGE_BYTES + 1), {}, "k2")]
    with pytest.raises(
        EventRefusedError, match=f"refuses an event of {MAX_MESSAGE_BYTES + 1} bytes"
    ) as refused:
        _client(credential=object()).send("orders", events)
    [producer] = FakeProducer.instances
    assert len(producer.sent) == 1 and producer.flushed  # the event before it went out
    assert refused.value.acknowledged == 1


def test_the_service_refusing_an_event_by_size_is_a_refusal() -> None:
    too_large = _service_error(ErrorCondition.LinkMessageSizeExceeded)
    with pytest.raises(EventRefusedError, match="hub orders refused an event: refused by the"):
        _failing_client(too_large).send("orders", [EventData(b"a")])


def test_receive_keeps_one_consumer_per_run_and_starts_after_the_checkpoint() -> None:
    FakeConsumer.events = [_received(s) for s in range(5)]
    FakeConsumer.calls.clear()
    FakeConsumer.instances.clear()
    client = _client(credential=object())
    first = client.receive("orders", "billing", "0", 3)
    assert [e.sequence_number for e in first] == [0, 1, 2]
    assert first[0].properties == {"cloudEvents_id": b"id-0"}
    assert first[0].partition_key == "key" and first[0].offset == 0
    client.checkpoint("orders", "billing", "0", 2)
    assert client.checkpoint_of("orders", "billing", "0") == 2
    rest = client.receive("orders", "billing", "0", 10)
    assert [e.sequence_number for e in rest] == [3, 4]
    assert client.receive("orders", "billing", "0", 10) == []  # read to its end
    assert client.receive("orders", "billing", "1", 2)  # the hub's other partition: same client
    # One consumer for the run, one receiving call per partition, however many batches.
    assert len(FakeConsumer.instances) == 1
    assert sorted(c["partition_id"] for c in FakeConsumer.calls) == ["0", "1"]
    with pytest.raises(ValueError, match="checkpoint an event this client received"):
        client.checkpoint("orders", "billing", "0", 1)  # only the last batch's are kept
    client.checkpoint("orders", "billing", "0", 4)
    client.close()
    assert all(c.closed.is_set() for c in FakeConsumer.instances)

    FakeConsumer.calls.clear()
    next_run = AzureEventHubClient(
        EventHubsConnection(NAMESPACE, credential=object()), client.checkpoints,
        producer_factory=FakeProducer, consumer_factory=FakeConsumer,
    )  # fmt: skip
    assert next_run.receive("orders", "billing", "0", 10) == []
    starts = {c["partition_id"]: c["starting_position"] for c in FakeConsumer.calls}
    assert starts == {"0": 4, "1": "-1"}
    assert all(c["starting_position_inclusive"] is False for c in FakeConsumer.calls)
    next_run.close()


def test_received_events_convert_exactly() -> None:
    event = from_azure("orders", "3", _received(7))
    assert (event.sequence_number, event.offset, event.partition_id) == (7, 700, "3")
    assert event.enqueued_time == datetime(2026, 1, 1, 0, 0, 0, 7000, tzinfo=UTC)
    assert event.body == b"body 7" and event.content_type == "avro/binary+abc"


def test_checkpoints_in_blob_storage_on_azurite(azurite: Azurite) -> None:
    container = f"checkpoints-{uuid.uuid4().hex[:8]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    store = BlobCheckpointStore.from_connection_string(azurite.connection_string, container)
    FakeConsumer.events = [_received(s) for s in range(4)]
    client = AzureEventHubClient(
        EventHubsConnection(NAMESPACE, credential=object()), store,
        producer_factory=FakeProducer, consumer_factory=FakeConsumer,
    )  # fmt: skip
    client.receive("orders", "billing", "1", 2)
    client.checkpoint("orders", "billing", "1", 1)
    client.close()
    reopened = BlobCheckpointStore.from_connection_string(azurite.connection_string, container)
    [saved] = list(reopened.list_checkpoints(NAMESPACE, "orders", "billing"))
    assert (saved["partition_id"], saved["sequence_number"]) == ("1", 1)
    assert client.checkpoint_of("orders", "billing", "1") == 1


@pytest.mark.live
@pytest.mark.skipif(
    not os.environ.get("EVENTHUB_CONNECTION_STRING") or not os.environ.get("EVENTHUB_NAME"),
    reason="live Event Hubs test: set EVENTHUB_CONNECTION_STRING (hub-scoped) and EVENTHUB_NAME",
)
def test_live_round_trip() -> None:  # pragma: no cover - needs a real namespace
    hub = os.environ["EVENTHUB_NAME"]
    connection = os.environ["EVENTHUB_CONNECTION_STRING"]
    namespace = connection.split("sb://", 1)[1].split("/", 1)[0]
    client = AzureEventHubClient(
        EventHubsConnection(namespace, hub_connection_strings={hub: connection}),
        MemoryCheckpoints(),
    )
    marker = uuid.uuid4().hex
    assert client.send(hub, [EventData(marker.encode(), {"test": marker})], partition_id="0") == 1
    found = []
    for _ in range(5):
        found += [e for e in client.receive(hub, "$Default", "0", 500) if e.body == marker.encode()]
        if found:
            break
    assert found
