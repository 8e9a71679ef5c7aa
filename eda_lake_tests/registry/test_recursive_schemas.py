"""A recursive schema (a record whose field refers back to it) has no column type: it is
refused where the catalogue is loaded and where any schema is registered, in one line naming
the field. Seen: the catalogue, `provision` and publishing accepted `Node.next: ["null",
"Node"]`, and `silver` died with RecursionError after some tables had committed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fastavro
import pytest

from eda_lake.catalogue import load_catalogue
from eda_lake.lake.silver import payloads
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.registry.schema import SchemaDefinitionError, parse_schema, recursion_problem
from eda_lake.settings import REPO_ROOT
from eda_lake_tests.cli.test_faults import EDA_LAKE, assert_one_line, run
from eda_lake_tests.registry.test_azure_registry import _registry as azure_registry

STEP = {
    "type": "record",
    "name": "Step",
    "fields": [{"name": "next", "type": ["null", "Step"], "default": None}],
}
NODE = parse_schema(
    json.dumps(
        {
            "type": "record",
            "name": "Node",
            "namespace": "t",
            "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
        }
    )
)


def _schemas_with_a_recursive_field(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    path = schemas / "conversions" / "LeadAbandoned.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append({"name": "trail", "type": ["null", STEP], "default": None})
    path.write_text(json.dumps(schema))
    return schemas


def test_the_recursive_field_is_named_at_any_depth() -> None:
    assert recursion_problem(NODE.parsed) is not None
    assert "field Node.next refers back to record Node" in str(recursion_problem(NODE.parsed))
    deep = {"type": "record", "name": "Tree", "fields": [
        {"name": "kids", "type": {"type": "array", "items": {"type": "map", "values": STEP}}},
    ]}  # fmt: skip
    assert "field Tree.kids[]{}.next refers back to record Step" in str(recursion_problem(deep))
    twice = {"type": "record", "name": "Order", "fields": [
        {"name": "home", "type": {"type": "record", "name": "Address", "fields": []}},
        {"name": "work", "type": "Address"},
    ]}  # fmt: skip
    assert recursion_problem(twice) is None  # a type used twice is no recursion


def _node(namespace: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Node", "namespace": namespace, "fields": list(fields)}


def test_a_name_is_resolved_in_its_namespace() -> None:
    """Seen: with another record of the same short name defined later, `Node` inside x.Node
    was taken for the later y.Node, and the recursion went unseen."""
    recursive = {"type": "record", "name": "R", "namespace": "x", "fields": [
        {"name": "a", "type": _node("x", {"name": "next", "type": ["null", "Node"]})},
        {"name": "b", "type": _node("y")},
    ]}  # fmt: skip
    fastavro.parse_schema(recursive)  # valid Avro (the lake refuses it for its short names too)
    assert "field R.a.next refers back to record Node" in str(recursion_problem(recursive))
    finite = {"type": "record", "name": "R", "namespace": "x", "fields": [
        {"name": "a", "type": _node("y", {"name": "v", "type": "int"})},
        {"name": "b", "type": _node("x", {"name": "inner", "type": ["null", "y.Node"]})},
        {"name": "c", "type": "Node"},
    ]}  # fmt: skip
    fastavro.parse_schema(finite)
    assert recursion_problem(finite) is None


def test_the_catalogue_refuses_it(tmp_path: Path) -> None:
    schemas = _schemas_with_a_recursive_field(tmp_path)
    with pytest.raises(SchemaDefinitionError, match=r"LeadAbandoned\.avsc: field "):
        load_catalogue(schemas)
    with pytest.raises(SchemaDefinitionError) as refused:
        load_catalogue(schemas)
    assert "LeadAbandoned.trail.next refers back to record Step" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_both_registries_refuse_to_register_it(tmp_path: Path) -> None:
    local = EmbeddedSchemaRegistry(tmp_path / "registry.sqlite3")
    local.ensure_group("g", Compatibility.NONE)
    for registry in (local, azure_registry()):
        with pytest.raises(SchemaDefinitionError, match=r"field Node\.next refers back"):
            registry.register("g", NODE)
        assert registry.find("g", NODE) is None


def test_provision_says_so_in_one_line(tmp_path: Path) -> None:
    env = {
        "EDA_LAKE_SCHEMA_DIR": str(_schemas_with_a_recursive_field(tmp_path)),
        "EDA_LAKE_HOME": str(tmp_path / "home"),
    }
    result = run(EDA_LAKE, "provision", env=env)
    assert_one_line(result, "LeadAbandoned.trail.next refers back to record Step")


def test_a_recursive_writer_nested_deep_fails_that_body_alone() -> None:
    """Another producer may register a recursive schema straight in the registry. Seen: a
    60 kB body nesting it 20,000 deep raised RecursionError out of the decoder, stopping
    silver for the hub."""
    fields = [{"name": "id", "type": "string"}]
    writer = parse_schema(
        json.dumps(
            {
                "type": "record",
                "name": "Node",
                "namespace": "t",
                "fields": [*fields, {"name": "next", "type": ["null", "Node"]}],
            }
        )
    )
    reader = parse_schema(json.dumps({**writer.parsed, "fields": fields}))
    deep = b"\x02a" + b"\x02\x02a" * 20_000 + b"\x00"
    decoded = payloads.decode_payloads(writer, reader, [deep, b"\x02a\x00"])
    assert decoded.decoded == [1] and decoded.columns["id"].to_pylist() == ["a"]
    [(position, reason)] = decoded.failed
    assert position == 0 and "nested" in reason


def _nested(depth: int) -> str:
    """A record holding a record holding ... `depth` deep, as JSON text."""
    text = '"string"'
    for level in range(depth):
        field = f'{{"name": "f", "type": {text}}}'
        text = f'{{"type": "record", "name": "N{level}", "fields": [{field}]}}'
    return text


def test_a_schema_nested_past_the_limit_is_refused_in_one_line() -> None:
    """Seen: a 27 kB writer schema of 300 nested records (another producer's, read from the
    registry) raised RecursionError out of the decoder, and one of 600 out of parsing."""
    for depth in (300, 600, 5_000):
        with pytest.raises(SchemaDefinitionError) as refused:
            parse_schema(_nested(depth), "partner/Deep")
        assert str(refused.value).startswith("partner/Deep: nested deeper than")
        assert "\n" not in str(refused.value)


def test_a_schema_nested_up_to_the_limit_reads() -> None:
    depth = next(d for d in range(200, 0, -1) if _parses(_nested(d)))
    writer = parse_schema(_nested(depth))
    body = b"\x02a"
    assert payloads.decode_payloads(writer, writer, [body]).decoded == [0]


def _parses(text: str) -> bool:
    try:
        parse_schema(text)
    except SchemaDefinitionError:
        return False
    return True
