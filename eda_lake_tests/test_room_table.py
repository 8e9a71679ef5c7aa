"""The README's room table matches the folders: every package and root module of
`eda_lake` has a row, and every path a row names exists."""

from __future__ import annotations

import re

from eda_lake.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "eda_lake"


def _rows(readme: str) -> list[str]:
    table = readme[readme.index("| room | what lives there |") :]
    lines = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        lines.append(line.split("|")[1])
    return lines


def _named(rows: list[str]) -> set[str]:
    """Paths a row names in its first cell: `eda_lake/lake/` or `eda_lake/cli.py`."""
    return {p.rstrip("/") for row in rows for p in re.findall(r"`([\w./]+)`", row)}


def _rooms() -> set[str]:
    packages = {
        str(p.parent.relative_to(REPO_ROOT))
        for p in PACKAGE.rglob("__init__.py")
        # the lake's rooms have rows of their own; other folders are their room's business
        if len(p.parent.relative_to(PACKAGE).parts) == 1 or p.parent.parent == PACKAGE / "lake"
    }
    modules = {str(p.relative_to(REPO_ROOT)) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return (packages - {"eda_lake"}) | modules


def _mismatches(rows: list[str]) -> tuple[set[str], set[str]]:
    """(rooms without a row, rows naming a path that does not exist)."""
    named = _named(rows)
    missing = {p for p in named if p.startswith("eda_lake") and not (REPO_ROOT / p).exists()}
    return _rooms() - named, missing


def test_every_room_has_a_row_and_every_row_a_room() -> None:
    assert _mismatches(_rows((REPO_ROOT / "README.md").read_text())) == (set(), set())


def test_a_room_without_a_row_and_a_row_without_a_room_are_found() -> None:
    rows = _rows((REPO_ROOT / "README.md").read_text())
    without_silver = [r for r in rows if "eda_lake/lake/silver/" not in r]
    gone = [*rows, " `eda_lake/lake/gone/` "]
    assert _mismatches(without_silver)[0] == {"eda_lake/lake/silver"}
    assert _mismatches(gone)[1] == {"eda_lake/lake/gone"}
