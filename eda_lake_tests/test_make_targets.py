"""What the two front-door commands install: the demo the package alone, the tests also
their tools (the dev extras)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from eda_lake.settings import REPO_ROOT


def _planned(target: str, tmp_path: Path) -> list[str]:
    """The pip installs `make <target>` would run on a fresh checkout (-n: nothing runs)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed: apt-get install make")
    planned = subprocess.run(
        [make, "-n", "-B", target, f"VENV={tmp_path / 'venv'}", f"EDA_LAKE_HOME={tmp_path}"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in planned.splitlines() if "pip install" in line]


def test_the_demo_installs_the_package_without_the_test_tools(tmp_path: Path) -> None:
    installs = _planned("demo", tmp_path)
    assert installs and not any("[dev]" in line for line in installs), installs


def test_the_tests_install_their_tools(tmp_path: Path) -> None:
    assert any("'.[dev]'" in line for line in _planned("test", tmp_path))
