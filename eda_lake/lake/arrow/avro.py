"""Avro record schemas as Arrow schemas, and decoded records as Arrow columns.

Every Avro type has a column: named references resolve to their definition, and a union of
several non-null branches (which Parquet cannot hold as such) becomes a JSON text column, so
a schema never stops silver.

An Avro `int` is stored as a 64-bit integer and a `float` as a 64-bit float from a column's
first commit, so that the Avro promotions int to long and float to double (which a later
schema version may make) keep the column's type: Delta cannot widen a column in place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from eda_lake.capture.arrow_schema import UTC_MICROS

# Marks a column holding JSON text for a union of several types.
JSON_UNION = pa.string()
_JSON_METADATA = {b"eda_lake.encoding": b"json"}

_PRIMITIVES: dict[str, pa.DataType] = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int64(),
    "long": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL: dict[str, pa.DataType] = {
    "uuid": pa.string(),
    "timestamp-micros": UTC_MICROS,
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "local-timestamp-micros": pa.timestamp("us"),
    "local-timestamp-millis": pa.timestamp("ms"),
    "date": pa.date32(),
}


def collect_named(node: Any, named: dict[str, Any], namespace: str = "") -> None:
    """Every named type (record, enum, fixed) of a schema, by full and short name."""
    if isinstance(node, list):
        for branch in node:
            collect_named(branch, named, namespace)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed"):
            name = str(node["name"])
            ns = node.get("namespace", namespace)
            full = name if "." in name or not ns else f"{ns}.{name}"
            named[full] = named[name] = node
            for field in node.get("fields", []):
                collect_named(field["type"], named, full.rpartition(".")[0])
        elif kind == "array":
            collect_named(node["items"], named, namespace)
        elif kind == "map":
            collect_named(node["values"], named, namespace)
        elif isinstance(kind, dict | list):
            collect_named(kind, named, namespace)


class _Types:
    def __init__(self, root: Any) -> None:
        self.named: dict[str, Any] = {}
        collect_named(root, self.named)

    def arrow(self, avro: Any) -> pa.DataType:
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return _PRIMITIVES[avro]
            return self.arrow(self.named[avro]) if avro in self.named else pa.string()
        if isinstance(avro, list):
            branches = [b for b in avro if b != "null"]
            return self.arrow(branches[0]) if len(branches) == 1 else JSON_UNION
        logical = avro.get("logicalType")
        if logical == "decimal" and avro["type"] in ("bytes", "fixed"):
            return pa.decimal128(int(avro["precision"]), int(avro.get("scale", 0)))
        if logical in _LOGICAL:
            return _LOGICAL[logical]
        kind = avro["type"]
        if kind == "enum":
            return pa.string()
        if kind == "fixed":
            return pa.binary()
        if kind == "array":
            return pa.list_(self.arrow(avro["items"]))
        if kind == "map":
            return pa.map_(pa.string(), self.arrow(avro["values"]))
        if kind == "record":
            return pa.struct([self.field(f) for f in avro["fields"]])
        return self.arrow(kind)

    def field(self, avro_field: dict[str, Any]) -> pa.Field:
        node = avro_field["type"]
        is_union = isinstance(node, list) and len([b for b in node if b != "null"]) > 1
        metadata = _JSON_METADATA if is_union else None
        return pa.field(avro_field["name"], self.arrow(node), metadata=metadata)


def arrow_fields(record_schema: dict[str, Any]) -> list[pa.Field]:
    types = _Types(record_schema)
    return [types.field(f) for f in record_schema["fields"]]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Decimal | uuid.UUID | datetime | date):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def column(values: Sequence[Any], field: pa.Field) -> pa.Array:
    """An Arrow column from decoded Avro values (UUID objects become their text form; a
    multi-type union, its JSON)."""
    if field.metadata == _JSON_METADATA:
        values = [None if v is None else json.dumps(v, default=_json_default) for v in values]
    elif pa.types.is_string(field.type) and any(isinstance(v, uuid.UUID) for v in values[:1]):
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, type=field.type)
