"""Registry payloads to Arrow columns of the catalogue's (reader) schema.

Each writer schema is planned once against the reader by Avro's resolution rules
(`registry.compatibility`: record, enum and fixed names compared unqualified or through the
reader's aliases, field types, defaults). A writer that does not resolve is another type:
every body of it fails with a reason naming the writer's full name, on every build. A writer
that resolves completely and is a flat record is decoded by the compiled flat decoder; any
other (nested, or some of whose values the reader may refuse: a union branch, an enum
symbol) body by body with fastavro, each body first checked by the compiled `BodyWalker`
with the flat decoder's own value readers. Either way each body is checked to end exactly
where its record ends, and each failure is reported by position with its reason. Compiled
columns are then projected onto the reader schema by name (aliases included): a reader field
the writer lacks gets its default, a promoted type (int to long, float to double, ...) is
cast.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eda_lake.lake.arrow.avro import arrow_fields, collect_named, column
from eda_lake.lake.arrow.buffers import text_buffers
from eda_lake.native import avro as native
from eda_lake.registry.compatibility import SOME_VALUES_RULES, reading_problems
from eda_lake.registry.schema import AvroSchema, nullable_fields

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


@dataclass(frozen=True)
class PayloadPlan:
    """How bodies of one writer schema become the reader's columns, decided once per pair."""

    refusal: str | None  # why no body of the writer reads as the reader: each one fails
    # The compiled decoder's plan when the writer is flat and resolves completely, else
    # None: fastavro, body by body.
    flat: list[tuple[int, int, int, int]] | None


_PLANS: dict[tuple[str, str], PayloadPlan] = {}


def decimal_limit(node: dict[str, Any]) -> int:
    """10 ** precision: the compiled decoder refuses an unscaled value reaching it."""
    return int(10 ** int(node["precision"]))


_NAMED_PROBLEMS = 3  # problems a refusal names; it counts the others


def payload_plan(writer: AvroSchema, reader: AvroSchema) -> PayloadPlan:
    """The plan of a (writer, reader) pair, made on its first use."""
    key = (writer.canonical, reader.canonical)
    plan = _PLANS.get(key)
    if plan is None:
        problems = reading_problems(reader=reader, writer=writer)
        # Each distinct problem once, the first few named: every refused row carries this.
        every_value = list(
            dict.fromkeys(str(p) for p in problems if p.rule not in SOME_VALUES_RULES)
        )
        more = (
            f"; and {len(every_value) - _NAMED_PROBLEMS} more"
            if len(every_value) > _NAMED_PROBLEMS
            else ""
        )
        refusal = (
            f"the writer's type {writer.full_name} does not resolve to "
            f"{reader.full_name} by Avro's rules: {'; '.join(every_value[:_NAMED_PROBLEMS])}"
            f"{more}; another producer's events belong on their own hub"
            if every_value
            else None
        )
        plan = _PLANS[key] = PayloadPlan(refusal, None if problems else flat_plan(writer))
    return plan


@dataclass
class DecodedPayloads:
    columns: dict[str, pa.Array]  # reader field -> values of the rows that decoded
    decoded: list[int]  # positions (in the given bodies) of those rows
    failed: list[tuple[int, str]]  # positions that failed, with the reason


def _field_plan(node: Any, named: dict[str, dict[str, Any]]) -> tuple[int, int, int] | None:
    """(kind, fixed size or enum symbol count, 10 ** precision of a decimal) of a non-union
    type the flat decoder takes, else None."""
    if isinstance(node, str):
        if node in _PRIMITIVE_KINDS:
            return _PRIMITIVE_KINDS[node], 0, 0
        node = named.get(node)
        if node is None:
            return None
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if node.get("logicalType") == "decimal":
        if kind == "bytes":
            return _DECIMAL_BYTES, 0, decimal_limit(node)
        if kind == "fixed":
            return _DECIMAL_FIXED, int(node["size"]), decimal_limit(node)
        return None
    if kind == "enum":
        return _ENUM, len(node["symbols"]), 0
    if kind == "fixed":
        return _FIXED, int(node["size"]), 0
    if isinstance(kind, str) and kind in _PRIMITIVE_KINDS:
        return _PRIMITIVE_KINDS[kind], 0, 0
    return None


