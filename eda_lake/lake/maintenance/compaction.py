"""Compaction: bronze's small files per hour become few large files per partition-day.

Delta's optimize rewrites files in one commit marked `dataChange=false`: a reader sees the
table before or after it, never rows missing or doubled, and the change feed that silver
reads is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout

TARGET_FILE_BYTES = 128 << 20


@dataclass
class CompactionReport:
    files_removed: int = 0
    files_added: int = 0
    partitions_optimized: int = 0


def compact_bronze(layout: LakeLayout, min_files: int = 2) -> CompactionReport:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    report = CompactionReport()
    if table is None:
        return report
    actions = pa.table(table.get_add_actions(flatten=True)).to_pydict()
    counts: dict[tuple[str, str], int] = {}
    for hub, day in zip(actions["partition.hub"], actions["partition.date"], strict=True):
        counts[(hub, day)] = counts.get((hub, day), 0) + 1
    for (hub, day), files in sorted(counts.items()):
        if files < min_files:
            continue
        metrics = table.optimize.compact(
            partition_filters=[("hub", "=", hub), ("date", "=", day)],
            target_size=TARGET_FILE_BYTES,
        )
        report.files_removed += int(metrics.get("numFilesRemoved", 0))
        report.files_added += int(metrics.get("numFilesAdded", 0))
        report.partitions_optimized += 1
    return report
