"""Cost that follows new data: the same work on a small lake and on one 200 times larger.

- silver+gold with nothing new, and ingest+silver of the same 300 new customers, on two
  lakes grown from the same seed (the larger has 200 times the customers);
- deciding which of 10 announced files are new (the sensor's run) with 1k and with 200k
  capture files already in bronze.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.runtime import run_capture
from eda_lake.lake.bronze.ingest import (
    BRONZE_CHECKPOINT_INTERVAL,
    BRONZE_CONFIGURATION,
    STATS_COLUMNS,
    BronzeIngestor,
    _bronze_batch,
    stream_lock,
)
from eda_lake.lake.bronze.schema import BRONZE_SCHEMA, PARTITION_COLUMNS
from eda_lake.lake.delta import commits
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.delta.data_files import DataFileWriter
from eda_lake.lake.discovery.listing import CaptureFile
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import lake_through_gold, provisioned

NAMES = ArchiveNameFormat()
HUBS = [f"hub-{n}" for n in range(7)]
PARTITIONS = 4
WINDOW = timedelta(minutes=5)
START = datetime(2026, 10, 1, tzinfo=UTC)


def _grow(settings: Settings, customers: int, seed: int) -> Lake:
    return lake_through_gold(settings, seed=seed, customers=customers)


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def bench_lake_growth(small: int = 1_000, factor: int = 200, new: int = 300) -> dict[str, float]:
    """Two lakes from the same seed, the second `factor` times larger: a run with nothing
    new, then the same `new` customers (ingest + silver), on each."""
    figures: dict[str, float] = {}
    for label, customers in (("small", small), ("large", small * factor)):
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(home=Path(home), pii_key="bench-key-0123456789")
            lake = _grow(settings, customers, seed=5)
            figures[f"{label}_idle_s"] = _timed(partial(_idle_run, lake))
            simulation = provisioned(settings)
            simulation.publish_customers(seed=77, count=new)
            simulation.subscriber("conversions").run()
            simulation.close()
            run_capture(settings, flush=True)
            figures[f"{label}_new_s"] = _timed(partial(_new_run, lake))
    figures["idle_ratio"] = figures["large_idle_s"] / figures["small_idle_s"]
    figures["new_ratio"] = figures["large_new_s"] / figures["small_new_s"]
    return figures


def _idle_run(lake: Lake) -> None:
    lake.silver()
    lake.gold()


def _new_run(lake: Lake) -> None:
    lake.ingest()
    lake.silver()


def _file(hub: str, partition: int, window: datetime, size: int = 4096) -> CaptureFile:
    path = NAMES.render("bench-ns", hub, str(partition), window)
    return CaptureFile(path, size, NAMES.parse(path), modified_at=window)


def _bronze_with(layout: LakeLayout, files: int) -> list[CaptureFile]:
    """Bronze as `files` ingested capture files leave it after daily compaction: one data
    file per hub and day. Returns the capture files, in time order."""
    per_window = len(HUBS) * PARTITIONS
    ingested = [
        _file(
            HUBS[(n % per_window) // PARTITIONS], n % PARTITIONS, START + WINDOW * (n // per_window)
        )
        for n in range(files)
    ]
    table = commits.ensure_table(
        layout.bronze_uri,
        BRONZE_SCHEMA,
        partition_by=PARTITION_COLUMNS,
        configuration=BRONZE_CONFIGURATION,
    )
    by_day: dict[str, list[CaptureFile]] = {}
    for file in ingested:
        assert file.archive is not None
        by_day.setdefault(file.archive.window_time.date().isoformat(), []).append(file)
    now = datetime.now(UTC)
    for day_files in by_day.values():
        batches = [_bronze_batch(_events(f), f, now) for f in day_files]
        locks = {stream_lock(f): 1 for f in day_files}
        write = Write(
            BRONZE_SCHEMA, pa.Table.from_batches(batches, BRONZE_SCHEMA).combine_chunks(),
            partition_by=PARTITION_COLUMNS, app_transactions=locks,
        )  # fmt: skip
        commits.commit(table, write, {})
        table.update_incremental()
    return ingested


def _land(layout: LakeLayout, table: DeltaTable, files: list[CaptureFile]) -> None:
    """One bronze commit of `files` as an ingestion makes it: each stream's rows in data
    files of their own, each stream's lock taken."""
    now = datetime.now(UTC)
    writer = DataFileWriter(
        layout.fs, layout.fs_path("bronze"), BRONZE_SCHEMA, PARTITION_COLUMNS,
        stats_columns=STATS_COLUMNS, target_bytes=commits.TARGET_FILE_BYTES,
    )  # fmt: skip
    for file in sorted(files, key=lambda f: f.path):
        assert file.archive is not None
        partition = {"hub": file.archive.hub, "date": file.archive.window_time.date().isoformat()}
        writer.write(_bronze_batch(_events(file), file, now), partition, group=stream_lock(file))
    locks = {stream_lock(f): (table.transaction_version(stream_lock(f)) or 0) + 1 for f in files}
    commits.commit_files(
        table, BRONZE_SCHEMA, writer.finish(), partition_by=PARTITION_COLUMNS, inputs={},
        app_transactions=locks, metadata={},
    )  # fmt: skip
    table.update_incremental()


