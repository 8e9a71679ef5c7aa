"""A silver table rewritten for an evolved schema: the check a run makes first, and the
rewrite's speed and memory against the table's size."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_UPGRADE_CHILD = """
import json, sys, time
from pathlib import Path
from eda_lake.catalogue import load_catalogue
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
home, schemas, rewrite = sys.argv[1], sys.argv[2], sys.argv[3] == "rewrite"
key = "bench-key-0123456789"
lake = Lake(Settings(home=Path(home)), load_catalogue(Path(schemas)), pii_key=key)
started = time.perf_counter()
upgraded = lake.recovery.upgrade_silver() if rewrite else []
seconds = time.perf_counter() - started
status = Path("/proc/self/status").read_text()
rss = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) / 1024
print(json.dumps({"upgraded": upgraded, "seconds": seconds, "peak_rss_mb": rss}))
"""


def _child(home: Path, schemas: Path, rewrite: bool) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _UPGRADE_CHILD,
            str(home),
            str(schemas),
            "rewrite" if rewrite else "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def bench_table_upgrade(customers: int = 200_000) -> dict[str, float]:
    """CustomerCreated's table, then the catalogue adds a field with a default: the whole
    table is rewritten once."""
    from eda_lake.capture.runtime import run_capture
    from eda_lake.lake.delta import tables
    from eda_lake.lake.runtime import Lake
    from eda_lake.settings import REPO_ROOT, Settings
    from eda_lake_tests.simulation.helpers import provisioned

    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory) / "home"
        settings = Settings(home=home, pii_key="bench-key-0123456789")
        simulation = provisioned(settings)
        simulation.publish_customers(seed=5, count=customers)
        run_capture(settings, flush=True)
        simulation.close()
        lake = Lake(settings)
        lake.ingest()
        lake.silver_events()
        started = time.perf_counter()
        lake.silver_events()  # nothing new: the check, then a run that lands nothing
        idle_s = time.perf_counter() - started
        started = time.perf_counter()
        assert lake.recovery.upgrade_silver() == []
        check_s = time.perf_counter() - started

        schemas = Path(directory) / "schemas"
        shutil.copytree(REPO_ROOT / "schemas", schemas)
        avsc = schemas / "customer" / "CustomerCreated.avsc"
        definition = json.loads(avsc.read_text())
        definition["fields"].append({"name": "tier", "type": "string", "default": "basic"})
        avsc.write_text(json.dumps(definition))
        uri = lake.layout.table_uri("silver", "customer_created")
        table = tables.open_table(uri)
        assert table is not None
        table_mb = tables.query("SELECT * FROM t", t=table).nbytes / 2**20
        baseline = _child(home, schemas, rewrite=False)
        rewrite = _child(home, schemas, rewrite=True)
        assert rewrite["upgraded"] == ["silver.customer_created"], rewrite
    return {
        "rows": customers,
        "check_s": check_s,
        "idle_run_s": idle_s,
        "rewrite_s": rewrite["seconds"],
        "rows_per_s": customers / rewrite["seconds"],
        "table_mb": table_mb,
        "baseline_rss_mb": baseline["peak_rss_mb"],
        "rewrite_rss_mb": rewrite["peak_rss_mb"],
    }


if __name__ == "__main__":
    print(json.dumps(bench_table_upgrade(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)))
