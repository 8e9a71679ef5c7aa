"""A hub per event against a hub per aggregate: the same seeded chain on each catalogue.

Publish (the whole causal chain: the teams' publishing and their subscribers' reactions),
capture, bronze and silver, each timed, with what the layout changes: hubs, partitions,
capture files per window, events per file, and what the subscribers read and skipped.
`python -m eda_lake_tests.benchmarks.hub_layout` prints the two side by side.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from eda_lake.capture.runtime import run_capture
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.simulation.helpers import provisioned

CATALOGUES = {"per event": "catalogue.toml", "per aggregate": "catalogue-per-aggregate.toml"}
CUSTOMERS = 20_000
ROUNDS = 3
TIMES = ("publish_s", "capture_s", "bronze_s", "silver_s")
KEY = "a-benchmark-key-of-the-lake"


def bench_layout(catalogue_file: str, customers: int = CUSTOMERS) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        settings = replace(Settings(home=Path(home)), catalogue_file=catalogue_file)
        simulation = provisioned(settings)
        hubs = simulation.catalogue.hubs.values()
        started = time.perf_counter()
        chain = simulation.run_chain(seed=1, customers=customers)
        publish_s = time.perf_counter() - started
        simulation.close()
        started = time.perf_counter()
        captured = run_capture(settings, flush=True)
        capture_s = time.perf_counter() - started
        lake = Lake(settings, pii_key=KEY)
        started = time.perf_counter()
        lake.ingest()
        bronze_s = time.perf_counter() - started
        started = time.perf_counter()
        silver = lake.silver_events()
        silver_s = time.perf_counter() - started
    subscribers = chain.subscribers.values()
    return {
        "hubs": len(hubs),
        "partitions": sum(h.partitions for h in hubs),
        "consumer_groups": sum(len(h.consumer_groups) for h in hubs),
        "events": captured.events,
        "publish_s": publish_s,
        "capture_s": capture_s,
        "capture_files": len(captured.files),
        "events_per_file": captured.events / len(captured.files),
        "bronze_s": bronze_s,
        "silver_s": silver_s,
        "silver_rows": sum(silver.inserted.values()),
        "subscribers_decoded": sum(s.received for s in subscribers),
        "subscribers_skipped": sum(s.skipped for s in subscribers),
    }


def bench_hub_layouts(
    customers: int = CUSTOMERS, rounds: int = ROUNDS
) -> dict[str, dict[str, float]]:
    """Each catalogue `rounds` times, taking turns: each time the median of its rounds (the
    machine is shared; the counts are the same every round)."""
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in CATALOGUES}
    for _ in range(rounds):
        for label, file in CATALOGUES.items():
            runs[label].append(bench_layout(file, customers))
    return {
        label: {
            name: statistics.median(run[name] for run in done) if name in TIMES else done[0][name]
            for name in done[0]
        }
        for label, done in runs.items()
    }


ROWS = {
    "hubs": "{:,.0f}",
    "partitions": "{:,.0f}",
    "consumer_groups": "{:,.0f}",
    "events": "{:,.0f}",
    "publish_s": "{:.2f} s",
    "capture_s": "{:.2f} s",
    "capture_files": "{:,.0f}",
    "events_per_file": "{:,.0f}",
    "bronze_s": "{:.2f} s",
    "silver_s": "{:.2f} s",
    "silver_rows": "{:,.0f}",
    "subscribers_decoded": "{:,.0f}",
    "subscribers_skipped": "{:,.0f}",
}


def table(figures: dict[str, dict[str, float]]) -> str:
    """The figures as a Markdown table, one column per catalogue."""
    labels = list(figures)
    lines = [f"| | {' | '.join(labels)} |", f"|---|{'---|' * len(labels)}"]
    for row, shape in ROWS.items():
        lines.append(f"| {row} | {' | '.join(shape.format(figures[x][row]) for x in labels)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start")
    print(f"the seeded chain of {CUSTOMERS:,} customers on each catalogue, median of {ROUNDS}")
    print(table(bench_hub_layouts()))
