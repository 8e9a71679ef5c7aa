"""Cost that follows new data: the same work on a small lake and on one 200 times larger.

- silver+gold with nothing new, and ingest+silver of the same 300 new customers, on two
  lakes grown from the same seed (the larger has 200 times the customers);
- deciding which of 10 announced files are new (the sensor's run) with 1k and with 200k
  capture files already in bronze.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.capture.runtime import run_embedded_capture
from eda_lake.lake import commits
from eda_lake.lake.bronze import (
    BRONZE_CONFIGURATION,
    BronzeIngestor,
    _bronze_batch,
    stream_lock,
)
from eda_lake.lake.bronze_schema import BRONZE_SCHEMA, PARTITION_COLUMNS
from eda_lake.lake.commits import Write
from eda_lake.lake.discovery import CaptureFile
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import provisioned

NAMES = ArchiveNameFormat()
HUBS = [f"hub-{n}" for n in range(7)]
PARTITIONS = 4
WINDOW = timedelta(minutes=5)
START = datetime(2026, 10, 1, tzinfo=UTC)


def _grow(settings: Settings, customers: int, seed: int) -> Lake:
    simulation = provisioned(settings)
    simulation.run_chain(seed=seed, customers=customers)
    run_embedded_capture(settings, flush=True)
    simulation.close()
    lake = Lake(settings)
    lake.ingest()
    lake.silver()
    lake.gold()
    return lake


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
            run_embedded_capture(settings, flush=True)
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
    (half of them are, half were ingested already)."""
    figures: dict[str, float] = {}
    for label, count in (("small", small), ("large", large)):
        with tempfile.TemporaryDirectory() as tmp:
            layout = LakeLayout(Path(tmp) / "lake")
            ingested = _bronze_with(layout, count)
            latest = ingested[-1].archive.window_time  # type: ignore[union-attr]
            fresh = [
                _file(HUBS[n % len(HUBS)], n % PARTITIONS, latest + WINDOW)
                for n in range(announced // 2)
            ]
            files = ingested[-(announced - len(fresh)) :] + fresh
            ingestor = BronzeIngestor(layout, pafs.LocalFileSystem(), tmp)
            best = float("inf")
            for _ in range(5):
                started = time.perf_counter()
                pending = ingestor.new_files(files)
                best = min(best, time.perf_counter() - started)
            assert {f.path for f in pending} == {f.path for f in fresh}, "wrong decision"
            figures[f"{label}_s"] = best
    figures["ratio"] = figures["large_s"] / figures["small_s"]
    return figures
