"""An Avro schema as the registry and the encoders see it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from eda_lake.shared.errors import UserError


class SchemaDefinitionError(UserError, ValueError):
    """A schema text is not a valid Avro record schema."""


@dataclass(frozen=True)
class AvroSchema:
    """A parsed, validated Avro record schema; `origin` names where it came from for errors."""

    definition: str
    parsed: dict[str, Any] = field(repr=False)
    origin: str = "<schema>"

    @cached_property
    def full_name(self) -> str:
        return full_name(self.parsed, "")

    @cached_property
    def names(self) -> frozenset[str]:
        """Its full name and its aliases' (see `type_names`)."""
        return type_names(self.parsed, "")

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


# Objects and arrays nested in a schema's JSON (about three per nested record): every walk of
# a schema and of its values (resolution, columns, body checks, fastavro) recurses through
# them, and must stay within Python's stack wherever it runs.
MAX_NESTING = 100


def _nesting(node: Any) -> int:
    """How deep JSON objects and arrays nest in a parsed JSON value (walked without
    recursion, so any depth is measured)."""
    deepest, stack = 0, [(node, 1)] if isinstance(node, dict | list) else []
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        stack += [(child, depth + 1) for child in children if isinstance(child, dict | list)]
    return deepest


def parse_schema(definition: str, origin: str = "<schema>") -> AvroSchema:
    """Parse and validate a schema text; the error names `origin` and what is wrong."""
    too_deep = SchemaDefinitionError(
        f"{origin}: nested deeper than {MAX_NESTING} levels of JSON objects and arrays, "
        "more than the lake reads; flatten it"
    )
    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError as exc:
        raise SchemaDefinitionError(
            f"{origin}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:  # deeper than the JSON parser's stack
        raise too_deep from None
    if _nesting(parsed) > MAX_NESTING:
        raise too_deep
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise SchemaDefinitionError(
            f"{origin}: an event schema must be an Avro record "
            '(a JSON object with "type": "record")'
        )
    try:
        fastavro.parse_schema(parsed, _write_hint=False)
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
        raise SchemaDefinitionError(f"{origin}: not a valid Avro schema: {exc}") from None
    shared = _shared_short_name(parsed)
    if shared is not None:
        raise SchemaDefinitionError(f"{origin}: {shared}")
    return AvroSchema(definition=definition, parsed=parsed, origin=origin)


def load_schema_file(path: Path) -> AvroSchema:
    """A catalogue schema: valid Avro, not recursive, and its `personal` marks ones the lake
    can honour."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaDefinitionError(f"{path}: schema file not found") from None
    schema = require_finite(parse_schema(text, origin=str(path)))
    problems = personal_problems(schema.parsed)
    if problems:
        raise SchemaDefinitionError(f"{path}: {'; '.join(problems)}")
    return schema


_TEXT = frozenset({"string", "bytes", "enum", "fixed"})


PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})


def full_name(node: dict[str, Any], namespace: str) -> str:
    """A named type's full name, `namespace` being the one around its definition."""
    name = str(node["name"])
    if "." in name:
        return name
    ns = node.get("namespace", namespace)
    return f"{ns}.{name}" if ns else name


def type_names(node: dict[str, Any], namespace: str) -> frozenset[str]:
    """A named type's full name and its aliases' (an alias without a dot is in the type's
    namespace): the names under which data of this type may be written."""
    full = full_name(node, namespace)
    own = full.rpartition(".")[0]
    aliases = node.get("aliases", [])
    return frozenset({full, *(a if "." in a or not own else f"{own}.{a}" for a in aliases)})


class NamedTypes:
    """Named types (records, enums, fixed) of one schema by full name, and references
    resolved as Avro's specification says: a name without a dot is in the namespace where it
    is written."""

    def __init__(self, root: Any) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._collect(root, "")

    def _collect(self, node: Any, namespace: str) -> None:
        if isinstance(node, list):
            for branch in node:
                self._collect(branch, namespace)
        elif isinstance(node, dict):
            kind = node.get("type")
            if kind in NAMED_KINDS:
                full = full_name(node, namespace)
                self.types[full] = node
                namespace = full.rpartition(".")[0]
                for f in node.get("fields", []):
                    self._collect(f["type"], namespace)
            elif kind == "array":
                self._collect(node["items"], namespace)
            elif kind == "map":
                self._collect(node["values"], namespace)
            elif isinstance(kind, dict | list):
                self._collect(kind, namespace)

    def resolve(self, node: Any, namespace: str) -> tuple[Any, str]:
        """The node behind a name reference or a wrapped type (`{"type": {...}}`), and the
        namespace that applies inside it."""
        if isinstance(node, str) and node not in PRIMITIVES:
            full = node if "." in node else f"{namespace}.{node}".lstrip(".")
            if full not in self.types and node in self.types:  # a name in no namespace
                full = node
            if full not in self.types:
                raise ValueError(f"unknown named type {node!r}")
            return self.types[full], full.rpartition(".")[0]
        if isinstance(node, dict) and isinstance(node.get("type"), dict | list):
            return self.resolve(node["type"], namespace)
        if isinstance(node, dict) and node.get("type") in PRIMITIVES and len(node) == 1:
            return node["type"], namespace
        if isinstance(node, dict) and node.get("type") in NAMED_KINDS:
            return node, full_name(node, namespace).rpartition(".")[0]
        return node, namespace


def _shared_short_name(parsed: dict[str, Any]) -> str | None:
    """Why two named types of a schema cannot be told apart: Avro's resolution compares
    names unqualified, so x.E and y.E in one schema would read each other's data."""
    by_short: dict[str, str] = {}
    for full in NamedTypes(parsed).types:
        short = full.rpartition(".")[2]
        if short in by_short:
            return (
                f"named types {by_short[short]} and {full} share the short name {short}: Avro's "
                "resolution compares names unqualified, so neither reads as itself; rename one"
            )
        by_short[short] = full
    return None


def personal_problems(parsed: dict[str, Any]) -> list[str]:
    """Why the `"personal"` marks of a record schema (at any depth) cannot be honoured.

    The lake replaces a personal value by its keyed hash, which is text: the mark must be the
    boolean `true` (a string "true" would silently leave the data in clear), on a field whose
    values are text (string, bytes, enum, fixed), arrays or maps of text, or a union of
    several types (held as JSON text). A record is not masked whole: mark its fields.
    """
    named = NamedTypes(parsed)
    problems: list[str] = []
    seen: set[int] = set()

    def maskable(node: Any, namespace: str) -> bool:
        node, namespace = named.resolve(node, namespace)
        if isinstance(node, list):
            branches = [b for b in node if b != "null"]
            return len(branches) != 1 or maskable(branches[0], namespace)
        kind = node.get("type") if isinstance(node, dict) else node
        if isinstance(node, dict) and node.get("logicalType") == "decimal":
            return False
        if kind == "array":
            return maskable(node["items"], namespace)
        if kind == "map":
            return maskable(node["values"], namespace)
        return kind in _TEXT

    def walk(node: Any, namespace: str, path: str) -> None:
        node, namespace = named.resolve(node, namespace)
        if isinstance(node, list):
            for branch in node:
                walk(branch, namespace, path)
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
                elif mark is True and not maskable(f["type"], namespace):
                    problems.append(
                        f"field {where} is marked personal but its values are not text: only "
                        "string, bytes, enum and fixed values (or arrays, maps or unions of "
                        "them) are masked; mark the text fields inside it instead"
                    )
                walk(f["type"], namespace, where)
        elif kind == "array":
            walk(node["items"], namespace, f"{path}[]")
        elif kind == "map":
            walk(node["values"], namespace, f"{path}{{}}")

    walk(parsed, "", str(parsed.get("name")))
    return problems


def recursion_problem(parsed: dict[str, Any]) -> str | None:
    """Why a record schema is recursive (a field whose type refers back to a record that
    holds it), naming that field; None if it is not. A table's columns are a finite tree:
    a recursive type has no Arrow or Delta type, and walking it never ends."""
    named = NamedTypes(parsed)
    enclosing: list[int] = []  # ids of the records the walk is inside

    def walk(node: Any, namespace: str, path: str) -> str | None:
        node, namespace = named.resolve(node, namespace)
        if isinstance(node, list):
            return next((p for b in node if (p := walk(b, namespace, path)) is not None), None)
        if not isinstance(node, dict):
            return None
        kind = node.get("type")
        if kind in ("record", "error"):
            if id(node) in enclosing:
                return (
                    f"field {path} refers back to record {node['name']}: a recursive type has "
                    "no column type in the lake's tables; flatten it (a list of the nodes, "
                    "say) or hold it as a JSON string"
                )
            enclosing.append(id(node))
            found = next(
                (
                    p
                    for f in node.get("fields", [])
                    if (p := walk(f["type"], namespace, f"{path}.{f['name']}")) is not None
                ),
                None,
            )
            enclosing.pop()
            return found
        if kind == "array":
            return walk(node["items"], namespace, f"{path}[]")
        if kind == "map":
            return walk(node["values"], namespace, f"{path}{{}}")
        return None

    return walk(parsed, "", str(parsed.get("name")))


def require_finite(schema: AvroSchema) -> AvroSchema:
    """The schema, if it is not recursive (checked where a catalogue schema is loaded and
    where any schema is registered); else SchemaDefinitionError naming the field."""
    problem = recursion_problem(schema.parsed)
    if problem is not None:
        raise SchemaDefinitionError(f"{schema.origin}: {problem}")
    return schema
