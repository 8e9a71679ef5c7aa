from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake_tests.registry.evolution import STEPS, VERSIONS


def _write_versions(tmp_path: Path) -> list[Path]:
    paths = []
    for number, schema in enumerate(VERSIONS, start=1):
        path = tmp_path / f"thing_v{number}.avsc"
        path.write_text(schema.definition)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("new", "backward", "forward"), STEPS)
def test_registry_check_exit_codes(
    tmp_path: Path, capsys, new: int, backward: bool, forward: bool
) -> None:
    paths = _write_versions(tmp_path)
    old_path, new_path = str(paths[new - 2]), str(paths[new - 1])
    for mode, ok in (
        ("none", True),
        ("backward", backward),
        ("forward", forward),
        ("full", backward and forward),
    ):
        code = main(["registry", "check", "--mode", mode, old_path, new_path])
        out = capsys.readouterr().out
        assert code == (0 if ok else 1), (mode, out)
        if not ok:
            assert "Thing." in out  # the reason names the field


def test_registry_check_as_a_process_with_a_bad_file(tmp_path: Path) -> None:
    paths = _write_versions(tmp_path)
    bad = tmp_path / "bad.avsc"
    bad.write_text("{not json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eda_lake.cli",
            "registry",
            "check",
            "--mode",
            "backward",
            str(paths[0]),
            str(bad),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "bad.avsc: not valid JSON" in result.stderr


def test_catalogue_command(capsys) -> None:
    assert main(["catalogue"]) == 0
    assert json.loads(capsys.readouterr().out)["SaleConfirmed"]["hub"] == "sale-confirmed"
