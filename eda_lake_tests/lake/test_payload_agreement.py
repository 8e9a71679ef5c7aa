"""Damaged registry bodies: the compiled flat decoder and fastavro (each body checked by the
compiled body walker first) fail the same ones, each with a reason, and decode the others to
the same values. Property-based over mutated and random
bodies, plus one test per rule (seen: a negative enum index read as the last symbol, or
breaking silver; text that is not UTF-8 reaching the Delta writer)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_lake.catalogue import load_catalogue
from eda_lake.lake.silver import payloads
from eda_lake.lake.silver.payloads import decode_payloads, flat_plan
from eda_lake.registry.schema import AvroSchema, SchemaDefinitionError, parse_schema
from eda_lake_tests.avro_records import fastavro_body, record_schema
from eda_lake_tests.lake.test_payloads import FIELDS, _records
from eda_lake_tests.mutations import damaged

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"


def _plain(value: Any) -> Any:
    """NaN compares equal to itself here: the paths must agree, NaN or not."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def _assert_agree(writer: AvroSchema, reader: AvroSchema, bodies: list[bytes | None]) -> Any:
    assert flat_plan(writer) is not None
    compiled = decode_payloads(writer, reader, bodies)
    slow = payloads._decode_fastavro(writer, reader, bodies)
    assert compiled.decoded == slow.decoded, (compiled.failed, slow.failed)
    assert [p for p, _ in compiled.failed] == [p for p, _ in slow.failed]
    assert sorted(compiled.decoded + [p for p, _ in compiled.failed]) == list(range(len(bodies)))
    for name, values in slow.columns.items():
        fast_values = compiled.columns[name]
        if pa.types.is_temporal(values.type):  # past year 9999 as numbers: no datetime holds it
            width = pa.int64() if values.type.bit_width == 64 else pa.int32()
            fast_values, values = fast_values.view(width), values.view(width)
        fast = [_plain(v) for v in fast_values.to_pylist()]
        assert fast == [_plain(v) for v in values.to_pylist()], name
        compiled.columns[name].validate(full=True)  # e.g. no text that is not UTF-8
    return compiled


THING = record_schema(FIELDS)
GOOD = [fastavro_body(THING, r) for r in _records(12)]
CATALOGUE = [spec.schema for spec in load_catalogue(SCHEMAS_DIR).events.values()]


@st.composite
def _mutated(draw: st.DrawFn, good: list[bytes]) -> bytes | None:
    if draw(st.integers(0, 20)) == 0:
        return draw(st.none() | st.binary(max_size=80))
    data = draw(st.sampled_from(good))
    return damaged(draw, data, edits=(0, 3), max_insert=8, max_overwrite=8)


@given(st.lists(_mutated(GOOD), min_size=1, max_size=12))
@settings(max_examples=300, deadline=None)
def test_mutated_bodies_agree(bodies: list[bytes | None]) -> None:
    _assert_agree(THING, THING, bodies)


def _catalogue_bodies(schema: AvroSchema) -> list[bytes]:
    values: dict[str, Any] = {
        "string": "text é", "long": 7, "int": -3, "boolean": True, "double": 0.25,
    }  # fmt: skip
    record: dict[str, Any] = {}
    for field in schema.parsed["fields"]:
        node = field["type"]
        node = next(b for b in node if b != "null") if isinstance(node, list) else node
        logical = node.get("logicalType") if isinstance(node, dict) else None
        kind = node.get("type") if isinstance(node, dict) else node
        if logical == "uuid":
            record[field["name"]] = "5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b01"
        elif logical and logical.startswith("timestamp"):
            record[field["name"]] = datetime(2026, 10, 1, tzinfo=UTC)
        elif logical == "decimal":
            record[field["name"]] = Decimal("12.50")
        elif kind == "enum":
            record[field["name"]] = node["symbols"][-1]
        else:
            record[field["name"]] = values[str(kind)]
    return [fastavro_body(schema, record)]


@pytest.mark.parametrize("index", range(len(CATALOGUE)))
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_mutated_catalogue_bodies_agree(index: int, data: st.DataObject) -> None:
    schema = CATALOGUE[index]
    bodies = data.draw(st.lists(_mutated(_catalogue_bodies(schema)), min_size=1, max_size=6))
    _assert_agree(schema, schema, bodies)


COLOUR = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}


