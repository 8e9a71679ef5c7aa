"""The lake's assets, checks, jobs, sensor and schedules."""

import dagster as dg

from eda_lake.defs.lake.assets import LAKE_ASSETS
from eda_lake.defs.lake.checks import LAKE_CHECKS
from eda_lake.defs.lake.jobs import (
    capture_files_sensor,
    capture_notifications_sensor,
    full_discovery_schedule,
    gold_days_sensor,
    gold_job,
    ingest_job,
)
from eda_lake.defs.lake.maintenance import (
    bronze_compaction,
    lifecycle_enforcement,
    maintenance_schedule,
)

defs = dg.Definitions(
    assets=[*LAKE_ASSETS, bronze_compaction, lifecycle_enforcement],
    asset_checks=LAKE_CHECKS,
    jobs=[ingest_job, gold_job],
    sensors=[capture_files_sensor, capture_notifications_sensor, gold_days_sensor],
    schedules=[full_discovery_schedule, maintenance_schedule],
)
