"""`eda-lake quarantine list|retry` and `eda-lake vacuum`, as a user runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake_tests.lake.helpers import synthetic_container


def test_a_quarantined_file_is_listed_then_retried_after_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=2, events_per_file=5)
    broken = sorted(root.rglob("*.avro"))[0]
    complete = broken.read_bytes()
    broken.write_bytes(complete[:100])
    # Same size and time again later would not be retried by itself: only after the fix.
    assert main(["ingest", "--capture-root", str(root)]) == 0
    capsys.readouterr()
    assert main(["quarantine", "list", "--kind", "files", "--format", "csv"]) == 0
    listed = capsys.readouterr().out
    assert "quarantine/files: 1 file" in listed and "corrupt or truncated" in listed
    assert str(os.environ["EDA_LAKE_HOME"]) in listed

    broken.write_bytes(complete)
    os.utime(broken, (1_700_000_000, 1_700_000_000))
    assert main(["quarantine", "retry", "--files", "--capture-root", str(root)]) == 0
    retried = capsys.readouterr().out
    assert "files resolved              1" in retried
    assert main(["quarantine", "list", "--kind", "files"]) == 0
    assert "quarantine/files: none" in capsys.readouterr().out


def test_vacuum_refuses_a_retention_readers_may_still_need(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["vacuum", "--retention-hours", "0"]) != 0
    assert "too short" in capsys.readouterr().err
    assert main(["vacuum"]) == 0
    assert "vacuum: no files deleted" in capsys.readouterr().out