RULES = [
        ([{"name": "c", "type": COLOUR}], b"\x01", "enum index -1 out of range for 3 symbols"),
        ([{"name": "c", "type": COLOUR}], b"\x06", "enum index 3 out of range for 3 symbols"),
        ([{"name": "c", "type": ["null", COLOUR]}], b"\x02\x01", "enum index -1"),
        ([{"name": "s", "type": "string"}], b"\x04\xc3\x28", "string is not UTF-8"),
        ([{"name": "s", "type": ["null", "string"]}], b"\x01\x00", "union branch out of range"),
        ([{"name": "b", "type": "boolean"}], b"\x02", "boolean byte is neither 0 nor 1"),
        ([{"name": "i", "type": "int"}], b"\x80\x80\x80\x80\x10", "int 2147483648 out of range"),
        ([{"name": "l", "type": "long"}], b"\xff" * 9 + b"\x02", "longer than 64 bits"),
        ([{"name": "s", "type": "string"}], b"\x02a\x00", "bytes left over"),
        (
            [
                {
                    "name": "d",
                    "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2},
                }
            ],
            b"\x04\x27\x10",  # 10000: five digits
            "more digits than its precision (4)",
        ),
        (
            [{"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 38}}],
            b"\x22" + b"\x01" * 17,
            "decimal wider than 128 bits",
        ),
        (
            [
                {
                    "name": "d",
                    "type": {
                        "type": "fixed",
                        "name": "Money",
                        "size": 3,
                        "logicalType": "decimal",
                        "precision": 4,
                        "scale": 2,
                    },
                }
            ],
            b"\x01\x86\xa0",  # 100000
            "more digits than its precision (4)",
        ),
        ([{"name": "f", "type": {"type": "fixed", "name": "F", "size": 4}}], b"abc", "truncated"),
]  # fmt: skip
GOOD_VALUES = {
    "c": "BLUE", "s": "ok", "b": True, "i": 1, "l": 1, "d": Decimal("1"), "f": b"abcd",
    "t": datetime(2026, 1, 1, tzinfo=UTC), "u": "5f0c8d0e-8a4b-4c57-9d43-0b5c2a0f6b01",
}  # fmt: skip


@pytest.mark.parametrize(("fields", "body", "reason"), RULES)
def test_each_rule_fails_the_body_alone_in_both_paths(fields, body: bytes, reason: str) -> None:
    schema = record_schema(fields)
    good = GOOD_VALUES
    valid = fastavro_body(schema, {f["name"]: good[f["name"]] for f in fields})
    decoded = _assert_agree(schema, schema, [valid, body, valid])
    assert decoded.decoded == [0, 2]
    [(position, why)] = decoded.failed
    assert position == 1 and reason in why, why
    [(_, slow_why)] = payloads._decode_fastavro(schema, schema, [body]).failed
    assert reason in slow_why, slow_why


@pytest.mark.parametrize(("fields", "body", "reason"), RULES)
@pytest.mark.parametrize("container", ["array", "map"])
def test_each_rule_fails_a_nested_body_alone(
    fields: list[dict[str, Any]], body: bytes, reason: str, container: str
) -> None:
    """The same value inside an array or a map of a record (a nested schema: fastavro
    decodes it, after the compiled checks): the body fails for the same reason."""
    [field] = fields
    kind = {"type": "array", "items": field["type"]}
    if container == "map":
        kind = {"type": "map", "values": field["type"]}
    schema = record_schema([{"name": "n", "type": kind}])
    assert flat_plan(schema) is None
    value = GOOD_VALUES[field["name"]]
    valid = fastavro_body(schema, {"n": [value] if container == "array" else {"k": value}})
    key = b"" if container == "array" else b"\x02k"
    nested = b"\x02" + key + body + b"\x00"  # one block of one item, then the end
    decoded = decode_payloads(schema, schema, [valid, nested, valid])
    assert decoded.decoded == [0, 2]
    [(position, why)] = decoded.failed
    assert position == 1 and reason in why, why


def test_uuids_and_timestamps_read_raw_in_both_paths() -> None:
    """Text that is no uuid and a timestamp past year 9999 are well-formed Avro: both paths
    give them as they are (fastavro would refuse the whole body), and silver judges them."""
    schema = record_schema(
        [
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        ]
    )
    bodies: list[bytes | None] = [b"\x14not-a-uuid" + b"\xfe\xff\xff\xff\xff\xff\xff\xff\x7f"]
    decoded = _assert_agree(schema, schema, bodies)
    assert decoded.columns["u"].to_pylist() == ["not-a-uuid"]
    assert decoded.columns["t"].cast("int64").to_pylist() == [2**62 - 1]


def test_a_symbol_the_reader_lacks_reads_as_its_default() -> None:
    writer = record_schema([{"name": "c", "type": COLOUR}])
    reader = record_schema(
        [{"name": "c", "type": {**COLOUR, "symbols": ["RED", "GREEN"], "default": "RED"}}]
    )
    bodies: list[bytes | None] = [b"\x04", b"\x02"]  # BLUE, GREEN
    decoded = _assert_agree(writer, reader, bodies)
    assert decoded.columns["c"].to_pylist() == ["RED", "GREEN"]


def _named(name: str, namespace: str, fields: list[dict[str, Any]], **extra: Any) -> AvroSchema:
    definition = {"type": "record", "name": name, "namespace": namespace, "fields": fields, **extra}
    return parse_schema(json.dumps(definition))


CUSTOMER = [{"name": "id", "type": "string"}, {"name": "n", "type": "long"}]
OURS = _named("Customer", "lake", CUSTOMER)


@pytest.mark.parametrize(
    ("writer", "refused"),
    [
        (_named("Person", "partner", CUSTOMER), "partner.Person"),  # the same fields, another type
        (_named("Person", "lake", CUSTOMER), "lake.Person"),
        (_named("Customer", "partner", CUSTOMER), None),  # unqualified names match
        (_named("Client", "partner", CUSTOMER), None),  # the reader's alias, below
        (_named("Client", "other", CUSTOMER), "other.Client"),  # an alias is a full name
        (_named("Customer", "lake", [CUSTOMER[0]]), "lake.Customer"),  # n: no default
        (_named("Customer", "lake", [CUSTOMER[0], {"name": "n", "type": "string"}]), "string"),
    ],
)
def test_a_writer_that_does_not_resolve_is_refused_on_every_build(
    writer: AvroSchema, refused: str | None
) -> None:
    """Seen: the compiled decoder matched fields by name only and landed another producer's
    records (2,030 customers instead of 2,000); fastavro refused the same bodies."""
    reader = _named("Customer", "lake", CUSTOMER, aliases=["partner.Client"])
    sample = {"long": 7, "string": "text"}
    fields = writer.parsed["fields"]
    record = {f["name"]: "c-1" if f["name"] == "id" else sample[f["type"]] for f in fields}
    bodies: list[bytes | None] = [fastavro_body(writer, record)] * 3
    compiled = _assert_agree(writer, reader, bodies)
    if refused is None:
        assert compiled.decoded == [0, 1, 2]
        assert compiled.columns["id"].to_pylist() == ["c-1"] * 3
        return
    assert compiled.decoded == [] and [p for p, _ in compiled.failed] == [0, 1, 2]
    reason = compiled.failed[0][1]
    assert f"the writer's type {writer.full_name} does not resolve to lake.Customer" in reason
    assert refused in reason


def _wrapped(kind: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "id", "type": "string"}, {"name": "v", "type": kind}]


@pytest.mark.parametrize(
    ("writer_type", "reader_type"),
    [
        (
            {"type": "enum", "name": "Channel", "namespace": "partner", "symbols": ["A"]},
            {"type": "enum", "name": "Kind", "symbols": ["A"]},
        ),
        (
            {"type": "fixed", "name": "Code", "size": 2},
            {"type": "fixed", "name": "Token", "size": 2},
        ),
        (
            {"type": "record", "name": "Address", "fields": [{"name": "c", "type": "string"}]},
            {"type": "record", "name": "Place", "fields": [{"name": "c", "type": "string"}]},
        ),
    ],
)
def test_nested_named_types_are_compared_by_name(
    writer_type: dict[str, Any], reader_type: dict[str, Any]
) -> None:
    writer = _named("Customer", "lake", _wrapped(writer_type))
    reader = _named("Customer", "lake", _wrapped(reader_type))
    value = {"enum": "A", "fixed": b"ab", "record": {"c": "x"}}[writer_type["type"]]
    bodies: list[bytes | None] = [fastavro_body(writer, {"id": "c-1", "v": value})]
    decoded = decode_payloads(writer, reader, bodies)
    [(position, reason)] = decoded.failed
    assert position == 0 and "does not resolve" in reason and writer_type["name"] in reason
    assert payloads._decode_fastavro(writer, reader, bodies).decoded == []  # fastavro agrees
    same = _named("Customer", "lake", _wrapped({**reader_type, "name": writer_type["name"]}))
    assert decode_payloads(writer, same, bodies).decoded == [0]


def test_a_writer_union_branch_the_reader_lacks_fails_only_its_values() -> None:
    """A null in a writer's ["null", "string"] read as "string" fails that body alone, on
    every build: the compiled decoder, too, lands no null in a column the reader says is
    never null."""
    writer = record_schema([{"name": "s", "type": ["null", "string"]}])
    reader = record_schema([{"name": "s", "type": "string"}])
    bodies: list[bytes | None] = [fastavro_body(writer, {"s": v}) for v in ("a", None, "b")]
    decoded = _assert_agree(writer, reader, bodies)
    assert decoded.decoded == [0, 2] and [p for p, _ in decoded.failed] == [1]
    assert decoded.columns["s"].to_pylist() == ["a", "b"]


# Field types a writer may have, each with values, and the reader types Avro reads them as.
_KINDS: dict[str, tuple[Any, list[Any]]] = {
    "int": ("int", [0, -5, 2**31 - 1]),
    "long": ("long", [2**40, -1]),
    "float": ("float", [0.5, -2.25]),
    "string": ("string", ["a", "é"]),
    "bytes": ("bytes", [b"", b"\xff"]),
    "enum": ({"type": "enum", "name": "Kind", "symbols": ["A", "B"]}, ["A", "B"]),
    "nullable": (["null", "string"], [None, "x"]),
}
_READS_AS: dict[str, list[Any]] = {
    "int": ["int", "long", "float", "double", "string"],
    "long": ["long", "double", "int"],
    "float": ["float", "double", "long"],
    "string": ["string", "bytes", "int"],
    "bytes": ["bytes", "string"],
    "enum": [
        {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]},
        {"type": "enum", "name": "Kind", "symbols": ["A"]},
        {"type": "enum", "name": "Kind", "symbols": ["A"], "default": "A"},
        {"type": "enum", "name": "Sort", "symbols": ["A", "B"]},
    ],
    "nullable": [["null", "string"], "string", ["string", "null"]],
}


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[AvroSchema, AvroSchema, list[bytes | None]]:
    """A flat writer, a reader that renames, drops, adds or retypes its fields and record
    name, and bodies of the writer."""
    kinds = draw(st.lists(st.sampled_from(sorted(_KINDS)), min_size=1, max_size=4, unique=True))
    writer_fields = [{"name": k, "type": _KINDS[k][0]} for k in kinds]
    reader_fields: list[dict[str, Any]] = [
        {"name": k, "type": draw(st.sampled_from(_READS_AS[k]))}
        for k in kinds
        if draw(st.booleans()) or k == kinds[0]
    ]
    if draw(st.booleans()):
        extra: dict[str, Any] = {"name": "added", "type": "long"}
        reader_fields.append(extra | ({"default": 3} if draw(st.booleans()) else {}))
    names = st.sampled_from(["lake.Customer", "partner.Customer", "partner.Person", "lake.Person"])
    writer_name, reader_name = draw(names), draw(names)
    aliases = draw(st.sampled_from([[], ["partner.Person"]]))

    def schema(name: str, fields: list[dict[str, Any]], **extra: Any) -> AvroSchema:
        namespace, _, short = name.rpartition(".")
        return _named(short, namespace, fields, **extra)

    writer = schema(writer_name, writer_fields)
    reader = schema(reader_name, reader_fields, aliases=aliases)
    records = draw(
        st.lists(
            st.fixed_dictionaries({k: st.sampled_from(_KINDS[k][1]) for k in kinds}),
            min_size=1,
            max_size=5,
        )
    )
    return writer, reader, [fastavro_body(writer, r) for r in records]


