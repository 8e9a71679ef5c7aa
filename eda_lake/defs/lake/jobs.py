"""Lake jobs, the capture-file sensor and the full-discovery schedule."""

from datetime import timedelta

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE, GOLD, SILVER_ENTITIES, SILVER_EVENTS
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.watch import WatchCursor, poll

LAKE_SELECTION = dg.AssetSelection.assets(
    BRONZE, *SILVER_EVENTS.values(), *SILVER_ENTITIES.values(), *GOLD.values()
)
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=LAKE_SELECTION,
    description="Capture files to bronze, then silver and the gold days they touch.",
)
MAX_FILES_PER_RUN = 500


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New capture files (recent time prefixes only) become ingestion runs.",
)
def capture_files_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult:
    lake = eda_lake.lake()
    lateness = timedelta(minutes=lake.settings.capture_lateness_minutes)
    cursor = WatchCursor.from_json(context.cursor)
    new, cursor = poll(lake.fs, str(lake.layout.capture), lake.names, cursor, lateness=lateness)
    requests = []
    for start in range(0, len(new), MAX_FILES_PER_RUN):
        paths = [f.path for f in new[start : start + MAX_FILES_PER_RUN]]
        requests.append(
            dg.RunRequest(
                run_key=f"capture:{paths[0]}:{len(paths)}:{paths[-1]}",
                run_config={"ops": {"bronze__events": {"config": {"files": paths}}}},
                tags={"eda_lake/files": str(len(paths))},
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor.to_json())


full_discovery_schedule = dg.ScheduleDefinition(
    name="full_discovery_schedule",
    job=ingest_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly safety net: every capture file not yet in bronze, whatever its age.",
)
