"""The README documents every variable the settings declare, and declares none they do not:
the table in `eda_lake.settings.VARIABLES` is the one source, the README its reader's copy."""

from __future__ import annotations

import re

from eda_lake.settings import REPO_ROOT, VARIABLES, declared
from eda_lake_tests.conftest import TEST_KAFKA_VAR  # the tests' own: a broker to share

# A documented name: EDA_LAKE_X, or a family's EDA_LAKE_X__<SUFFIX>.
DOCUMENTED = re.compile(r"`(EDA_LAKE_[A-Z0-9_]+?)(?:__<[A-Z_]+>)?`")


def _documented(readme: str) -> set[str]:
    return set(DOCUMENTED.findall(readme))


def _undocumented(readme: str) -> list[str]:
    names = _documented(readme)
    return [
        v.name
        for v in VARIABLES
        if v.name.startswith("EDA_LAKE_") and v.name.rstrip("_") not in names
    ]


def _undeclared(readme: str) -> list[str]:
    return sorted(
        name
        for name in _documented(readme)
        if not declared(name) and not declared(name + "__") and name != TEST_KAFKA_VAR
    )


def test_every_declared_variable_is_documented_and_every_documented_one_declared() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert _undocumented(readme) == []
    assert _undeclared(readme) == []


def test_a_variable_missing_from_the_readme_or_not_declared_is_found() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    first = next(v.name for v in VARIABLES if not v.family and v.name.startswith("EDA_LAKE_"))
    assert _undocumented(readme.replace(f"`{first}`", "`gone`")) == [first]
    assert _undeclared(readme + "\n`EDA_LAKE_NOT_READ`\n") == ["EDA_LAKE_NOT_READ"]
