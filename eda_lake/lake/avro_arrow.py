"""Avro record schemas as Arrow schemas, and decoded records as Arrow columns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from eda_lake.lake.bronze_schema import UTC_MICROS

_PRIMITIVES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_LOGICAL: dict[str, pa.DataType] = {
    "uuid": pa.string(),
    "timestamp-micros": UTC_MICROS,
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "date": pa.date32(),
}


class UnsupportedAvroTypeError(ValueError):
    """A schema uses a type the silver layer has no Arrow column for."""


def arrow_type(avro: Any) -> pa.DataType:
    if isinstance(avro, str):
        if avro in _PRIMITIVES:
            return _PRIMITIVES[avro]
        raise UnsupportedAvroTypeError(f"named type reference {avro!r} is not supported in silver")
    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) == 1:
            return arrow_type(branches[0])
        raise UnsupportedAvroTypeError(f"union {avro} has more than one non-null branch")
    logical = avro.get("logicalType")
    if logical == "decimal":
        return pa.decimal128(int(avro["precision"]), int(avro.get("scale", 0)))
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    kind = avro["type"]
    if kind == "enum":
        return pa.string()
    if kind == "array":
        return pa.list_(arrow_type(avro["items"]))
    if kind == "map":
        return pa.map_(pa.string(), arrow_type(avro["values"]))
    if kind == "record":
        return pa.struct([pa.field(f["name"], arrow_type(f["type"])) for f in avro["fields"]])
    return arrow_type(kind)


def arrow_fields(record_schema: dict[str, Any]) -> list[pa.Field]:
    return [pa.field(f["name"], arrow_type(f["type"])) for f in record_schema["fields"]]


def column(values: Sequence[Any], type_: pa.DataType) -> pa.Array:
    """An Arrow column from decoded Avro values (UUID objects become their text form)."""
    if pa.types.is_string(type_) and any(isinstance(v, uuid.UUID) for v in values[:1]):
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, type=type_)
