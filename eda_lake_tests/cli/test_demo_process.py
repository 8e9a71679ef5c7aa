"""`eda-lake demo` as a person runs it: the instance gets the project's configuration (no
Dagster notice about a missing dagster.yaml, no telemetry banner), and SIGTERM ends it in
the one line Ctrl-C gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eda_lake.cli import main
from eda_lake.demo import INSTANCE_CONFIG, shipped_instance_config
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.key_fingerprint import require_same_key
from eda_lake.lake.silver.masking import Masker
from eda_lake.settings import Settings

EDA_LAKE = Path(sys.executable).with_name("eda-lake")


def test_an_instance_without_configuration_gets_the_shipped_one_and_a_persons_stays(
    tmp_path: Path,
) -> None:
    shipped_instance_config(tmp_path)
    written = tmp_path / "dagster.yaml"
    assert written.read_bytes() == INSTANCE_CONFIG.read_bytes()
    assert written.stat().st_mode & 0o077 == 0  # owner-only, as the instance's other files
    assert "enabled: false" in written.read_text()  # telemetry off
    written.write_text("telemetry:\n  enabled: true\n")
    shipped_instance_config(tmp_path)
    assert written.read_text() == "telemetry:\n  enabled: true\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dagster.yaml"]  # nothing left aside


def test_sigterm_during_the_runs_ends_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDA_LAKE_", "DAGSTER_"))}
    demo = subprocess.Popen(
        [str(EDA_LAKE), "demo", "--customers", "20"],
        env={**env, "EDA_LAKE_HOME": str(home)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    storage = home / "dagster_home" / "storage"  # made as the first run starts
    deadline = time.monotonic() + 120
    while not storage.exists() and demo.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert storage.exists(), "no Dagster run started"
    demo.send_signal(signal.SIGTERM)
    _out, err = demo.communicate(timeout=120)
    assert demo.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("eda-lake: interrupted:")
    assert "Traceback (most recent call last)" not in err
    assert "dagster.yaml" not in err and "Telemetry" not in err


def test_a_second_demo_with_the_same_seed_says_why_silver_kept_nothing_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "home"))
    assert main(["demo", "--customers", "5", "--seed", "7"]) == 0
    first = capsys.readouterr().out
    assert "already held" not in first and "the same --seed" not in first
    assert main(["demo", "--customers", "5", "--seed", "7"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0].startswith("this home already held")
    [silver] = [i for i, line in enumerate(again) if line.startswith("silver  ")]
    assert again[silver].startswith("silver                0 events")
    assert "the same --seed (7) changes nothing: the teams' stores hold" in again[silver + 1]


def test_a_demo_on_a_lake_masked_under_another_key_is_refused_before_it_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("EDA_LAKE_HOME", str(home))
    lake = Lake(Settings(home=home), pii_key="the-checkouts-own-dev-key")
    require_same_key(lake.layout, Masker("the-checkouts-own-dev-key"))  # as a silver run does
    assert main(["demo", "--customers", "5"]) == 2  # no key given: the demo's own
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "EDA_LAKE_PII_KEY is not the key this lake" in line
    assert not (home / "hub").exists() and not Lake(Settings(home=home)).layout.existing_tables()
