"""Killed, repeated and concurrent ingestions: every event exactly once."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings
from eda_lake_tests.lake.helpers import ingest, synthetic_container
from eda_lake_tests.processes import run_together


def _counts(layout: LakeLayout) -> Counter[tuple[str, int]]:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    rows = tables.query("SELECT partition_id, sequence_number FROM bronze", bronze=table)
    return Counter(
        zip(rows["partition_id"].to_pylist(), rows["sequence_number"].to_pylist(), strict=True)
    )


def _ingest_in_child(settings: Settings, root: str) -> None:
    import eda_lake.lake.bronze.ingest as bronze

    bronze.MAX_FILES_PER_COMMIT = 2  # many small commits: more moments to be killed in
    ingest(LakeLayout.from_settings(settings), Path(root))


def _version(layout: LakeLayout) -> int:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    return -1 if table is None else table.version()


def test_killed_ingestion_then_rerun_gives_each_event_once(
    tmp_path: Path, lake_settings: Settings, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    total = synthetic_container(root, files=120, events_per_file=2_000)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(5)
    killed = 0
    for _ in range(3):
        before = _version(layout)
        worker = ctx.Process(target=_ingest_in_child, args=(lake_settings, str(root)))
        worker.start()
        deadline = time.monotonic() + 60
        while _version(layout) == before and worker.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.08))  # inside a commit's writing, or between two
        if worker.is_alive():
            os.kill(worker.pid or 0, signal.SIGKILL)
            killed += 1
        worker.join()
    assert killed >= 1, "ingestion finished before it could be killed: give it more files"
    partial = _counts(layout) if _version(layout) >= 0 else Counter()
    assert all(n == 1 for n in partial.values())
    ingest(layout, root)
    counts = _counts(layout)
    assert sum(counts.values()) == total == len(counts)


def test_two_concurrent_ingestions_of_the_same_files(
    tmp_path: Path, lake_settings: Settings, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    total = synthetic_container(root, files=24, events_per_file=1_000)
    run_together(_ingest_in_child, (lake_settings, str(root)), 2, 120)
    counts = _counts(layout)
    assert sum(counts.values()) == total == len(counts)