@given(_pairs())
@settings(max_examples=300, deadline=None)
def test_any_writer_and_reader_give_the_same_outcome_on_every_build(
    pair: tuple[AvroSchema, AvroSchema, list[bytes | None]],
) -> None:
    """The compiled build and the pure Python one land the same rows with the same values
    and refuse the same ones; a writer the plan refuses, fastavro refuses too."""
    writer, reader, bodies = pair
    compiled = decode_payloads(writer, reader, bodies)
    pure = payloads._decode_fastavro(writer, reader, bodies)
    if payloads.payload_plan(writer, reader).refusal is None:
        assert compiled.decoded == pure.decoded, (compiled.failed, pure.failed)
        assert [p for p, _ in compiled.failed] == [p for p, _ in pure.failed]
        for name, values in pure.columns.items():
            assert compiled.columns[name].to_pylist() == values.to_pylist(), name
    else:
        assert compiled.decoded == [] and len(compiled.failed) == len(bodies)
        assert pure.decoded == [], compiled.failed[0]


def _logical(kind: str, logical: str | None) -> dict[str, Any]:
    return {"type": kind} | ({"logicalType": logical} if logical else {})


@pytest.mark.parametrize(
    ("writer_type", "reader_type"),
    [
        (_logical("long", "timestamp-millis"), _logical("long", "timestamp-micros")),
        (_logical("long", "timestamp-micros"), _logical("long", "timestamp-millis")),
        (_logical("long", "local-timestamp-millis"), _logical("long", "timestamp-micros")),
        (_logical("int", "date"), _logical("long", "timestamp-micros")),  # int to long
        (["null", _logical("long", "timestamp-millis")], _logical("long", "timestamp-micros")),
        (
            ["null", _logical("long", "timestamp-millis")],
            ["null", _logical("long", "timestamp-micros")],
        ),
    ],
)
def test_a_time_read_in_another_unit_is_refused_on_every_build(
    writer_type: Any, reader_type: Any
) -> None:
    """Avro resolves a long as a long, so a millis writer read as micros means instants
    1000 times off; seen: the compiled build converted the unit while the pure Python one
    read the same numbers as micros (2024-01-02 landed as 1970-01-20)."""
    writer = record_schema([{"name": "t", "type": writer_type}])
    reader = record_schema([{"name": "t", "type": reader_type}])
    value = 19_000 if "date" in json.dumps(writer_type) else 1_704_164_645_678
    bodies: list[bytes | None] = [fastavro_body(writer, {"t": value})]
    refusal = payloads.payload_plan(writer, reader).refusal
    assert refusal is not None and "[time-unit]" in refusal
    assert decode_payloads(writer, reader, bodies).decoded == []


