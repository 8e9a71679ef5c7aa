"""The schema registry on Azure Schema Registry (Event Hubs namespaces), over
`azure-schemaregistry`. Entra ID only, as the service requires.

The data plane registers and looks up schemas; schema groups and their compatibility mode
are management-plane resources, created by provisioning (`infra_scripts`). Payload bytes are
the same as with the embedded registry: schemaless Avro with `avro/binary+<id>`; only the ids
differ, so a lake can be fed by either.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from eda_lake.registry.base import (
    IncompatibleSchemaError,
    RegisteredSchema,
    SchemaGroupNotFoundError,
    SchemaNotFoundError,
    SchemaProperties,
    validate_schema_id,
)
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.schema import AvroSchema, parse_schema, require_finite

AVRO = "Avro"


class AzureSchemaRegistry:
    """Implements `SchemaRegistry` over an `azure.schemaregistry.SchemaRegistryClient`."""

    def __init__(self, client: Any, fully_qualified_namespace: str, groups: Any = None) -> None:
        self.client = client
        self.namespace = fully_qualified_namespace
        self.groups = groups  # management plane: ensure_group / group_compatibility
        self._by_id: dict[str, RegisteredSchema] = {}

    def _management(self) -> Any:
        if self.groups is None:
            raise SchemaGroupNotFoundError(
                "schema groups on Azure are created by provisioning: run "
                "`eda-lake provision --target azure`"
            )
        return self.groups

    def ensure_group(self, group: str, compatibility: Compatibility) -> None:
        if compatibility is Compatibility.FULL:
            raise ValueError(
                f"schema group {group!r}: Azure Schema Registry offers None, Backward and "
                "Forward compatibility, not Full"
            )
        self._management().ensure_group(group, compatibility)

    def group_compatibility(self, group: str) -> Compatibility:
        return Compatibility(self._management().group_compatibility(group))

    def register(self, group: str, schema: AvroSchema) -> SchemaProperties:
        require_finite(schema)
        try:
            props = self.client.register_schema(group, schema.full_name, schema.definition, AVRO)
        except ResourceNotFoundError:
            raise SchemaGroupNotFoundError(
                f"schema group {group!r} does not exist in {self.namespace}; provision it first"
            ) from None
        except HttpResponseError as exc:
            if exc.status_code in (400, 409, 415) or "ompatib" in str(exc.message or ""):
                raise IncompatibleSchemaError(
                    schema.full_name, Compatibility.NONE, [str(exc.message or exc)]
                ) from None
            raise
        return SchemaProperties(props.id, group, schema.full_name, int(props.version))

    def find(self, group: str, schema: AvroSchema) -> SchemaProperties | None:
        try:
            props = self.client.get_schema_properties(
                group, schema.full_name, schema.definition, AVRO
            )
        except ResourceNotFoundError:
            return None
        return SchemaProperties(props.id, group, schema.full_name, int(props.version))

    def get(self, schema_id: str) -> RegisteredSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        validate_schema_id(schema_id)
        try:
            found = self._registered(self.client.get_schema(schema_id))
        except ResourceNotFoundError:
            raise SchemaNotFoundError(
                f"schema id {schema_id!r} is not registered in {self.namespace}"
            ) from None
        self._by_id[schema_id] = found  # ids are immutable: safe to cache forever
        return found

    def get_version(self, group: str, name: str, version: int) -> RegisteredSchema:
        try:
            return self._registered(
                self.client.get_schema(group_name=group, name=name, version=version)
            )
        except ResourceNotFoundError:
            raise SchemaNotFoundError(
                f"no version {version} of {name} in schema group {group!r}"
            ) from None

    def versions(self, group: str, name: str) -> list[int]:
        """Versions are consecutive from 1; the data plane lists none, so they are probed."""
        found: list[int] = []
        version = 1
        while True:
            try:
                self.client.get_schema(group_name=group, name=name, version=version)
            except ResourceNotFoundError:
                return found
            found.append(version)
            version += 1

    def schema_uri(self, schema_id: str) -> str:
        return f"https://{self.namespace}/$schemaGroups/$schemas/{schema_id}"

    @staticmethod
    def _registered(schema: Any) -> RegisteredSchema:
        props = schema.properties
        parsed = parse_schema(schema.definition, f"{props.group_name}/{props.name}")
        return RegisteredSchema(
            SchemaProperties(props.id, props.group_name, props.name, int(props.version)), parsed
        )
