"""Chooses the schema registry adapter from settings: the one place that knows them all."""

from __future__ import annotations

from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.settings import Settings, Target
from eda_lake.shared.azure_identity import azure_credential


def make_registry(settings: Settings) -> SchemaRegistry:
    if settings.target is Target.LOCAL:
        return EmbeddedSchemaRegistry(settings.registry_file)
    from azure.schemaregistry import SchemaRegistryClient

    from eda_lake.registry.azure import AzureSchemaRegistry

    hubs = settings.eventhubs
    assert hubs is not None  # Settings refuses EDA_LAKE_TARGET=azure without it
    # Schema Registry accepts Entra ID only (no SAS).
    client = SchemaRegistryClient(hubs.fully_qualified_namespace, azure_credential())
    return AzureSchemaRegistry(client, hubs.fully_qualified_namespace)
