"""Maintenance assets: bronze compaction and lifecycle-policy enforcement."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from eda_lake.defs.lake.assets import BRONZE
from eda_lake.defs.resources import EdaLakeResource


class LifecycleConfig(dg.Config):
    policy_file: str = Field(
        default="",
        description="An Azure lifecycle-management policy (JSON file) to apply; empty: the "
        "project's default policy.",
    )


@dg.asset(
    group_name="maintenance",
    owners=["team:platform"],
    tags={"layer": "maintenance", "domain": "platform"},
    deps=[BRONZE],
    kinds={"deltalake"},
    description="Small bronze files of a partition-day rewritten as few large ones, atomically.",
)
def bronze_compaction(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    report = eda_lake.lake().compact()
    return dg.MaterializeResult(
        metadata={
            "files_removed": report.files_removed,
            "files_added": report.files_added,
            "partitions_optimized": report.partitions_optimized,
        }
    )


@dg.asset(
    group_name="maintenance",
    owners=["team:platform"],
    tags={"layer": "maintenance", "domain": "platform"},
    kinds={"storage"},
    description="Applies the lifecycle policy where no lifecycle engine runs (local lake).",
)
def lifecycle_enforcement(
    config: LifecycleConfig, eda_lake: EdaLakeResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    policy = Path(config.policy_file) if config.policy_file else None
    rules, report = eda_lake.lake().lifecycle(policy)
    return dg.MaterializeResult(
        metadata={
            "rules": [r.name for r in rules],
            "deleted": len(report.deleted),
            "tier_moves": dg.MetadataValue.json(report.tier_moves),
        }
    )


maintenance_schedule = dg.ScheduleDefinition(
    name="maintenance_schedule",
    target=dg.AssetSelection.assets(bronze_compaction, lifecycle_enforcement),
    cron_schedule="30 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly compaction and lifecycle enforcement.",
)
