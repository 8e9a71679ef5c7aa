"""An Avro schema as the registry and the encoders see it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType


class SchemaDefinitionError(ValueError):
    """A schema text is not a valid Avro record schema."""


@dataclass(frozen=True)
class AvroSchema:
    """A parsed, validated Avro record schema; `origin` names where it came from for errors."""

    definition: str
    parsed: dict[str, Any] = field(repr=False)
    origin: str = "<schema>"

    @cached_property
    def full_name(self) -> str:
        name = str(self.parsed["name"])
        namespace = self.parsed.get("namespace")
        return name if "." in name or not namespace else f"{namespace}.{name}"

    @cached_property
    def canonical(self) -> str:
        """Stable text of the whole schema (docs, defaults and attributes included).

        Avro's Parsing Canonical Form drops defaults and aliases, which change how data is
        resolved, so two schemas that differ only there must not share an id.
        """
        return json.dumps(self.parsed, sort_keys=True, separators=(",", ":"))

    @cached_property
    def fastavro(self) -> Any:
        """The schema compiled for fastavro's readers and writers."""
        return fastavro.parse_schema(self.parsed)

    def personal_fields(self) -> list[str]:
        """Names of the top-level fields marked `"personal": true`."""
        return [f["name"] for f in self.parsed["fields"] if f.get("personal") is True]


def parse_schema(definition: str, origin: str = "<schema>") -> AvroSchema:
    """Parse and validate a schema text; the error names `origin` and what is wrong."""
    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError as exc:
        raise SchemaDefinitionError(
            f"{origin}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise SchemaDefinitionError(
            f"{origin}: an event schema must be an Avro record "
            '(a JSON object with "type": "record")'
        )
    try:
        fastavro.parse_schema(parsed, _write_hint=False)
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
        raise SchemaDefinitionError(f"{origin}: not a valid Avro schema: {exc}") from None
    return AvroSchema(definition=definition, parsed=parsed, origin=origin)


def load_schema_file(path: Path) -> AvroSchema:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaDefinitionError(f"{path}: schema file not found") from None
    return parse_schema(text, origin=str(path))
