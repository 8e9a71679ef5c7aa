"""Capture containers for lake tests (real Azure files under archive-format paths), and a
demo lake to copy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.demo import DemoReport
from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.delta import tables
from eda_lake.lake.discovery.listing import discover_all
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import ChainReport, Simulation

NAMES = ArchiveNameFormat()
AZURE_FILES = {
    "meteredbilling_capture_p9--2022-12-09--16-50-12.avro": (
        "billing-ns/meteredbilling/9/2022/12/09/16/50/12.avro"
    ),
    "bluefrog_capture_05.avro": "bluefrog/telemetry/5/2016/11/16/16/44/00.avro",
    "cosh_capture_empty.avro": "cosh-ns/extractor/0/2017/03/01/10/05/00.avro",
}


def azure_container(source: Path, root: Path) -> Path:
    for name, path in AZURE_FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target)
    return root


def ingest(layout: LakeLayout, root: Path):
    fs = pafs.LocalFileSystem()
    return BronzeIngestor(layout, fs, str(root)).ingest(discover_all(fs, str(root), NAMES))


def bronze_rows(layout: LakeLayout, where: str = "TRUE") -> list[dict[str, Any]]:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    if table is None:
        return []
    rows: list[dict[str, Any]] = tables.query(
        f"SELECT * FROM bronze WHERE {where} ORDER BY hub, partition_id, sequence_number",
        bronze=table,
    ).to_pylist()
    return rows


def synthetic_container(
    root: Path, files: int, events_per_file: int, partitions: int = 4, namespace: str = "shop-ns"
) -> int:
    """Capture files of hub `orders`: (partition, sequence) unique across the container."""
    from datetime import UTC, datetime, timedelta

    from eda_lake.capture.writer import write_capture
    from eda_lake.hub.base import ReceivedEvent

    start = datetime(2026, 11, 1, tzinfo=UTC)
    next_sequence = [0] * partitions
    for index in range(files):
        partition = index % partitions
        window = start + timedelta(minutes=5 * (index // partitions))
        events = []
        for _ in range(events_per_file):
            sequence = next_sequence[partition]
            next_sequence[partition] += 1
            events.append(
                ReceivedEvent(
                    "orders",
                    str(partition),
                    sequence,
                    sequence * 100,
                    window + timedelta(milliseconds=sequence),
                    f"key-{sequence % 7}",
                    None,
                    {"cloudEvents_id": f"{partition}-{sequence}", "cloudEvents_source": "/shop"},
                    b"x" * 200,
                )
            )
        path = root / NAMES.render(namespace, "orders", str(partition), window)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            write_capture(stream, events, "null")
    return files * events_per_file


@dataclass(frozen=True)
class DemoLake:
    """A local demo lake's home, and the demo's report on what it made."""

    home: Path
    report: DemoReport

    def copy_to(self, home: Path) -> Settings:
        """A copy of the whole home (the lake's tables hold relative paths), for one test to
        read or change."""
        shutil.copytree(self.home, home)
        return Settings(home=home)


DEMO_CUSTOMERS, DEMO_SEED = 80, 3


# What the `lake_after_chain` fixture gives: (settings, customers=300, seed=5) -> a provisioned
# simulation after the chain, its report, and the lake with every layer built.
LakeAfterChain = Callable[..., tuple[Simulation, ChainReport, Lake]]
