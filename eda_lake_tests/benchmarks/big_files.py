"""Peak memory of a whole `eda-lake ingest` process on big capture files.

Each shape is one file ingested by the CLI in a process of its own; its peak RSS is the
kernel's account of that child (wait4's ru_maxrss), not a sample.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eda_lake.settings import MAX_EVENT_VAR
from eda_lake_tests.capture.big_files import capture_path, write_big_capture

MIB = 1 << 20
# name: (body sizes, EDA_LAKE_MAX_EVENT_MIB or None for the default, target peak RSS in MB
# or None, whether the file is to be quarantined). Bodies are random: Parquet cannot shrink them.
SHAPES: dict[str, tuple[list[int], int | None, float | None, bool]] = {
    "2.2 GB of 1 MiB bodies": ([MIB] * 2100, None, 512, False),
    "2.2 GB of 63 MiB bodies (just under the limit)": ([63 * MIB] * 34, None, 512, False),
    "one 1 GiB body, default limit": ([1024 * MIB], None, 512, True),
    "one 1 GiB body, limit raised to 1100 MiB": ([1024 * MIB], 1100, None, False),
}


def ingest_peak(root: Path, home: Path, max_event_mib: int | None) -> dict[str, float | str]:
    env = {**os.environ, "EDA_LAKE_HOME": str(home)}
    if max_event_mib is not None:
        env[MAX_EVENT_VAR] = str(max_event_mib)
    cli = Path(sys.executable).with_name("eda-lake")
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(cli), "ingest", "--capture-root", str(root)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise RuntimeError(f"eda-lake ingest exited {child.returncode}:\n{output}")
    events = re.search(r"ingested \(([\d,]+) event", output)
    return {
        "peak_rss_mb": usage.ru_maxrss / 1024 * 1.048576,  # KiB -> MB
        "seconds": seconds,
        "events": int(events.group(1).replace(",", "")) if events else 0,
        "quarantined": "yes" if "    quarantined " in output else "no",
    }


def bench_big_files(only: tuple[str, ...] = ()) -> dict[str, dict[str, float | str]]:
    """Each shape (or those whose name holds one of `only`): peak RSS, seconds, outcome."""
    results = {}
    for label, (sizes, limit, target, quarantined) in SHAPES.items():
        if only and not any(part in label for part in only):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "capture"
            path = write_big_capture(capture_path(root), sizes, incompressible=True)
            result = ingest_peak(root, Path(tmp) / "home", limit)
            result["file_mb"] = path.stat().st_size / 1e6
            result["target_mb"] = target or 0.0
            as_expected = (result["quarantined"] == "yes") == quarantined
            result["as_expected"] = "yes" if as_expected else "no"
            results[label] = result
    return results


if __name__ == "__main__":
    print(f"load average {os.getloadavg()[0]:.2f}")
    for label, result in bench_big_files(tuple(sys.argv[1:])).items():
        print(label, result)
