"""The schema registry interface, shaped like Azure Schema Registry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.schema import AvroSchema
from eda_lake.shared.errors import UserError

# Azure's schema ids are 32 hex digits; accept any id made of URI-safe characters.
_SCHEMA_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class RegistryError(Exception):
    """Base of the registry's errors."""


class SchemaNotFoundError(RegistryError, LookupError):
    """No schema with that id (or group, name and version) is registered."""


class SchemaGroupNotFoundError(RegistryError, UserError, LookupError):
    """The schema group does not exist."""


class IncompatibleSchemaError(RegistryError, UserError):
    """Registering the schema would break the group's compatibility mode."""

    def __init__(self, name: str, mode: Compatibility, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n  - ".join(problems)
        super().__init__(
            f"schema {name} is not {mode.value}-compatible with the registered versions; "
            f"nothing was registered:\n  - {listing}"
        )


class InvalidSchemaIdError(RegistryError, ValueError):
    """A schema id is malformed."""


def validate_schema_id(schema_id: str) -> str:
    if not isinstance(schema_id, str) or not _SCHEMA_ID.fullmatch(schema_id):
        raise InvalidSchemaIdError(
            f"malformed schema id {schema_id!r}: expected up to 128 letters, digits, '.', '-' "
            "or '_' (Azure's ids are 32 hex digits)"
        )
    return schema_id


@dataclass(frozen=True)
class SchemaProperties:
    id: str
    group: str
    name: str
    version: int


@dataclass(frozen=True)
class RegisteredSchema:
    properties: SchemaProperties
    schema: AvroSchema


class SchemaRegistry(Protocol):
    """What eda-lake needs of a schema registry; adapters live beside this module."""

    def ensure_group(self, group: str, compatibility: Compatibility) -> None:
        """Create the group, or set its compatibility mode if it exists."""

    def group_compatibility(self, group: str) -> Compatibility:
        """The group's mode; SchemaGroupNotFoundError if there is no such group."""

    def register(self, group: str, schema: AvroSchema) -> SchemaProperties:
        """Register under the schema's Avro full name; same schema, same id."""

    def find(self, group: str, schema: AvroSchema) -> SchemaProperties | None:
        """The id of this exact schema if it is registered, else None."""

    def get(self, schema_id: str) -> RegisteredSchema:
        """Look up by id; SchemaNotFoundError when unknown."""

    def get_version(self, group: str, name: str, version: int) -> RegisteredSchema:
        """Look up by group, name and version."""

    def versions(self, group: str, name: str) -> list[int]:
        """The versions registered under a name, oldest first."""

    def schema_uri(self, schema_id: str) -> str:
        """A URI for CloudEvents `dataschema` that ends in the schema id."""
