"""Registry payloads to columns: the compiled and fastavro paths agree, evolution projects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from eda_lake.lake.silver import payloads
from eda_lake.lake.silver.payloads import decode_payloads, flat_plan
from eda_lake.native import avro as native
from eda_lake.registry.schema import AvroSchema
from eda_lake_tests.avro_records import fastavro_body, record_schema

FIELDS: list[dict[str, Any]] = [
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "count", "type": "int"},
    {"name": "big", "type": "long"},
    {"name": "ratio", "type": "float"},
    {"name": "score", "type": ["null", "double"]},
    {"name": "ok", "type": "boolean"},
    {"name": "raw", "type": "bytes"},
    {
        "name": "price",
        "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
    },
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
]


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b{i:02d}",
            "at": datetime(2026, 1, 1, 0, 0, i, 123456, tzinfo=UTC),
            "count": -i * 1000,
            "big": 2**40 + i,
            "ratio": 0.5 + i,
            "score": None if i % 3 == 0 else i / 7,
            "ok": i % 2 == 0,
            "raw": bytes([i, 255, 0]),
            "price": Decimal("-12345.67") + i,
            "kind": "ABC"[i % 3],
            "note": None if i % 2 else f"note {i}",
            "day": datetime(2026, 1, 1 + i).date(),
        }
        for i in range(12)
    ]


def _both(writer: AvroSchema, reader: AvroSchema, bodies: list[bytes | None]) -> tuple[Any, Any]:
    compiled = decode_payloads(writer, reader, bodies)
    slow = payloads._decode_fastavro(writer, reader, bodies)
    return compiled, slow


def test_compiled_and_fastavro_paths_give_the_same_columns() -> None:
    schema = record_schema(FIELDS)
    assert flat_plan(schema) is not None
    bodies: list[bytes | None] = [fastavro_body(schema, r) for r in _records(12)]
    compiled, slow = _both(schema, schema, bodies)
    assert compiled.decoded == slow.decoded == list(range(12))
    for name in slow.columns:
        assert compiled.columns[name].to_pylist() == slow.columns[name].to_pylist(), name
    assert compiled.columns["price"].to_pylist()[0] == Decimal("-12345.67")


def test_bad_bodies_fail_alone_with_a_reason() -> None:
    schema = record_schema(FIELDS)
    good = [fastavro_body(schema, r) for r in _records(4)]
    bodies: list[bytes | None] = [good[0], good[1] + b"junk", good[2][:5], None, good[3]]
    compiled, slow = _both(schema, schema, bodies)
    assert compiled.decoded == slow.decoded == [0, 4]
    assert [p for p, _ in compiled.failed] == [1, 2, 3]
    assert "left over" in dict(compiled.failed)[1]
    assert compiled.columns["id"].to_pylist() == slow.columns["id"].to_pylist()


def test_older_writer_projects_onto_newer_reader() -> None:
    old = record_schema([{"name": "id", "type": "string"}, {"name": "count", "type": "int"}])
    new = record_schema(
        [
            {"name": "id", "type": "string"},
            {"name": "count", "type": "long"},  # promoted
            {"name": "label", "type": "string", "default": "none"},  # added with a default
        ],
    )
    bodies: list[bytes | None] = [fastavro_body(old, {"id": "a", "count": 3})]
    for decoded in _both(old, new, bodies):
        assert {k: v.to_pylist() for k, v in decoded.columns.items()} == {
            "id": ["a"], "count": [3], "label": ["none"],
        }  # fmt: skip


def test_nested_schemas_take_the_fastavro_path() -> None:
    nested = record_schema([{"name": "tags", "type": {"type": "array", "items": "string"}}])
    assert flat_plan(nested) is None
    decoded = decode_payloads(nested, nested, [fastavro_body(nested, {"tags": ["x", "y"]})])
    assert decoded.columns["tags"].to_pylist() == [["x", "y"]]


def test_named_references_and_multi_type_unions_get_columns() -> None:
    schema = record_schema(
        [
            {"name": "a", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
            {"name": "b", "type": "Colour"},  # a reference to the enum above
            {"name": "c", "type": ["null", "long", "string"]},  # no single Arrow type
        ],
    )
    assert flat_plan(schema) is None
    bodies: list[bytes | None] = [
        fastavro_body(schema, {"a": "RED", "b": "BLUE", "c": 5}),
        fastavro_body(schema, {"a": "BLUE", "b": "RED", "c": "five"}),
    ]
    decoded = decode_payloads(schema, schema, bodies)
    assert decoded.columns["b"].to_pylist() == ["BLUE", "RED"]
    assert decoded.columns["c"].to_pylist() == ["5", '"five"']  # JSON text


def test_a_column_slice_decodes_from_its_buffers_by_position() -> None:
    schema = record_schema(FIELDS)
    good = [fastavro_body(schema, r) for r in _records(4)]
    bodies: list[bytes | None] = [good[0], None, good[1] + b"junk", good[2], None, good[3]]
    column = pa.array([good[3], *bodies], pa.binary()).slice(1)  # an offset into the buffers
    for given in (column, column.cast(pa.large_binary())):
        compiled = decode_payloads(schema, schema, given)
        assert compiled.decoded == [0, 3, 5]
        assert [p for p, _ in compiled.failed] == [1, 2, 4]
        assert dict(compiled.failed)[1] == "no body"
        records = _records(4)
        assert compiled.columns["id"].to_pylist() == [records[i]["id"] for i in (0, 2, 3)]


def test_the_compiled_decoder_refuses_buffers_that_do_not_fit() -> None:
    plan = flat_plan(record_schema([{"name": "n", "type": "long"}]))
    data = np.frombuffer(b"\x02\x04", np.uint8)
    with pytest.raises(ValueError, match="outside the 2 bytes"):
        native.FlatDecoder(plan).decode(np.array([0, 3], np.int32), data)
    with pytest.raises(ValueError, match="offsets go back at 2"):
        native.FlatDecoder(plan).decode(np.array([0, 2, 1], np.int32), data)
    with pytest.raises(ValueError, match="1 validity flags for 2 bodies"):
        native.FlatDecoder(plan).decode(
            np.array([0, 1, 2], np.int32), data, np.array([1], np.uint8)
        )