@pytest.mark.parametrize(
    ("writer_type", "reader_type"),
    [
        (_logical("long", None), _logical("long", "timestamp-micros")),
        (_logical("long", "timestamp-millis"), _logical("long", None)),
        (_logical("long", "timestamp-millis"), _logical("long", "local-timestamp-millis")),
        (_logical("string", "uuid"), _logical("string", None)),
        (_logical("string", None), _logical("string", "uuid")),
    ],
)
def test_a_time_in_the_same_unit_or_a_plain_value_reads_alike_on_every_build(
    writer_type: Any, reader_type: Any
) -> None:
    writer = record_schema([{"name": "t", "type": writer_type}])
    reader = record_schema([{"name": "t", "type": reader_type}])
    value = "12345678-1234-5678-1234-567812345678" if writer_type["type"] == "string" else 5**17
    bodies: list[bytes | None] = [fastavro_body(writer, {"t": value})]
    assert _assert_agree(writer, reader, bodies).decoded == [0]


def test_named_types_sharing_a_short_name_are_refused() -> None:
    """Avro's resolution compares names unqualified, and the lake's column, body and masking
    walks look references up by short name too. Seen: with enums x.E and y.E in one writer, a
    field of type `E` (x.E) landed y.E's symbol through the compiled build ('C' where the
    pure Python one read 'A')."""
    definition = {
        "type": "record",
        "name": "C",
        "namespace": "x",
        "fields": [
            {"name": "a", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
            {"name": "b", "type": {"type": "enum", "name": "y.E", "symbols": ["C"]}},
            {"name": "c", "type": "E"},
        ],
    }
    with pytest.raises(SchemaDefinitionError) as refused:
        parse_schema(json.dumps(definition), "partner/C")
    assert "partner/C: named types x.E and y.E share the short name E" in str(refused.value)


def test_a_refusal_names_a_few_problems_and_counts_the_rest() -> None:
    """Every refused body carries the reason: a writer with hundreds of problems (a union of
    300 decimals of another precision, or 300 fields) copied a 60 kB text into every row."""
    decimals = [
        {"type": "fixed", "name": f"D{n}", "size": 8, "logicalType": "decimal", "precision": 9}
        for n in range(300)
    ]
    writer = record_schema([{"name": "v", "type": decimals}])
    reader = record_schema([{"name": "v", "type": [{**d, "precision": 10} for d in decimals]}])
    refusal = payloads.payload_plan(writer, reader).refusal
    assert refusal is not None and len(refusal) < 1_000
    millis = [{"name": f"f{n}", "type": _logical("long", "timestamp-millis")} for n in range(300)]
    writer = record_schema(millis)
    reader = record_schema([{**f, "type": _logical("long", "timestamp-micros")} for f in millis])
    refusal = payloads.payload_plan(writer, reader).refusal
    assert refusal is not None and len(refusal) < 1_000 and "T.f2: " in refusal
    assert "T.f3: " not in refusal and "and 297 more" in refusal
