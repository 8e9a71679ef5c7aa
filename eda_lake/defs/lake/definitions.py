"""The lake's assets, checks, jobs, sensors and schedules, built from the settings and the
catalogue."""

from __future__ import annotations

import dagster as dg

from eda_lake.catalogue import Catalogue
from eda_lake.defs.lake.assets import (
    bronze_events,
    gold_asset,
    silver_entities_asset,
    silver_events_asset,
)
from eda_lake.defs.lake.checks import LAKE_CHECKS
from eda_lake.defs.lake.event_index import event_index, event_index_automation_sensor
from eda_lake.defs.lake.jobs import (
    blocking_checks_sensor,
    capture_files_sensor,
    entities_after_failed_tables,
    entities_job,
    full_discovery_schedule,
    gold_automation_sensor,
    gold_days_sensor,
    gold_job,
    ingest_job,
    ingest_to_gold_job,
    notifications_sensor,
)
from eda_lake.defs.lake.maintenance import (
    bronze_compaction,
    lake_vacuum,
    lifecycle_enforcement,
    maintenance_schedule,
)
from eda_lake.settings import Settings


def build(settings: Settings, catalogue: Catalogue) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            bronze_events,
            event_index,
            silver_events_asset(catalogue),
            silver_entities_asset(),
            gold_asset(),
            bronze_compaction,
            lake_vacuum,
            lifecycle_enforcement,
        ],
        asset_checks=LAKE_CHECKS,
        jobs=[ingest_job, ingest_to_gold_job, entities_job, gold_job],
        sensors=[
            capture_files_sensor,
            notifications_sensor(queue_configured=settings.discovery_queue is not None),
            gold_days_sensor,
            gold_automation_sensor,
            blocking_checks_sensor,
            event_index_automation_sensor,
            entities_after_failed_tables,
        ],
        schedules=[full_discovery_schedule, maintenance_schedule],
    )
