"""Bronze against fastavro on the same files, silver decoding, and a sensor tick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastavro
import pyarrow.fs as pafs

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.lake.watch import WatchCursor, poll
from eda_lake_tests.benchmarks.lake_data import write_bench_container, write_foreign_container

BRONZE_EVENTS = 1_000_000

_BRONZE_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import pyarrow.fs as pafs
from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.lake.bronze import BronzeIngestor
from eda_lake.lake.discovery import discover_all
from eda_lake.lake.layout import LakeLayout
root = sys.argv[1]
fs = pafs.LocalFileSystem()
files = discover_all(fs, root, ArchiveNameFormat())
started = time.perf_counter()
report = BronzeIngestor(LakeLayout(Path(tempfile.mkdtemp())), fs, root).ingest(files)
seconds = time.perf_counter() - started
# VmHWM is this process's own peak; ru_maxrss would carry the parent's over exec.
status = Path("/proc/self/status").read_text()
rss = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps({"rows": report.rows, "seconds": seconds, "peak_rss_mb": rss}))
"""


SHAPES = {"ours": write_bench_container, "foreign": write_foreign_container}


def bench_bronze(
    files_per_partition: int = 2, partitions: int = 4, shape: str = "ours"
) -> dict[str, float]:
    """Bronze in-process and as a whole `eda-lake ingest`, against fastavro merely iterating
    the same files, measured side by side in one run."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "capture"
        paths = SHAPES[shape](root, BRONZE_EVENTS, files_per_partition, partitions)
        largest_mb = max(p.stat().st_size for p in paths) / 2**20
        started = time.perf_counter()
        count = 0
        for path in paths:
            with path.open("rb") as stream:
                for _ in fastavro.reader(stream):
                    count += 1
        fastavro_s = time.perf_counter() - started
        # A process of its own, so that its peak RSS is bronze's alone.
        out = subprocess.run(
            [sys.executable, "-c", _BRONZE_CHILD, str(root)],
            check=True,
            capture_output=True,
            text=True,
        )
        child = json.loads(out.stdout.strip().splitlines()[-1])
        env = {**os.environ, "EDA_LAKE_HOME": str(Path(tmp) / "home")}
        started = time.perf_counter()
        cli = Path(sys.executable).with_name("eda-lake")
        subprocess.run(
            [str(cli), "ingest", "--capture-root", str(root)], check=True, env=env,
            capture_output=True,
        )  # fmt: skip
        process_s = time.perf_counter() - started
    return {
        "events": child["rows"],
        "bronze_per_s": child["rows"] / child["seconds"],
        "fastavro_per_s": count / fastavro_s,
        "ratio": fastavro_s / child["seconds"],
        "process_ratio": fastavro_s / process_s,
        "peak_rss_mb": child["peak_rss_mb"],
        "largest_file_mb": largest_mb,
    }


def bench_silver(customers: int = 200_000) -> dict[str, float]:
    """Registry-encoded CustomerCreated bodies from bronze to typed silver columns."""
    from eda_lake.capture.runtime import run_embedded_capture
    from eda_lake.lake.runtime import Lake
    from eda_lake.settings import Settings
    from eda_lake_tests.simulation.helpers import provisioned

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), pii_key="bench-key-0123456789")
        simulation = provisioned(settings)
        simulation.publish_customers(seed=5, count=customers)
        run_embedded_capture(settings, flush=True)
        simulation.close()
        lake = Lake(settings)
        lake.ingest()
        started = time.perf_counter()
        first = lake.silver_events()  # into empty tables
        first_s = time.perf_counter() - started
        simulation = provisioned(settings)
        simulation.publish_customers(seed=6, count=customers)
        simulation.close()
        run_embedded_capture(settings, flush=True)
        lake.ingest()
        started = time.perf_counter()
        second = lake.silver_events()  # merged into tables that hold the first load
        second_s = time.perf_counter() - started
    first_n, second_n = sum(first.decoded.values()), sum(second.decoded.values())
    return {
        "events": first_n,
        "per_s": first_n / first_s,
        "incremental_events": second_n,
        "incremental_per_s": second_n / second_s,
    }


def bench_sensor_tick(ingested: int = 50_000, new: int = 10) -> dict[str, float]:
    """A tick with `ingested` files already seen over past days and `new` fresh ones."""
    names = ArchiveNameFormat()
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for index in range(ingested + new):
            fresh = index >= ingested
            window = (
                now - timedelta(minutes=1 + index % 50)
                if fresh
                else now - timedelta(minutes=5 * (index // 8) + 180)
            )
            path = root / names.render("ns", f"hub-{index % 8}", str(index % 4), window)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        fs = pafs.LocalFileSystem()
        cursor = WatchCursor(listed_at=now - timedelta(minutes=1))
        cursor.seen = {}
        started = time.perf_counter()
        found, _ = poll(fs, str(root), names, cursor, lateness=timedelta(hours=2), now=now)
        seconds = time.perf_counter() - started
    return {"files": ingested + new, "new_found": len(found), "seconds": seconds}