def _window(window: datetime) -> list[CaptureFile]:
    return [_file(hub, partition, window) for hub in HUBS for partition in range(PARTITIONS)]


def _events(file: CaptureFile, rows: int = 5) -> pa.RecordBatch:
    assert file.archive is not None
    moment = file.archive.window_time
    columns = {
        "sequence_number": pa.array(range(rows), pa.int64()),
        "offset": pa.array([str(n) for n in range(rows)]),
        "enqueued_time": pa.array([moment] * rows, pa.timestamp("us", tz="UTC")),
        "body": pa.array([b"x" * 64] * rows),
    }
    schema = pa.schema([f for f in BRONZE_SCHEMA if f.name not in _PATH_COLUMNS])
    return pa.RecordBatch.from_arrays(
        [columns.get(f.name, pa.nulls(rows, f.type)) for f in schema], schema=schema
    )


_PATH_COLUMNS = ("namespace", "hub", "partition_id", "source_file", "ingested_at", "date")


def bench_decide_new(
    small: int = 1_000, large: int = 200_000, announced: int = 10
) -> dict[str, float]:
    """What the sensor's run decides before it reads a byte: which announced files are new
    (half of them are, half were ingested already).

    Opening a snapshot replays the commits since the last checkpoint, which costs the same on
    any table and grows with that tail (bronze checkpoints every 10 commits), not with the
    files ingested. So the two bronzes are compared at the same point of their logs: each
    goes on ingesting one capture window per commit, as the sensor's runs do, from a fresh
    checkpoint through the 9 commits after it, and the decision is timed at every step."""
    steps = BRONZE_CHECKPOINT_INTERVAL
    times: dict[str, list[float]] = {}
    for label, count in (("small", small), ("large", large)):
        with tempfile.TemporaryDirectory() as tmp:
            layout = LakeLayout(Path(tmp) / "lake")
            ingested = _bronze_with(layout, count)
            table = DeltaTable(layout.bronze_uri)
            ingestor = BronzeIngestor(layout, pafs.LocalFileSystem(), tmp)
            window = ingested[-1].archive.window_time + WINDOW  # type: ignore[union-attr]
            _land(layout, table, _window(window))  # a whole window in (the last one may not be)
            while (table.version() + 1) % steps:  # up to the next checkpoint
                window += WINDOW
                _land(layout, table, _window(window))
            times[label] = []
            for _ in range(steps):
                fresh = _window(window + WINDOW)[: announced // 2]
                files = _window(window)[-(announced - len(fresh)) :] + fresh
                times[label].append(_best_decision(ingestor, files, fresh))
                window += WINDOW
                _land(layout, table, _window(window))
    ratios = [large / small for small, large in zip(times["small"], times["large"], strict=True)]
    return {
        "small_s": statistics.median(times["small"]),
        "large_s": statistics.median(times["large"]),
        "ratio": statistics.median(ratios),
        "worst_ratio": max(ratios),
    }


def _best_decision(
    ingestor: BronzeIngestor, files: list[CaptureFile], fresh: list[CaptureFile]
) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        pending = ingestor.new_files(files)
        best = min(best, time.perf_counter() - started)
    assert {f.path for f in pending} == {f.path for f in fresh}, "wrong decision"
    return best
