"""Publish to gold through `dagster-daemon` with the shipped sensors and automation.

A warm lake (one population already in gold, so gold has partitions) and a 60 s capture
window; customers are published in small batches spread over three windows and more, and
each is timed from its publish to the first gold commit whose funnel counts it (gold's
`customers` summed over its days: a customer is counted once, so the sum passes each batch's
running total in publish order). Gold is polled through its Delta log's newest version,
read only when it changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import (
    HOME_VAR,
    PII_KEY_VAR,
    REPO_ROOT,
    SCHEMA_DIR_VAR,
    Settings,
)
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.catalogues import schemas_with_capture_window
from eda_lake_tests.processes import stop_group
from eda_lake_tests.simulation.helpers import lake_through_gold

KEY = "a-benchmark-key-that-is-long-enough"
WINDOW_S = 60
BATCHES = 25  # of BATCH customers, one every SPACING_S: 150 s, at least three windows
BATCH = 5
SPACING_S = 6.0
DAEMON_WARMUP_S = 20  # the daemon's code server up, its sensors' first ticks done
POLL_S = 0.5
DEADLINE_S = 240  # after the last publish, for gold to count every customer
TARGET_P95_S = WINDOW_S + 30


def _dagster(name: str) -> str:
    return str(REPO_ROOT / ".venv" / "bin" / name)


def _gold_customers(uri: str, seen: list[int]) -> int | None:
    """Customers gold's funnel counts, or None when its table has no commit since the last
    read (`seen` holds that version): a listing of its log, the table read only on a change."""
    log = Path(uri) / "_delta_log"
    newest = max((int(p.stem) for p in log.glob("*.json") if p.stem.isdigit()), default=-1)
    if newest <= seen[0]:
        return None
    seen[0] = newest
    table = tables.open_table(uri)
    assert table is not None
    total = tables.query("SELECT sum(customers) AS n FROM f", f=table).to_pylist()[0]["n"]
    return int(total or 0)


def _warm_lake(settings: Settings) -> int:
    """A provisioned hub and a lake whose gold counts one population; its customers."""
    lake_through_gold(settings, seed=1, customers=20, pii_key=KEY)
    counted = _gold_customers(
        LakeLayout.from_settings(settings).table_uri("gold", "funnel_daily"), [-1]
    )
    assert counted, "the warm-up population did not reach gold"
    return counted


def bench_publish_to_gold() -> dict[str, float]:
    """Publish-to-gold seconds of every customer (p50, p95, max) through the daemon."""
    with tempfile.TemporaryDirectory() as tmp:
        home, dagster_home = Path(tmp) / "home", Path(tmp) / "dagster_home"
        schemas = schemas_with_capture_window(Path(tmp) / "schemas", WINDOW_S)
        dagster_home.mkdir()
        shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        variables = {HOME_VAR: str(home), PII_KEY_VAR: KEY, SCHEMA_DIR_VAR: str(schemas)}
        env = {**os.environ, **variables, "DAGSTER_HOME": str(dagster_home)}
        settings = Settings.from_env(variables)
        counted = _warm_lake(settings)
        # The simulation's own populations would be counted too: its schedule is stopped.
        subprocess.run(
            [_dagster("dagster"), "schedule", "stop", "simulation_schedule",
             "-m", "eda_lake.definitions"],
            env=env, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        log = (Path(tmp) / "daemon.log").open("w")
        daemon = subprocess.Popen(
            [_dagster("dagster-daemon"), "run", "-m", "eda_lake.definitions"],
            env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            time.sleep(DAEMON_WARMUP_S)
            return _measure(settings, counted)
        finally:
            stop_group(daemon, signal.SIGTERM)
            log.close()


def _measure(settings: Settings, counted: int) -> dict[str, float]:
    simulation = Simulation(settings)
    uri = LakeLayout.from_settings(settings).table_uri("gold", "funnel_daily")
    published: list[tuple[float, int, int]] = []  # (at, customers, gold's count with them)
    appeared: dict[int, float] = {}  # batch: when gold first counted it
    seen = [-1]
    start = time.time()
    try:
        while len(published) < BATCHES or (
            len(appeared) < BATCHES and time.time() < published[-1][0] + DEADLINE_S
        ):
            if len(published) < BATCHES and time.time() >= start + len(published) * SPACING_S:
                created = simulation.publish_customers(seed=100 + len(published), count=BATCH)
                counted += created
                published.append((time.time(), created, counted))
            total = _gold_customers(uri, seen)
            for index, (_, _, running) in enumerate(published):
                if total is not None and index not in appeared and total >= running:
                    appeared[index] = time.time()
            time.sleep(POLL_S)
    finally:
        simulation.close()
    latencies = [
        appeared.get(index, float("inf")) - at
        for index, (at, created, _) in enumerate(published)
        for _ in range(created)
    ]
    return {
        "events": len(latencies),
        "windows": len({int(at) // WINDOW_S for at, _, _ in published}),
        "p50_s": statistics.median(latencies),
        "p95_s": statistics.quantiles(latencies, n=20, method="inclusive")[18],
        "max_s": max(latencies),
        "missing": BATCHES - len(appeared),
    }
