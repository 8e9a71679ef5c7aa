"""The compiled encoder of flat record schemas (`native/_avro.pyx`: `FlatEncoder`).

Publishers encode one record per event, and fastavro's `schemaless_writer` spends most of
its time per call, not per byte. A record of primitives, enums, uuids, timestamps and bytes
decimals (each optionally in a union with null: every catalogue schema) is encoded by the
compiled encoder instead, byte for byte as fastavro would; any other schema, and any record
it is not sure of, is left to fastavro, which then encodes or refuses it itself.
"""

from __future__ import annotations

from typing import Any

from eda_lake.native import avro as native
from eda_lake.registry.schema import AvroSchema, nullable_fields

# Kind codes of the compiled encoder.
_PRIMITIVES = {"null": 0, "boolean": 1, "int": 2, "long": 3, "double": 4, "bytes": 5, "string": 6}
_ENUM, _UUID, _TIMESTAMP_MICROS, _TIMESTAMP_MILLIS, _DECIMAL_BYTES = 7, 8, 9, 10, 11
_LOGICAL = {
    ("string", "uuid"): _UUID,
    ("long", "timestamp-micros"): _TIMESTAMP_MICROS,
    ("long", "timestamp-millis"): _TIMESTAMP_MILLIS,
}

Step = tuple[str, int, int, Any]


def flat_encoder(schema: AvroSchema) -> Any | None:
    """The compiled encoder for `schema`, or None (not a flat schema: fastavro encodes it)."""
    plan = encoding_plan(schema)
    return None if plan is None else native.FlatEncoder(plan)


def encoding_plan(schema: AvroSchema) -> list[Step] | None:
    """Per field (name, kind, null branch or -1, enum symbols or decimal (scale, precision)),
    or None if a field has a type the compiled encoder leaves to fastavro (a float, a fixed,
    a nested or named type, a logical type other than those above, a wider union)."""
    fields = nullable_fields(schema)
    if fields is None:
        return None
    plan: list[Step] = []
    for name, node, null_branch in fields:
        step = _kind(node)
        if step is None:
            return None
        plan.append((name, step[0], null_branch, step[1]))
    return plan


def _kind(node: Any) -> tuple[int, Any] | None:
    if isinstance(node, str):
        return (_PRIMITIVES[node], None) if node in _PRIMITIVES else None
    if not isinstance(node, dict):
        return None
    kind, logical = node.get("type"), node.get("logicalType")
    if kind == "enum" and logical is None:
        return _ENUM, {symbol: index for index, symbol in enumerate(node["symbols"])}
    if logical == "decimal" and kind == "bytes":
        return _DECIMAL_BYTES, (int(node.get("scale", 0)), int(node["precision"]))
    if logical is not None:
        code = _LOGICAL.get((str(kind), str(logical)))
        return None if code is None else (code, None)
    return (_PRIMITIVES[kind], None) if isinstance(kind, str) and kind in _PRIMITIVES else None
