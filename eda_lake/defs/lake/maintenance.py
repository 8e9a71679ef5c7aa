"""Maintenance assets: bronze compaction, vacuum and lifecycle-policy enforcement."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from eda_lake.defs.lake.assets import BRONZE
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.maintenance.vacuum import DEFAULT_RETENTION_HOURS

AZURE_LIFECYCLE = (
    "Azure Storage lifecycle management, with the account's policy `default` that "
    "`eda-lake provision` applies"
)


class LifecycleConfig(dg.Config):
    policy_file: str = Field(
        default="",
        description="An Azure lifecycle-management policy (JSON file) to apply; empty: the "
        "project's default policy.",
    )


@dg.asset(
    group_name="maintenance",
    deps=[BRONZE],
    kinds={"deltalake"},
    description="Small bronze files of a partition-day rewritten as few large ones, atomically.",
)
def bronze_compaction(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    report = eda_lake.lake().upkeep.compact()
    return dg.MaterializeResult(
        metadata={
            "files_removed": report.files_removed,
            "files_added": report.files_added,
            "partitions_optimized": report.partitions_optimized,
        }
    )


class VacuumConfig(dg.Config):
    retention_hours: int = Field(
        default=DEFAULT_RETENTION_HOURS,
        description="Keep the data files any table version of the last N hours needs (time "
        "travel, readers mid-query, a layer's unread change feed); at least 1.",
    )


@dg.asset(
    group_name="maintenance",
    deps=[bronze_compaction],
    kinds={"deltalake"},
    description="Deletes the lake's data files that no table version within the retention "
    "refers to (what compaction and replaced days left behind, and killed writers' leftovers).",
)
def lake_vacuum(config: VacuumConfig, eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    report = eda_lake.lake().upkeep.vacuum(config.retention_hours)
    return dg.MaterializeResult(
        metadata={
            "retention_hours": report.retention_hours,
            "files_deleted_in_run": report.total,
            "files_deleted_by_table": dg.MetadataValue.json(report.files_deleted),
        }
    )


@dg.asset(
    group_name="maintenance",
    kinds={"storage"},
    description="Applies the lifecycle policy where no lifecycle engine runs (a local lake, "
    "Azurite); on Azure the storage account's lifecycle management does, with the policy "
    "provisioning applied.",
)
def lifecycle_enforcement(
    config: LifecycleConfig, eda_lake: EdaLakeResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    upkeep = eda_lake.lake().upkeep
    if upkeep.azure_enforces_lifecycle:
        if config.policy_file:
            raise dg.Failure(
                f"policy_file {config.policy_file}: on Azure the account's lifecycle management "
                "enforces the policy; apply it there (az storage account management-policy "
                "create --policy @FILE)"
            )
        return dg.MaterializeResult(metadata={"enforced_by": AZURE_LIFECYCLE})
    policy = Path(config.policy_file) if config.policy_file else None
    rules, report = upkeep.lifecycle(policy)
    return dg.MaterializeResult(
        metadata={
            "rules": [r.name for r in rules],
            "deleted": len(report.deleted),
            "tier_moves": dg.MetadataValue.json(report.tier_moves),
        }
    )


maintenance_schedule = dg.ScheduleDefinition(
    name="maintenance_schedule",
    target=dg.AssetSelection.assets(bronze_compaction, lake_vacuum, lifecycle_enforcement),
    cron_schedule="30 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly compaction and lifecycle enforcement.",
)
