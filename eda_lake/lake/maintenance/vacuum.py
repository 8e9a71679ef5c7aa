"""Keeping the lake small: vacuum deletes data files no recent table version refers to.

Delta keeps the files of old versions (time travel, readers still on them, the change feed a
later layer has not read yet) until a vacuum removes those older than the retention. A layer
that falls further behind than the retention no longer finds its inputs' change feed and
reads their whole snapshot instead (silver deduplicates exactly; entities and gold
recompute), so a short retention costs time, never data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.shared.errors import UserError

DEFAULT_RETENTION_HOURS = 168  # Delta's own default: a week
MIN_RETENTION_HOURS = 1  # readers mid-query keep their files at least this long


class RetentionError(UserError, ValueError):
    """A retention that would delete files readers may still be using."""


@dataclass
class VacuumReport:
    retention_hours: int
    files_deleted: dict[str, int] = field(default_factory=dict)  # table -> files deleted

    @property
    def total(self) -> int:
        return sum(self.files_deleted.values())


def vacuum_lake(layout: LakeLayout, retention_hours: int = DEFAULT_RETENTION_HOURS) -> VacuumReport:
    if retention_hours < MIN_RETENTION_HOURS:
        raise RetentionError(
            f"vacuum retention of {retention_hours} hour(s) is too short: use at least "
            f"{MIN_RETENTION_HOURS} (default {DEFAULT_RETENTION_HOURS})"
        )
    report = VacuumReport(retention_hours)
    # Each lease change of the lake lock rewrites its few rows, and only the latest are ever
    # read: its old files go after the shortest retention.
    retentions = dict.fromkeys(layout.existing_tables().items(), retention_hours)
    retentions[("lock", layout.lock_uri)] = MIN_RETENTION_HOURS
    # The event index, whose merges of runs replace files, leaves the ones it replaced.
    retentions[("event index", layout.event_index_uri)] = retention_hours
    for (name, uri), hours in retentions.items():
        table = tables.open_table(uri, layout.storage_options)
        if table is None:
            continue
        deleted = table.vacuum(
            retention_hours=hours,
            dry_run=False,
            enforce_retention_duration=False,
            full=True,  # also files no version ever referenced (a killed writer's leftovers)
        )
        report.files_deleted[name] = len(deleted)
    return report
