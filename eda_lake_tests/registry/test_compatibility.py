from __future__ import annotations

import json

import pytest

from eda_lake.registry.compatibility import (
    Compatibility,
    compatibility_problems,
    reading_problems,
)
from eda_lake.registry.schema import parse_schema
from eda_lake_tests.registry.evolution import STEPS, V1, V2, V3, V4, V5, V6, VERSIONS


@pytest.mark.parametrize(("new", "backward", "forward"), STEPS)
def test_each_step_in_each_mode(new: int, backward: bool, forward: bool) -> None:
    previous, current = VERSIONS[new - 2], VERSIONS[new - 1]
    expected = {
        Compatibility.NONE: True,
        Compatibility.BACKWARD: backward,
        Compatibility.FORWARD: forward,
        Compatibility.FULL: backward and forward,
    }
    for mode, ok in expected.items():
        problems = compatibility_problems(mode, current, [previous])
        assert (not problems) == ok, (mode, new, problems)


def test_missing_field_names_the_field_and_rule() -> None:
    [problem] = reading_problems(reader=V3, writer=V1)
    assert problem.path == "Thing.region"
    assert problem.rule == "missing-field"
    assert "default" in problem.message


def test_rename_without_alias_suggests_the_alias() -> None:
    [problem] = reading_problems(reader=V5, writer=V4)
    assert problem.path == "Thing.comment"
    assert 'aliases": ["note"]' in problem.message


def test_rename_with_alias_is_compatible() -> None:
    parsed = json.loads(V5.definition)
    parsed["fields"][2]["aliases"] = ["note"]
    aliased = parse_schema(json.dumps(parsed))
    assert reading_problems(reader=aliased, writer=V4) == []


def test_promotion_only_one_way() -> None:
    assert reading_problems(reader=V6, writer=V5) == []
    [problem] = reading_problems(reader=V5, writer=V6)
    assert problem.rule == "type-promotion"
    assert "long" in problem.message and "int" in problem.message


def test_dropped_field_without_default_breaks_forward() -> None:
    [problem] = reading_problems(reader=V3, writer=V4)
    assert problem.path == "Thing.label"


def test_transitive_checks_every_earlier_version() -> None:
    # V4 dropped label: forward-compatible with nothing that had it, not only with V3.
    problems = compatibility_problems(Compatibility.FORWARD, V4, [V1, V2, V3])
    assert len(problems) == 3
    assert [p.split(":")[0] for p in problems] == ["forward"] * 3


def _record(fields: list[dict[str, object]]) -> str:
    return json.dumps({"type": "record", "name": "R", "fields": fields})


def test_enum_symbols_and_default() -> None:
    def enum(symbols: list[str], default: str | None = None) -> str:
        e: dict[str, object] = {"type": "enum", "name": "E", "symbols": symbols}
        if default:
            e["default"] = default
        return _record([{"name": "e", "type": e}])

    old, new = parse_schema(enum(["A", "B"])), parse_schema(enum(["A", "B", "C"]))
    assert reading_problems(reader=new, writer=old) == []
    [problem] = reading_problems(reader=old, writer=new)
    assert problem.rule == "enum-symbol" and "'C'" in problem.message
    with_default = parse_schema(enum(["A", "B", "Z"], default="Z"))
    assert reading_problems(reader=with_default, writer=new) == []


def test_union_branches() -> None:
    narrow = parse_schema(_record([{"name": "u", "type": ["null", "string"]}]))
    wide = parse_schema(_record([{"name": "u", "type": ["null", "string", "long"]}]))
    plain = parse_schema(_record([{"name": "u", "type": "string"}]))
    assert reading_problems(reader=wide, writer=narrow) == []
    [problem] = reading_problems(reader=narrow, writer=wide)
    assert problem.rule == "union-branch" and "long" in problem.message
    assert reading_problems(reader=narrow, writer=plain) == []
    [problem] = reading_problems(reader=plain, writer=narrow)
    assert "null" in problem.message


def test_nested_records_arrays_maps_and_decimals() -> None:
    def schema(item_type: str, scale: int) -> str:
        money = {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": scale}
        item = {"type": "record", "name": "Item", "fields": [{"name": "n", "type": item_type}]}
        return _record(
            [
                {"name": "items", "type": {"type": "array", "items": item}},
                {"name": "tags", "type": {"type": "map", "values": item_type}},
                {"name": "price", "type": money},
            ]
        )

    old, promoted = parse_schema(schema("int", 2)), parse_schema(schema("long", 2))
    assert reading_problems(reader=promoted, writer=old) == []
    paths = {p.path for p in reading_problems(reader=old, writer=promoted)}
    assert paths == {"R.items[].n", "R.tags{}"}
    rescaled = parse_schema(schema("int", 3))
    [problem] = reading_problems(reader=rescaled, writer=old)
    assert problem.rule == "decimal-scale" and problem.path == "R.price"


def test_recursive_type_terminates() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
    }
    schema = parse_schema(json.dumps(node))
    assert reading_problems(reader=schema, writer=schema) == []


def test_mode_names_parse_case_insensitively() -> None:
    assert Compatibility.parse("backward") is Compatibility.BACKWARD
    with pytest.raises(ValueError, match="Backward"):
        Compatibility.parse("sideways")