def flat_plan(schema: AvroSchema) -> list[tuple[int, int, int, int]] | None:
    """The compiled decoder's plan for a writer schema, or None if it is not flat."""
    named: dict[str, dict[str, Any]] = {}
    collect_named(schema.parsed, named)
    fields = nullable_fields(schema)
    if fields is None:
        return None
    plan = []
    for _name, node, null_branch in fields:
        step = _field_plan(node, named)
        if step is None:
            return None
        plan.append((step[0], null_branch, step[1], step[2]))
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
    if kind == _PRIMITIVE_KINDS["int"]:  # held as int64, as `lake.arrow.avro` types an int
        values = fixed_width(pa.int64())
        return pc.cast(values, pa.int32()).view(pa.date32()) if logical == "date" else values
    if kind == _PRIMITIVE_KINDS["boolean"]:
        return pc.cast(fixed_width(pa.int64()), pa.bool_())
    if kind == _PRIMITIVE_KINDS["double"]:
        return fixed_width(pa.float64())
    if kind == _PRIMITIVE_KINDS["float"]:  # held as float64, as `lake.arrow.avro` types a float
        return fixed_width(pa.float64())
    if kind == _PRIMITIVE_KINDS["string"]:
        return variable(pa.string())
    if kind in (_PRIMITIVE_KINDS["bytes"], _FIXED):
        return variable(pa.binary())
    if kind == _ENUM:  # indexes checked per body by the decoder
        return pc.take(pa.array(node["symbols"], pa.string()), fixed_width(pa.int64()))
    if kind == _PRIMITIVE_KINDS["null"]:
        return pa.nulls(parts[3])
    raise ProjectionError(f"no Arrow column for decoder kind {kind}")


