"""The command line's start-up: `eda-lake --help` loads none of the rooms."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

EDA_LAKE = str(Path(sys.executable).parent / "eda-lake")
RUNS = 11


def bench_help() -> dict[str, float]:
    """Wall time of `eda-lake --help`, a fresh process each run (the median of RUNS)."""
    subprocess.run([EDA_LAKE, "--help"], capture_output=True, check=True)  # warm the disk cache
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([EDA_LAKE, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "max_s": max(times)}
