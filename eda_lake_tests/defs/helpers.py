"""The Dagster resource as tests build it (one home, the repository's schemas), a copy of a
module's lake, sensor ticks, and `make dev` started as a person starts it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from eda_lake.defs.lake.assets import GOLD_DAYS_NAME, PENDING_DAYS, PENDING_DAYS_TAG
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import HOME_VAR, PII_KEY_VAR, REPO_ROOT
from eda_lake_tests.processes import stop_group
from infra_scripts.ports import free_port

TEST_PII_KEY = "a-test-key-that-is-long-enough"
DEV_STARTUP_S = 120


def resource(home: Path, **variables: str) -> EdaLakeResource:
    """The resource on `home`, with the test key and any further EDA_LAKE_* variables."""
    return EdaLakeResource.of({HOME_VAR: str(home), PII_KEY_VAR: TEST_PII_KEY, **variables})


def copy_home(home: Path, tmp_path: Path) -> Path:
    """A copy of `home` (a module's lake, built once) for one test to change."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy


def add_gold_days(instance: dg.DagsterInstance, days: list[str]) -> None:
    """Gold partitions for `days`, as gold_days_sensor's request adds them."""
    instance.add_dynamic_partitions(GOLD_DAYS_NAME, days)


def pending_gold_run_tags(days: list[str]) -> dict[str, str]:
    """A gold run's tags as gold_automation_sensor's backfill gives them, over `days`."""
    return {
        "dagster/asset_partition_range_start": days[0],
        "dagster/asset_partition_range_end": days[-1],
        PENDING_DAYS_TAG: PENDING_DAYS,
    }


def tick(
    sensor: Any,
    resources: dict[str, Any],
    cursor: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> Any:
    """One evaluation of a sensor (on `instance`, else an ephemeral one), its context closed
    after."""
    with (
        dg.DagsterInstance.ephemeral() if instance is None else _kept(instance) as on,
        dg.build_sensor_context(resources=resources, cursor=cursor, instance=on) as context,
    ):
        return sensor(context)


@contextmanager
def _kept(instance: dg.DagsterInstance) -> Iterator[dg.DagsterInstance]:
    yield instance


@contextmanager
def make_dev(home: Path, dagster_home: Path, log: Path, **variables: str) -> Iterator[str]:
    """`make dev` on `home` and the instance at `dagster_home`, on a free loopback port,
    started from a shell with a permissive umask; yields the UI's URL once it answers, and
    stops it as Ctrl-C does (its process group), forcibly if it does not stop."""
    port = free_port()
    env = {
        **os.environ,
        "EDA_LAKE_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **variables,
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "dev"], cwd=REPO_ROOT, env=env, umask=0o022,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + DEV_STARTUP_S
            while True:
                assert server.poll() is None, log.read_text()[-3000:]
                try:
                    urllib.request.urlopen(f"{url}/server_info", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"make dev not up in {DEV_STARTUP_S} s"
                    time.sleep(0.5)
            yield url
        finally:
            stop_group(server, signal.SIGINT)


def bronze_event_counts(layout: LakeLayout) -> tuple[int, int]:
    """Bronze's rows and its distinct events (capture file and sequence number): equal when
    every event landed once."""
    bronze = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert bronze is not None
    counts = tables.query(
        "SELECT count(*) AS n, count(DISTINCT source_file || ':' || CAST(sequence_number AS "
        "VARCHAR)) AS distinct_events FROM b",
        b=bronze,
    ).to_pylist()[0]
    return int(counts["n"]), int(counts["distinct_events"])