def _decode_native(
    writer: AvroSchema, plan: list[tuple[int, int, int, int]], bodies: pa.Array
) -> tuple[dict[str, pa.Array], list[int], list[tuple[int, str]]]:
    decoder = native.FlatDecoder(plan)
    valid = None if bodies.null_count == 0 else np.asarray(pc.is_valid(bodies)).view(np.uint8)
    decoder.decode(*text_buffers(bodies), valid)
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
    named: dict[str, dict[str, Any]] = {}
    collect_named(reader.parsed, named)
    projected = {}
    for field, arrow_field in zip(
        reader.parsed["fields"], arrow_fields(reader.parsed), strict=True
    ):
        source = next(
            (n for n in [field["name"], *field.get("aliases", [])] if n in writer_names), None
        )
        if source is not None:
            values = columns[source]
            node = _resolved(field["type"], named)
            if isinstance(node, dict) and node.get("type") == "enum":
                values = _reader_symbols(values, node)
            if values.type != arrow_field.type:
                try:
                    values = pc.cast(values, arrow_field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ProjectionError(f"field {field['name']!r}: {exc}") from None
            projected[field["name"]] = values
        else:  # the plan resolved: the reader gives a default
            projected[field["name"]] = reader_default(field, arrow_field, rows, named)
    return projected


def reader_default(
    field: dict[str, Any], arrow_field: pa.Field, rows: int, named: dict[str, Any] | None = None
) -> pa.Array:
    """`rows` values of a reader field the writer lacks: its default, by Avro's resolution
    (null without one, as a column Delta adds later holds for older rows)."""
    value = _default_value(field["type"], field.get("default"), named or {})
    return column([value] * rows, arrow_field)


def _default_value(node: Any, default: Any, named: dict[str, Any]) -> Any:
    """A field's JSON default as the value an Avro reader gives: a bytes or fixed default is
    text whose code points 0-255 are the bytes (so "\u00ff" is the byte 0xff, not its UTF-8),
    a decimal's is those bytes, the unscaled two's-complement integer; a union's default is
    of its first branch."""
    if default is None:
        return None
    if isinstance(node, list):
        node = node[0]
    if isinstance(node, str) and node in named:
        node = named[node]
    kind = node.get("type") if isinstance(node, dict) else node
    if kind in ("bytes", "fixed"):
        raw = default.encode("latin-1")
        if isinstance(node, dict) and node.get("logicalType") == "decimal":
            unscaled = int.from_bytes(raw, "big", signed=True)
            return Decimal(unscaled).scaleb(-int(node.get("scale", 0)))
        return raw
    if kind == "record":
        return {
            f["name"]: _default_value(f["type"], default.get(f["name"], f.get("default")), named)
            for f in node["fields"]
        }
    if kind == "array":
        return [_default_value(node["items"], v, named) for v in default]
    if kind == "map":
        return {k: _default_value(node["values"], v, named) for k, v in default.items()}
    return default


def _reader_symbols(values: pa.Array, enum: dict[str, Any]) -> pa.Array:
    """A writer's symbol the reader's enum lacks reads as the reader's default (Avro's
    resolution). Without a default the plan made sure the reader has every writer symbol."""
    if "default" not in enum:
        return values
    known = pc.fill_null(pc.is_in(values, value_set=pa.array(enum["symbols"], pa.string())), True)
    return pc.if_else(known, values, pa.scalar(enum["default"], pa.string()))


_RAW_LOGICAL = frozenset(
    {"uuid", "date", *(f"{p}timestamp-{u}" for p in ("", "local-") for u in ("millis", "micros"))}
)
_RAW_SCHEMAS: dict[str, Any] = {}


def _raw_values(schema: AvroSchema) -> Any:
    """The schema for fastavro with uuids, dates and timestamps read as their text and
    numbers, as the compiled decoder reads them (fastavro would refuse a malformed uuid or
    a year past 9999 for the whole body); silver judges those values field by field."""
    parsed = _RAW_SCHEMAS.get(schema.canonical)
    if parsed is None:

        def strip(node: Any) -> Any:
            if isinstance(node, list):
                return [strip(b) for b in node]
            if not isinstance(node, dict):
                return node
            copy = {k: strip(v) if k in ("type", "items", "values", "fields") else v
                    for k, v in node.items()}  # fmt: skip
            if copy.get("logicalType") in _RAW_LOGICAL:
                del copy["logicalType"]
            return copy

        parsed = _RAW_SCHEMAS[schema.canonical] = fastavro.parse_schema(strip(schema.parsed))
    return parsed


_BODY_WALKERS: dict[str, Any] = {}


def _body_walker(writer: AvroSchema) -> Any:
    """The compiled checks of every body (`native.BodyWalker`), built once per writer."""
    walker = _BODY_WALKERS.get(writer.canonical)
    if walker is None:
        named: dict[str, Any] = {}
        collect_named(writer.parsed, named)
        walker = _BODY_WALKERS[writer.canonical] = native.BodyWalker(writer.parsed, named)
    return walker


def _decode_fastavro(
    writer: AvroSchema, reader: AvroSchema, bodies: list[bytes | None]
) -> DecodedPayloads:
    fields = arrow_fields(reader.parsed)
    records: list[dict[str, Any]] = []
    decoded, failed = [], []
    raw_writer, raw_reader = _raw_values(writer), _raw_values(reader)
    walker = _body_walker(writer)
    for position, body in enumerate(bodies):
        if body is None:
            failed.append((position, "no body"))
            continue
        problem = walker.problem(body)  # what fastavro would let through
        if problem is not None:
            failed.append((position, problem))
            continue
        try:
            record = fastavro.schemaless_reader(io.BytesIO(body), raw_writer, raw_reader)
        except Exception as exc:  # fastavro raises many types on bodies it cannot resolve
            failed.append((position, f"{type(exc).__name__}: {exc}"))
            continue
        decoded.append(position)
        records.append(record)  # type: ignore[arg-type]
    columns, unfit = _columns(records, fields)
    if unfit:
        failed = sorted(failed + [(decoded[row], reason) for row, reason in unfit.items()])
        keep = [row for row in range(len(decoded)) if row not in unfit]
        columns, _ = _columns([records[row] for row in keep], fields)
        decoded = [decoded[row] for row in keep]
    return DecodedPayloads(columns, decoded, failed)


def _columns(
    records: list[dict[str, Any]], fields: list[pa.Field]
) -> tuple[dict[str, pa.Array], dict[int, str]]:
    """The reader's columns, and the rows holding a value no column can take (a decimal past
    its precision deep in an array, say), found row by row only when a column fails."""
    columns: dict[str, pa.Array] = {}
    unfit: dict[int, str] = {}
    for f in fields:
        values = [record.get(f.name) for record in records]
        try:
            columns[f.name] = column(values, f)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            for row, value in enumerate(values):
                try:
                    column([value], f)
                except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
                    unfit.setdefault(row, f"field {f.name!r}: {type(exc).__name__}: {exc}")
    return columns, unfit


def decode_payloads(
    writer: AvroSchema, reader: AvroSchema, bodies: pa.Array | Sequence[bytes | None]
) -> DecodedPayloads:
    """Decode bodies written with `writer` into the reader's columns (the compiled decoder
    reads an Arrow column's buffers; fastavro takes each body as bytes)."""
    if not isinstance(bodies, pa.Array):
        bodies = pa.array(bodies, pa.binary())
    elif not pa.types.is_binary(bodies.type):
        bodies = bodies.cast(pa.binary())
    plan = payload_plan(writer, reader)
    if plan.refusal is not None:
        empty = {f.name: pa.array([], f.type) for f in arrow_fields(reader.parsed)}
        return DecodedPayloads(empty, [], [(i, plan.refusal) for i in range(len(bodies))])
    if plan.flat is None:
        return _decode_fastavro(writer, reader, bodies.to_pylist())
    try:
        columns, decoded, failed = _decode_native(writer, plan.flat, bodies)
        return DecodedPayloads(_project(writer, reader, columns, len(decoded)), decoded, failed)
    except ProjectionError:
        # Let fastavro's schema resolution say precisely what is wrong, body by body.
        return _decode_fastavro(writer, reader, bodies.to_pylist())
