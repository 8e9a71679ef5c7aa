"""Dagster runs as the UI launches them: one process per run (the run worker), which loads
the code location and executes every step in that process (no subprocess per step)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from eda_lake.settings import REPO_ROOT, Settings
from eda_lake_tests.simulation.helpers import captured_chain

KEY = "a-benchmark-key-that-is-long-enough"


def _run(job: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "dagster"), "job", "execute",
         "-m", "eda_lake.definitions", "-j", job],
        env=env, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def bench_runs() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home, dagster_home = Path(tmp) / "home", Path(tmp) / "dagster_home"
        dagster_home.mkdir()
        shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        env = {
            **os.environ,
            "EDA_LAKE_HOME": str(home),
            "EDA_LAKE_PII_KEY": KEY,
            "DAGSTER_HOME": str(dagster_home),
        }
        platform_s = _run("provision_platform", env)
        settings = Settings(home=home)
        captured_chain(settings, seed=1, customers=1000)
        first_ingest_s = _run("ingest_job", env)
        idle_ingest_s = _run("ingest_job", env)  # nothing new
        return {
            "platform_s": platform_s,
            "ingest_s": first_ingest_s,
            "idle_ingest_s": idle_ingest_s,
        }
