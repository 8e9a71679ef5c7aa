"""The Azure Schema Registry adapter at the SDK boundary: a fake client that answers as the
service does (same schema, same id; 404 for unknown ids; 4xx for incompatible schemas)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from eda_lake.catalogue import Catalogue
from eda_lake.events.wire import AvroDecoder, AvroEncoder
from eda_lake.registry.azure import AzureSchemaRegistry
from eda_lake.registry.base import (
    IncompatibleSchemaError,
    SchemaGroupNotFoundError,
    SchemaNotFoundError,
)
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.registry.schema import parse_schema
from eda_lake_tests.events.test_wire import sample
from eda_lake_tests.registry.evolution import V1, V2, V3

NAMESPACE = "example-ns.servicebus.windows.net"


@dataclass
class Props:
    id: str
    group_name: str
    name: str
    version: int
    format: str = "Avro"


@dataclass
class Schema:
    definition: str
    properties: Props


class FakeSchemaRegistryClient:
    """What the service does, in memory: the group's mode is Backward."""

    def __init__(self, groups: set[str]) -> None:
        self.groups = groups
        self.by_id: dict[str, Schema] = {}

    def _versions(self, group: str, name: str) -> list[Schema]:
        found = [
            s
            for s in self.by_id.values()
            if (s.properties.group_name, s.properties.name) == (group, name)
        ]
        return sorted(found, key=lambda s: s.properties.version)

    def register_schema(self, group: str, name: str, definition: str, fmt: str) -> Props:
        if group not in self.groups:
            raise ResourceNotFoundError(f"group {group} not found")
        for existing in self._versions(group, name):
            if existing.definition == definition:
                return existing.properties
        new = parse_schema(definition)
        old = [parse_schema(s.definition) for s in self._versions(group, name)]
        problems = compatibility_problems(Compatibility.BACKWARD, new, old)
        if problems:
            error = HttpResponseError(message=f"Schema is not backward compatible: {problems[0]}")
            error.status_code = 409
            raise error
        props = Props(hashlib.md5(definition.encode()).hexdigest(), group, name, len(old) + 1)
        self.by_id[props.id] = Schema(definition, props)
        return props

    def get_schema_properties(self, group: str, name: str, definition: str, fmt: str) -> Props:
        for existing in self._versions(group, name):
            if existing.definition == definition:
                return existing.properties
        raise ResourceNotFoundError("no such schema")

    def get_schema(self, schema_id: str | None = None, **kwargs: Any) -> Schema:
        if schema_id is not None:
            if schema_id not in self.by_id:
                raise ResourceNotFoundError("no such id")
            return self.by_id[schema_id]
        versions = self._versions(kwargs["group_name"], kwargs["name"])
        version = int(kwargs["version"])
        if not 1 <= version <= len(versions):
            raise ResourceNotFoundError("no such version")
        return versions[version - 1]


def _registry() -> AzureSchemaRegistry:
    return AzureSchemaRegistry(FakeSchemaRegistryClient({"g"}), NAMESPACE)


def test_register_find_get_and_versions() -> None:
    registry = _registry()
    first = registry.register("g", V1)
    assert registry.register("g", V1) == first
    second = registry.register("g", V2)
    assert (first.version, second.version) == (1, 2)
    assert registry.find("g", V2) == second and registry.find("g", V3) is None
    assert registry.get(second.id).schema.canonical == V2.canonical
    assert registry.get_version("g", "test.evolution.Thing", 1).properties == first
    assert registry.versions("g", "test.evolution.Thing") == [1, 2]
    assert registry.schema_uri(first.id) == f"https://{NAMESPACE}/$schemaGroups/$schemas/{first.id}"


def test_service_refusals_become_the_registry_errors() -> None:
    registry = _registry()
    registry.register("g", V1)
    with pytest.raises(IncompatibleSchemaError, match="not backward compatible"):
        registry.register("g", V3)
    with pytest.raises(SchemaGroupNotFoundError, match="provision"):
        registry.register("missing", V1)
    with pytest.raises(SchemaNotFoundError, match="abc"):
        registry.get("abc")
    with pytest.raises(SchemaGroupNotFoundError, match=r"eda-lake provision --target azure"):
        registry.ensure_group("g", Compatibility.BACKWARD)
    with pytest.raises(ValueError, match="not Full"):
        registry.ensure_group("g", Compatibility.FULL)


def test_payload_bytes_equal_the_embedded_registrys(
    catalogue: Catalogue, registry: EmbeddedSchemaRegistry
) -> None:
    azure = AzureSchemaRegistry(FakeSchemaRegistryClient({catalogue.schema_group}), NAMESPACE)
    for spec in catalogue.events.values():
        record = sample(spec.schema)
        local = AvroEncoder(registry, catalogue.schema_group).encode(record, spec.schema)
        remote = AvroEncoder(azure, catalogue.schema_group).encode(record, spec.schema)
        assert local.body == remote.body and local.schema_id != remote.schema_id
        assert remote.content_type == f"avro/binary+{remote.schema_id}"
        decoded = AvroDecoder(azure).decode(remote.body, content_type=remote.content_type)
        assert decoded == AvroDecoder(registry).decode(local.body, content_type=local.content_type)
