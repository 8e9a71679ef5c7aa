"""Bronze against fastavro on the same files, silver decoding, and a sensor tick."""

from __future__ import annotations

import io
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
from eda_lake.lake.discovery.watch import WatchCursor, poll
from eda_lake_tests.benchmarks.lake_data import (
    meter_readings,
    schemas_with_meter_readings,
    write_bench_container,
    write_foreign_container,
)

BRONZE_EVENTS = 1_000_000

_BRONZE_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import pyarrow.fs as pafs
from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.discovery.listing import discover_all
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


# Events of each silver bench lake: EDA_LAKE_BENCH_SILVER_EVENTS=200000 to iterate faster.
SILVER_EVENTS = int(os.environ.get("EDA_LAKE_BENCH_SILVER_EVENTS", "1000000"))
PII_KEY = "bench-key-0123456789"

_MEASURED_CHILD = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - started
# This process's only child: its peak is the command's alone.
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))
"""


def _cli(command: str, home: Path, schema_dir: Path) -> dict[str, float]:
    """A whole `eda-lake <command>` process on the lake at `home`: seconds and peak RSS."""
    from eda_lake.settings import HOME_VAR, PII_KEY_VAR, SCHEMA_DIR_VAR

    env = {**os.environ, HOME_VAR: str(home), PII_KEY_VAR: PII_KEY, SCHEMA_DIR_VAR: str(schema_dir)}
    cli = Path(sys.executable).with_name("eda-lake")
    os.sync()  # the previous step's files written back now, not during this command
    out = subprocess.run(
        [sys.executable, "-c", _MEASURED_CHILD, str(cli), command],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    measured: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured


def _captured(home: Path, schema_dir: Path, shape: str, events: int) -> None:
    """A lake at `home` whose capture holds `events` of the shape, not yet ingested."""
    from eda_lake.capture.runtime import run_capture
    from eda_lake.settings import Settings
    from eda_lake_tests.simulation.helpers import provisioned, publish

    settings = Settings(home=home, pii_key=PII_KEY, schema_dir=schema_dir)
    simulation = provisioned(settings)
    if shape == "ours":
        simulation.publish_customers(seed=5, count=events)
    else:
        publish(simulation, meter_readings(events))  # type: ignore[arg-type]
    simulation.close()
    run_capture(settings, flush=True)


def _fastavro_per_s(home: Path, hub: str, schema_file: Path) -> tuple[int, float]:
    """fastavro's `schemaless_reader` decoding the hub's bronze bodies into dicts."""
    from eda_lake.lake.delta import tables
    from eda_lake.lake.layout import LakeLayout
    from eda_lake.settings import Settings

    layout = LakeLayout(Settings(home=home).lake_dir)
    bronze = tables.open_table(layout.bronze_uri)
    assert bronze is not None
    bodies = tables.query(f"SELECT body FROM bronze WHERE hub = '{hub}'", bronze=bronze)
    values = bodies["body"].to_pylist()
    del bodies
    schema = fastavro.parse_schema(json.loads(schema_file.read_text()))
    started = time.perf_counter()
    for body in values:
        fastavro.schemaless_reader(io.BytesIO(body), schema, None)
    return len(values), len(values) / (time.perf_counter() - started)


def bench_silver(events: int = SILVER_EVENTS) -> dict[str, dict[str, float]]:
    """Whole `eda-lake silver` processes (events and entities) on `events` of our shape
    (CustomerCreated) and of a foreign producer's (MeterReading, registered and in the
    catalogue), against `eda-lake ingest` of the same events and fastavro decoding the same
    bodies; and silver on a lake holding only another producer's events."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        schemas = schemas_with_meter_readings(Path(tmp) / "schemas")
        default_schemas = Path(__file__).resolve().parents[2] / "schemas"
        for shape, hub, schema_file in [
            ("ours", "customer-created", schemas / "customer" / "CustomerCreated.avsc"),
            ("foreign", "meter-readings", schemas / "partner" / "MeterReading.avsc"),
        ]:
            home = Path(tmp) / shape
            _captured(home, schemas, shape, events)
            ingest = _cli("ingest", home, schemas)
            if shape == "foreign":
                # The catalogue without MeterReading: all of bronze is another producer's.
                results["others_only"] = _cli("silver", home, default_schemas)
            silver = _cli("silver", home, schemas)
            if shape == "ours":
                # Every run's fixed cost: the process, its imports, the lease, the tables.
                results["nothing_new"] = _cli("silver", home, schemas)
            count, fastavro_per_s = _fastavro_per_s(home, hub, schema_file)
            results[shape] = {
                "events": count,
                "silver_per_s": count / silver["seconds"],
                "silver_s": silver["seconds"],
                "peak_rss_mb": silver["peak_rss_mb"],
                "ingest_per_s": count / ingest["seconds"],
                "fastavro_per_s": fastavro_per_s,
            }
    ours = results["ours"]
    results["others_only"]["share"] = results["others_only"]["seconds"] / ours["silver_s"]
    return results


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
