"""The pull request's compatibility gate (`python -m infra_scripts.schema_gate BASE`): run in
a clone of the schemas whose base commit holds the project's and whose working tree changes
one schema."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from eda_lake.settings import REPO_ROOT
from infra_scripts.schema_gate import main

CHANGED = "schemas/product/ProductUpdated.avsc"


def _git(repo: Path, *arguments: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=eda-lake", "-c", "user.email=eda-lake@example.invalid",
         *arguments],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository holding the project's schemas, committed and tagged `base`; the current
    directory."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: apt-get install git")
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "schemas", repo / "schemas")
    _git(repo, "init", "--quiet")
    _git(repo, "add", "schemas")
    _git(repo, "commit", "--quiet", "-m", "base")
    _git(repo, "tag", "base")
    monkeypatch.chdir(repo)
    return repo


def _add_field(repo: Path, field: dict[str, object]) -> None:
    path = repo / CHANGED
    schema = json.loads(path.read_text())
    schema["fields"].append(field)
    path.write_text(json.dumps(schema, indent=2))


def test_an_unchanged_tree_passes(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["base"]) == 0
    assert "no schema under schemas/ changed against base" in capsys.readouterr().out


def test_a_compatible_change_passes(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _add_field(clone, {"name": "colour", "type": ["null", "string"], "default": None})
    assert main(["base"]) == 0
    assert "1 changed schemas compatible (backward) with base" in capsys.readouterr().out


def test_an_incompatible_change_fails_naming_the_schema(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Backward: the new schema reads the old events, which hold no value for a field
    # without a default.
    _add_field(clone, {"name": "colour", "type": "string"})
    assert main(["base"]) == 1
    out = capsys.readouterr().out
    assert f"1 of 1 changed schemas incompatible (backward) with base: {CHANGED}" in out


def test_an_added_schema_has_nothing_to_be_checked_against(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clone / "schemas" / "product" / "ProductRetired.avsc").write_text("{}")
    _git(clone, "add", "schemas")
    _git(clone, "commit", "--quiet", "-m", "a schema added")
    assert main(["base"]) == 0
    assert "no schema under schemas/ changed" in capsys.readouterr().out


def test_a_base_not_fetched_is_one_line_naming_it(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["origin/main"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "origin/main names no commit in this clone: fetch the base branch" in err


def test_an_unreadable_catalogue_is_one_line(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clone / "schemas" / "catalogue.toml").write_text('schema_group = "eda-lake"\n')
    assert main(["base"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("schema gate: error: ")
    assert "catalogue" in err
