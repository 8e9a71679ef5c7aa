"""Registry payloads to Arrow columns of the catalogue's (reader) schema.

Bodies of one writer schema are decoded together: by the compiled flat decoder when the
writer schema is a flat record and the module was built, else body by body with fastavro.
Either way each body is checked to end exactly where its record ends, and each failure is
reported by position with its reason. Columns are then projected onto the reader schema by
name (aliases included): a reader field the writer lacks gets its default, a promoted type
(int to long, float to double, ...) is cast.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.lake.avro_arrow import arrow_fields, collect_named, column
from eda_lake.native import avro as native
from eda_lake.registry.schema import AvroSchema

# Kind codes of the compiled flat decoder (see native/_avro.pyx).
_PRIMITIVE_KINDS = {
    "null": 0, "boolean": 1, "int": 2, "long": 3, "float": 4, "double": 5, "bytes": 6,
    "string": 7,
}  # fmt: skip
_ENUM, _FIXED, _DECIMAL_BYTES, _DECIMAL_FIXED = 8, 9, 10, 11
_TIMESTAMPS = {
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "local-timestamp-micros": pa.timestamp("us"),
    "local-timestamp-millis": pa.timestamp("ms"),
}


class ProjectionError(ValueError):
    """The writer's data cannot be projected onto the reader's fields."""


@dataclass
class DecodedPayloads:
    columns: dict[str, pa.Array]  # reader field -> values of the rows that decoded
    decoded: list[int]  # positions (in the given bodies) of those rows
    failed: list[tuple[int, str]]  # positions that failed, with the reason


def _field_plan(node: Any, named: dict[str, dict[str, Any]]) -> tuple[int, int] | None:
    """(kind, fixed size) of a non-union type the flat decoder takes, else None."""
    if isinstance(node, str):
        if node in _PRIMITIVE_KINDS:
            return _PRIMITIVE_KINDS[node], 0
        node = named.get(node)
        if node is None:
            return None
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if node.get("logicalType") == "decimal":
        if kind == "bytes":
            return _DECIMAL_BYTES, 0
        if kind == "fixed":
            return _DECIMAL_FIXED, int(node["size"])
        return None
    if kind == "enum":
        return _ENUM, 0
    if kind == "fixed":
        return _FIXED, int(node["size"])
    if isinstance(kind, str) and kind in _PRIMITIVE_KINDS:
        return _PRIMITIVE_KINDS[kind], 0
    return None


def flat_plan(schema: AvroSchema) -> list[tuple[int, int, int]] | None:
    """The compiled decoder's plan for a writer schema, or None if it is not flat."""
    named: dict[str, dict[str, Any]] = {}
    collect_named(schema.parsed, named)
    plan = []
    for field in schema.parsed["fields"]:
        node, null_branch = field["type"], -1
        if isinstance(node, list):
            if len(node) != 2 or "null" not in node:
                return None
            null_branch = node.index("null")
            node = node[1 - null_branch]
        step = _field_plan(node, named)
        if step is None:
            return None
        plan.append((step[0], null_branch, step[1]))
    return plan


def _resolved(node: Any, named: dict[str, dict[str, Any]]) -> Any:
    if isinstance(node, list):
        node = next(b for b in node if b != "null")
    if isinstance(node, str) and node in named:
        return named[node]
    return node if isinstance(node, dict | str) else str(node)


