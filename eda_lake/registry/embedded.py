"""The embedded schema registry: one SQLite file, safe for several processes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from eda_lake.embedded.durable import connect, write_transaction
from eda_lake.registry.base import (
    IncompatibleSchemaError,
    RegisteredSchema,
    SchemaGroupNotFoundError,
    SchemaNotFoundError,
    SchemaProperties,
    validate_schema_id,
)
from eda_lake.registry.compatibility import Compatibility, compatibility_problems
from eda_lake.registry.schema import AvroSchema, parse_schema, require_finite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_groups (
    name TEXT PRIMARY KEY,
    compatibility TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schemas (
    id TEXT PRIMARY KEY,
    group_name TEXT NOT NULL REFERENCES schema_groups(name),
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    canonical TEXT NOT NULL,
    definition TEXT NOT NULL,
    UNIQUE (group_name, name, version),
    UNIQUE (group_name, name, canonical)
);
"""

URI_SCHEME = "urn:eda-lake:schema"


def embedded_schema_id(group: str, name: str, canonical: str) -> str:
    """Ids derived from content: the same catalogue gives the same ids on every machine,
    so two demo runs with one seed produce identical tables."""
    digest = hashlib.sha256(f"{group}\0{name}\0{canonical}".encode()).hexdigest()
    return digest[:32]


class EmbeddedSchemaRegistry:
    """Embedded registry. Registration checks run inside the write lock, so two processes
    registering at once cannot both pass the check against a stale list of versions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)
        self._by_id: dict[str, RegisteredSchema] = {}

    def close(self) -> None:
        self._conn.close()

    def ensure_group(self, group: str, compatibility: Compatibility) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO schema_groups (name, compatibility) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET compatibility = excluded.compatibility",
                (group, compatibility.value),
            )

    def group_compatibility(self, group: str) -> Compatibility:
        row = self._conn.execute(
            "SELECT compatibility FROM schema_groups WHERE name = ?", (group,)
        ).fetchone()
        if row is None:
            raise SchemaGroupNotFoundError(
                f"schema group {group!r} does not exist in {self.path}; provision it first "
                "(eda-lake provision)"
            )
        return Compatibility(row[0])

    def register(self, group: str, schema: AvroSchema) -> SchemaProperties:
        require_finite(schema)
        name = schema.full_name
        with write_transaction(self._conn) as conn:
            mode = self.group_compatibility(group)
            existing = self._find(group, schema)
            if existing is not None:
                return existing
            rows = conn.execute(
                "SELECT version, definition FROM schemas WHERE group_name = ? AND name = ? "
                "ORDER BY version",
                (group, name),
            ).fetchall()
            previous = [parse_schema(d, f"{group}/{name} v{v}") for v, d in rows]
            problems = compatibility_problems(mode, schema, previous)
            if problems:
                raise IncompatibleSchemaError(name, mode, problems)
            version = len(rows) + 1
            props = SchemaProperties(
                embedded_schema_id(group, name, schema.canonical), group, name, version
            )
            conn.execute(
                "INSERT INTO schemas (id, group_name, name, version, canonical, definition) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (props.id, group, name, version, schema.canonical, schema.definition),
            )
        return props

    def _find(self, group: str, schema: AvroSchema) -> SchemaProperties | None:
        row = self._conn.execute(
            "SELECT id, version FROM schemas WHERE group_name = ? AND name = ? AND canonical = ?",
            (group, schema.full_name, schema.canonical),
        ).fetchone()
        return None if row is None else SchemaProperties(row[0], group, schema.full_name, row[1])

    def find(self, group: str, schema: AvroSchema) -> SchemaProperties | None:
        return self._find(group, schema)

    def get(self, schema_id: str) -> RegisteredSchema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        validate_schema_id(schema_id)
        row = self._conn.execute(
            "SELECT group_name, name, version, definition FROM schemas WHERE id = ?",
            (schema_id,),
        ).fetchone()
        if row is None:
            raise SchemaNotFoundError(
                f"schema id {schema_id!r} is not registered in {self.path}; was the event "
                "encoded against another registry?"
            )
        found = self._row(schema_id, *row)
        self._by_id[schema_id] = found  # ids are immutable: safe to cache forever
        return found

    def get_version(self, group: str, name: str, version: int) -> RegisteredSchema:
        row = self._conn.execute(
            "SELECT id, group_name, name, version, definition FROM schemas "
            "WHERE group_name = ? AND name = ? AND version = ?",
            (group, name, version),
        ).fetchone()
        if row is None:
            raise SchemaNotFoundError(f"no version {version} of {name} in schema group {group!r}")
        return self._row(*row)

    def versions(self, group: str, name: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT version FROM schemas WHERE group_name = ? AND name = ? ORDER BY version",
            (group, name),
        ).fetchall()
        return [r[0] for r in rows]

    def schema_uri(self, schema_id: str) -> str:
        return f"{URI_SCHEME}:{schema_id}"

    @staticmethod
    def _row(
        schema_id: str, group: str, name: str, version: int, definition: str
    ) -> RegisteredSchema:
        return RegisteredSchema(
            SchemaProperties(schema_id, group, name, version),
            parse_schema(definition, f"{group}/{name} v{version}"),
        )
