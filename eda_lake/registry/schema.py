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
        """Names of the top-level fields marked `"personal": true` (`lake.masking` also
        finds those nested in records, arrays, maps and unions)."""
        return [f["name"] for f in self.parsed["fields"] if f.get("personal") is True]


def nullable_fields(schema: AvroSchema) -> list[tuple[str, Any, int]] | None:
    """Each top-level field as (name, type, null branch): a union of null and one other type
    gives that type and the index of null in the union, any other type itself and -1; None
    if a field is any other union (the compiled encoder and decoder take none)."""
    fields = []
    for field_ in schema.parsed["fields"]:
        node, null_branch = field_["type"], -1
        if isinstance(node, list):
            if len(node) != 2 or "null" not in node:
                return None
            null_branch = node.index("null")
            node = node[1 - null_branch]
        fields.append((field_["name"], node, null_branch))
    return fields


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
    """A catalogue schema: valid Avro, and its `personal` marks ones the lake can honour."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaDefinitionError(f"{path}: schema file not found") from None
    schema = parse_schema(text, origin=str(path))
    problems = personal_problems(schema.parsed)
    if problems:
        raise SchemaDefinitionError(f"{path}: {'; '.join(problems)}")
    return schema


_TEXT = frozenset({"string", "bytes", "enum", "fixed"})


def personal_problems(parsed: dict[str, Any]) -> list[str]:
    """Why the `"personal"` marks of a record schema (at any depth) cannot be honoured.

    The lake replaces a personal value by its keyed hash, which is text: the mark must be the
    boolean `true` (a string "true" would silently leave the data in clear), on a field whose
    values are text (string, bytes, enum, fixed), arrays or maps of text, or a union of
    several types (held as JSON text). A record is not masked whole: mark its fields.
    """
    named: dict[str, Any] = {}
    problems: list[str] = []
    seen: set[int] = set()

    def collect(node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for branch in node:
                collect(branch, namespace)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in ("record", "error", "enum", "fixed"):
                name = str(node["name"])
                ns = node.get("namespace", namespace)
                full = name if "." in name or not ns else f"{ns}.{name}"
                named[full] = named[name] = node
                for f in node.get("fields", []):
                    collect(f["type"], full.rpartition(".")[0])
            elif kind in ("array", "map"):
                collect(node["items" if kind == "array" else "values"], namespace)
            elif isinstance(kind, dict | list):
                collect(kind, namespace)

    def resolve(node: Any) -> Any:
        while True:
            if isinstance(node, str) and node in named:
                node = named[node]
            elif isinstance(node, dict) and (
                isinstance(node.get("type"), dict | list) or node.get("type") in named
            ):
                node = node["type"]
            else:
                return node

    def maskable(node: Any) -> bool:
        node = resolve(node)
        if isinstance(node, list):
            branches = [b for b in node if b != "null"]
            return len(branches) != 1 or maskable(branches[0])
        kind = node.get("type") if isinstance(node, dict) else node
        if isinstance(node, dict) and node.get("logicalType") == "decimal":
            return False
        if kind == "array":
            return maskable(node["items"])
        if kind == "map":
            return maskable(node["values"])
        return kind in _TEXT

    def walk(node: Any, path: str) -> None:
        node = resolve(node)
        if isinstance(node, list):
            for branch in node:
                walk(branch, path)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind in ("record", "error"):
            if id(node) in seen:
                return
            seen.add(id(node))
            for f in node.get("fields", []):
                where = f"{path}.{f['name']}"
                mark = f.get("personal", False)
                if "personal" in f and mark is not True:
                    problems.append(
                        f'field {where}: "personal" must be the boolean true, not '
                        f'{json.dumps(mark)}; write "personal": true, or remove it'
                    )
                elif mark is True and not maskable(f["type"]):
                    problems.append(
                        f"field {where} is marked personal but its values are not text: only "
                        "string, bytes, enum and fixed values (or arrays, maps or unions of "
                        "them) are masked; mark the text fields inside it instead"
                    )
                walk(f["type"], where)
        elif kind == "array":
            walk(node["items"], f"{path}[]")
        elif kind == "map":
            walk(node["values"], f"{path}{{}}")

    collect(parsed, "")
    walk(parsed, str(parsed.get("name")))
    return problems
