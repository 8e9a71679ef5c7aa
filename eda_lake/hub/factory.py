"""Chooses the event hub adapters from settings: the one place that knows them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eda_lake.embedded.owner_only import owner_only_dir
from eda_lake.hub.base import EventHubAdmin, EventHubClient
from eda_lake.hub.embedded import EmbeddedEventHub
from eda_lake.settings import Broker, Settings
from eda_lake.shared.azure_identity import azure_credential

if TYPE_CHECKING:  # confluent-kafka is imported only when the broker is Kafka
    from eda_lake.hub.kafka import KafkaEventHub


def make_local_hub(settings: Settings) -> EmbeddedEventHub:
    owner_only_dir(settings.home)
    return EmbeddedEventHub(settings.hub_dir, settings.namespace)


def make_kafka_hub(settings: Settings) -> KafkaEventHub:
    from eda_lake.hub.kafka import KafkaEventHub

    assert settings.kafka is not None  # Settings refuses EDA_LAKE_BROKER=kafka without it
    return KafkaEventHub(settings.kafka, settings.namespace, timeout=settings.kafka.timeout_seconds)


def make_hub_client(settings: Settings) -> EventHubClient:
    """Data plane: send, receive, checkpoint."""
    if settings.broker is Broker.EMBEDDED:
        return make_local_hub(settings)
    if settings.broker is Broker.KAFKA:
        return make_kafka_hub(settings)
    from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore

    from eda_lake.hub.azure import AzureEventHubClient, EventHubsConnection

    hubs = settings.eventhubs
    assert hubs is not None  # Settings refuses EDA_LAKE_BROKER=eventhubs without it
    credential = azure_credential()
    if hubs.checkpoint_connection_string:
        store = BlobCheckpointStore.from_connection_string(
            hubs.checkpoint_connection_string, hubs.checkpoint_container
        )
    elif hubs.checkpoint_account_url:
        store = BlobCheckpointStore(
            hubs.checkpoint_account_url, hubs.checkpoint_container, credential=credential
        )
    else:  # Settings refuses a namespace without checkpoint storage
        raise ValueError("no checkpoint storage configured")
    connection = EventHubsConnection(
        hubs.fully_qualified_namespace, hubs.hub_connection_strings, credential
    )
    return AzureEventHubClient(connection, store)


def make_hub_admin(settings: Settings) -> EventHubAdmin:
    """Management plane: hubs (topics) and consumer groups."""
    if settings.broker is Broker.EMBEDDED:
        return make_local_hub(settings)
    if settings.broker is Broker.KAFKA:
        return make_kafka_hub(settings)
    raise NotImplementedError(
        "an Event Hubs namespace's hubs, consumer groups and Capture are managed by the Azure "
        "provisioning over azure-mgmt-eventhub (`eda-lake provision` with EDA_LAKE_TARGET=azure), "
        "not by the runtime"
    )
