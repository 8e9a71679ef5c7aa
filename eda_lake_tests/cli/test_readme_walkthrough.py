"""The README's "Operating it" block, run line by line as a user pastes it: the two never drift."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eda_lake.lake.derived.gold import funnel
from eda_lake.lake.runtime import Lake
from eda_lake.settings import REPO_ROOT, Settings


def walkthrough_lines() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Operating it\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "no sh block under 'Operating it'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_every_line_is_one_complete_command() -> None:
    lines = walkthrough_lines()
    assert len(lines) >= 15
    for line in lines:
        assert not line.lstrip().startswith("#"), f"a comment line, not a command: {line}"
        command = line.split("   #", 1)[0].split("  #", 1)[0]
        assert not re.search(r"<[a-z ]+>|\[--|\.\.\.", command), f"a placeholder: {line}"
    commands = [line.split()[0:2] for line in lines]
    assert ["eda-lake", "ingest"] in commands and ["eda-lake", "gold"] in commands


@pytest.mark.parametrize("catalogue_file", [None, "catalogue-per-aggregate.toml"])
def test_walkthrough_runs_as_written_from_another_directory(
    tmp_path: Path, catalogue_file: str | None
) -> None:
    """On the default catalogue (a hub per event), and with a hub per aggregate."""
    home, elsewhere = tmp_path / "user", tmp_path / "somewhere" / "else"
    home.mkdir()
    elsewhere.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDA_LAKE_")}
    if catalogue_file is not None:
        env["EDA_LAKE_CATALOGUE_FILE"] = catalogue_file
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = []
    for number, line in enumerate(walkthrough_lines(), start=1):
        script += [
            line,
            f'rc=$?; if [ "$rc" -ne 0 ]; then echo "line {number} exited $rc" >&2; exit 97; fi',
        ]
    result = subprocess.run(
        ["sh", "-c", "\n".join(script)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "purchasers" in result.stdout  # the last line's query answered
    assert '"sequence_number"' in result.stdout  # capture inspect found files
    assert not (elsewhere / ".eda_lake").exists()  # the exported home was used, from anywhere
    walkthrough_home = home / "eda-lake-walkthrough"
    rows = funnel(Lake(Settings(home=walkthrough_home)).layout).to_pylist()
    assert sum(row["customers"] for row in rows) == 1000
    assert sum(row["purchasers"] for row in rows) > 0
    assert f"EDA_LAKE_HOME   {walkthrough_home}" in result.stdout