def _native_column(node: Any, kind: int, parts: Any) -> pa.Array:
    """Arrow array of one writer field from the compiled decoder's buffers."""

    def fixed_width(type_: pa.DataType) -> pa.Array:
        bits, values, nulls, length = parts
        buffers = [None if bits is None else pa.py_buffer(bits), pa.py_buffer(values)]
        return pa.Array.from_buffers(type_, length, buffers, null_count=nulls)

    def variable(type_: pa.DataType) -> pa.Array:
        bits, offsets, data, nulls, length = parts
        buffers = [
            None if bits is None else pa.py_buffer(bits),
            pa.py_buffer(offsets),
            pa.py_buffer(data),
        ]
        return pa.Array.from_buffers(type_, length, buffers, null_count=nulls)

    logical = node.get("logicalType") if isinstance(node, dict) else None
    if kind in (_DECIMAL_BYTES, _DECIMAL_FIXED):
        return fixed_width(pa.decimal128(int(node["precision"]), int(node.get("scale", 0))))
    if kind == _PRIMITIVE_KINDS["long"]:
        return fixed_width(_TIMESTAMPS.get(str(logical), pa.int64()))
    if kind == _PRIMITIVE_KINDS["int"]:
        values = pc.cast(fixed_width(pa.int64()), pa.int32())
        return values.view(pa.date32()) if logical == "date" else values
    if kind == _PRIMITIVE_KINDS["boolean"]:
        return pc.cast(fixed_width(pa.int64()), pa.bool_())
    if kind == _PRIMITIVE_KINDS["double"]:
        return fixed_width(pa.float64())
    if kind == _PRIMITIVE_KINDS["float"]:
        return pc.cast(fixed_width(pa.float64()), pa.float32())
    if kind == _PRIMITIVE_KINDS["string"]:
        return variable(pa.string())
    if kind in (_PRIMITIVE_KINDS["bytes"], _FIXED):
        return variable(pa.binary())
    if kind == _ENUM:
        indices = fixed_width(pa.int64())
        symbols = pa.array(node["symbols"], pa.string())
        if pc.max(indices).as_py() is not None and pc.max(indices).as_py() >= len(symbols):
            raise ProjectionError("enum index out of range")
        return pc.take(symbols, indices)
    if kind == _PRIMITIVE_KINDS["null"]:
        return pa.nulls(parts[3])
    raise ProjectionError(f"no Arrow column for decoder kind {kind}")


def _decode_native(
    writer: AvroSchema, plan: list[tuple[int, int, int]], bodies: list[bytes | None]
) -> tuple[dict[str, pa.Array], list[int], list[tuple[int, str]]]:
    decoder = native.FlatDecoder(plan)  # type: ignore[union-attr]
    decoder.decode(bodies)
    parts, decoded, failed = decoder.finish()
    named: dict[str, dict[str, Any]] = {}
    collect_named(writer.parsed, named)
    columns = {}
    for field, step, part in zip(writer.parsed["fields"], plan, parts, strict=True):
        node = _resolved(field["type"], named)
        columns[field["name"]] = _native_column(node, step[0], part)
    return columns, decoded, failed


def _project(
    writer: AvroSchema, reader: AvroSchema, columns: dict[str, pa.Array], rows: int
) -> dict[str, pa.Array]:
    writer_names = {f["name"] for f in writer.parsed["fields"]}
    projected = {}
    for field, arrow_field in zip(
        reader.parsed["fields"], arrow_fields(reader.parsed), strict=True
    ):
        source = next(
            (n for n in [field["name"], *field.get("aliases", [])] if n in writer_names), None
        )
        if source is not None:
            values = columns[source]
            if values.type != arrow_field.type:
                try:
                    values = pc.cast(values, arrow_field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ProjectionError(f"field {field['name']!r}: {exc}") from None
            projected[field["name"]] = values
        elif "default" in field:
            default = field["default"]
            projected[field["name"]] = pa.array([default] * rows, arrow_field.type)
        else:
            raise ProjectionError(
                f"the writer has no field {field['name']!r} and the reader gives no default"
            )
    return projected


def _decode_fastavro(
    writer: AvroSchema, reader: AvroSchema, bodies: list[bytes | None]
) -> DecodedPayloads:
    fields = arrow_fields(reader.parsed)
    values: dict[str, list[Any]] = {f.name: [] for f in fields}
    decoded, failed = [], []
    for position, body in enumerate(bodies):
        data = body or b""
        stream = io.BytesIO(data)
        try:
            record = fastavro.schemaless_reader(stream, writer.fastavro, reader.fastavro)
            if stream.tell() != len(data):
                raise ValueError(f"{len(data) - stream.tell()} bytes left over after the record")
        except Exception as exc:  # fastavro raises many types on corrupt or foreign bodies
            failed.append((position, f"{type(exc).__name__}: {exc}"))
            continue
        decoded.append(position)
        for f in fields:
            values[f.name].append(record.get(f.name))  # type: ignore[union-attr]
    return DecodedPayloads({f.name: column(values[f.name], f) for f in fields}, decoded, failed)


def decode_payloads(
    writer: AvroSchema, reader: AvroSchema, bodies: list[bytes | None]
) -> DecodedPayloads:
    """Decode bodies written with `writer` into the reader's columns."""
    plan = flat_plan(writer) if native is not None else None
    if plan is None:
        return _decode_fastavro(writer, reader, bodies)
    try:
        columns, decoded, failed = _decode_native(writer, plan, bodies)
        return DecodedPayloads(_project(writer, reader, columns, len(decoded)), decoded, failed)
    except ProjectionError:
        # Let fastavro's schema resolution say precisely what is wrong, body by body.
        return _decode_fastavro(writer, reader, bodies)
