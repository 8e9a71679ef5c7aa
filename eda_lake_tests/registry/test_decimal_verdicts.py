"""Decimals resolve only when scale and precision both match, stored as bytes or as fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake.registry.compatibility import Compatibility, compatibility_problems, reading_problems
from eda_lake.registry.schema import AvroSchema, parse_schema

MODES = (Compatibility.BACKWARD, Compatibility.FORWARD, Compatibility.FULL)


def _money(stored: str, precision: int, scale: int) -> AvroSchema:
    decimal: dict[str, object] = {
        "type": stored,
        "logicalType": "decimal",
        "precision": precision,
        "scale": scale,
    }
    if stored == "fixed":
        decimal.update(name="Amount", size=8)
    fields = [{"name": "price", "type": decimal}]
    return parse_schema(json.dumps({"type": "record", "name": "Order", "fields": fields}))


@pytest.mark.parametrize("stored", ["bytes", "fixed"])
@pytest.mark.parametrize("mode", MODES)
def test_a_scale_change_is_refused_in_every_mode(stored: str, mode: Compatibility) -> None:
    problems = compatibility_problems(mode, _money(stored, 10, 3), [_money(stored, 10, 2)])
    assert problems, (stored, mode)
    assert all("Order.price" in p and "[decimal-scale]" in p for p in problems), problems
    assert all(f"decimal ({stored}) scale changed" in p for p in problems)


@pytest.mark.parametrize("stored", ["bytes", "fixed"])
@pytest.mark.parametrize(("old", "new"), [(10, 12), (12, 10)])
def test_a_precision_change_is_refused_with_its_own_reason(stored: str, old: int, new: int) -> None:
    [problem] = reading_problems(reader=_money(stored, new, 2), writer=_money(stored, old, 2))
    assert problem.path == "Order.price"
    assert problem.rule == "decimal-precision"
    assert f"precision changed from {old} to {new}" in problem.message
    assert "scale" not in problem.message.split(":")[0]


@pytest.mark.parametrize("stored", ["bytes", "fixed"])
def test_both_changed_gives_both_reasons(stored: str) -> None:
    problems = reading_problems(reader=_money(stored, 12, 3), writer=_money(stored, 10, 2))
    assert sorted(p.rule for p in problems) == ["decimal-precision", "decimal-scale"]


@pytest.mark.parametrize("stored", ["bytes", "fixed"])
def test_an_unchanged_decimal_passes_every_mode(stored: str) -> None:
    for mode in MODES:
        assert compatibility_problems(mode, _money(stored, 10, 2), [_money(stored, 10, 2)]) == []


@pytest.mark.parametrize("stored", ["bytes", "fixed"])
@pytest.mark.parametrize(
    ("change", "rule"), [((10, 3), "decimal-scale"), ((12, 2), "decimal-precision")]
)
def test_registry_check_command_refuses(
    tmp_path: Path, capsys, stored: str, change: tuple[int, int], rule: str
) -> None:
    old, new = tmp_path / "old.avsc", tmp_path / "new.avsc"
    old.write_text(_money(stored, 10, 2).definition)
    new.write_text(_money(stored, *change).definition)
    for mode in ("backward", "forward", "full"):
        assert main(["registry", "check", "--mode", mode, str(old), str(new)]) == 1
        out = capsys.readouterr().out
        assert "INCOMPATIBLE" in out and "Order.price" in out and f"[{rule}]" in out, out
    assert main(["registry", "check", "--mode", "backward", str(old), str(old)]) == 0
