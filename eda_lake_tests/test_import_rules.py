"""The import rules `make lint` checks (.importlinter) hold, and each one catches a breach:
a copy of the package with one forbidden import fails its contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eda_lake.settings import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO_ROOT / ".importlinter"), "--no-cache"],
        cwd=package_parent, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
    )  # fmt: skip


def test_the_package_keeps_every_rule() -> None:
    result = _lint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "breach", "contract"),
    [
        ("lake/layout.py", "import dagster", "Only eda_lake.defs imports Dagster"),
        ("hub/base.py", "import eda_lake.defs.resources", "Only eda_lake.defs imports Dagster"),
        ("capture/naming.py", "import eda_lake.lake.layout", "Capture never imports the lake"),
        ("hub/base.py", "import eda_lake.events.cloudevents", "Events over hubs, one direction"),
        (
            "lake/delta/commits.py",
            "import eda_lake.lake.silver.masking",
            "The lake's rooms in layers",
        ),
        ("lake/derived/build.py", "import eda_lake.lake.silver", "The lake's rooms in layers"),
        ("lake/bronze/ingest.py", "import eda_lake.lake.derived", "The lake's rooms in layers"),
        ("shared/names.py", "import eda_lake.settings", "eda_lake.shared imports no other room"),
    ],
)
def test_a_forbidden_import_breaks_its_rule(
    tmp_path: Path, module: str, breach: str, contract: str
) -> None:
    copy = tmp_path / "eda_lake"
    shutil.copytree(
        REPO_ROOT / "eda_lake", copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c")
    )
    target = copy / module
    target.write_text(target.read_text() + f"\n{breach}\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in " ".join(result.stdout.split())


NATIVE_IMPORT = re.compile(r"^\s*(?:from|import)\s+(eda_lake\.[\w.]+)", re.MULTILINE)


def _native_imports(text: str) -> set[str]:
    return set(NATIVE_IMPORT.findall(text))


def test_the_compiled_modules_import_only_what_every_room_shares() -> None:
    """import-linter reads no Cython: the compiled modules are held to the rule here. Every
    room (hub, capture, events, the lake) imports them, so they sit at the bottom with
    `shared`: an import of any other room would hide a cycle (hub -> native -> events)."""
    imported = {
        module
        for source in sorted((REPO_ROOT / "eda_lake" / "native").glob("*.pyx"))
        for module in _native_imports(source.read_text())
    }
    assert imported, "the compiled modules' imports were not found"
    assert {m for m in imported if not m.startswith("eda_lake.shared.")} == set()


def test_the_compiled_modules_rule_sees_an_import_of_a_room() -> None:
    code = "from eda_lake.events.cloudevents import (\n    ID as CE_ID,\n)\ncimport cython\n"
    assert _native_imports(code) == {"eda_lake.events.cloudevents"}
