"""Lake jobs, the capture-file sensor and the full-discovery schedule."""

import zlib
from datetime import timedelta

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE, GOLD, SILVER_ENTITIES, SILVER_EVENTS
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.notification_queue import StorageNotificationQueue
from eda_lake.lake.push import take_notifications
from eda_lake.lake.watch import WatchCursor, poll

INGEST_SELECTION = dg.AssetSelection.assets(
    BRONZE, *SILVER_EVENTS.values(), *SILVER_ENTITIES.values()
)
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=INGEST_SELECTION,
    description="Capture files to bronze, then silver; gold_days_sensor follows with gold.",
)
gold_job = dg.define_asset_job(
    "gold_job",
    selection=dg.AssetSelection.assets(*GOLD.values()),  # partitioned by GOLD's days
    description="Recompute gold for a range of business days.",
)
MAX_FILES_PER_RUN = 500
# Longer than an ingestion run: a message reappears only if its run died.
VISIBILITY_TIMEOUT_S = 30 * 60


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
    new, cursor = poll(lake.source.fs, lake.source.root, lake.names, cursor, lateness=lateness)
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


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Event Grid's CaptureFileCreated notifications (Storage Queue) become runs "
    "for exactly those files; the run deletes a message once its file is committed.",
)
def capture_notifications_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult | dg.SkipReason:
    settings = eda_lake.settings()
    if settings.discovery_queue is None:
        return dg.SkipReason("no discovery queue configured (EDA_LAKE_DISCOVERY_QUEUE)")
    queue = StorageNotificationQueue.from_settings(settings.discovery_queue)
    container = eda_lake.lake().source.container
    batch = take_notifications(queue, container, MAX_FILES_PER_RUN, VISIBILITY_TIMEOUT_S)
    for message, reason in batch.poisoned:
        context.log.warning(f"message {message.id} moved to the poison queue: {reason}")
    if not batch.files:
        return dg.SensorResult(run_requests=[])
    request = dg.RunRequest(
        run_key=f"notifications:{batch.receipts[0]['pop_receipt']}",
        run_config={
            "ops": {
                "bronze__events": {"config": {"files": batch.files, "acknowledge": batch.receipts}}
            }
        },
        tags={"eda_lake/files": str(len(batch.files))},
    )
    return dg.SensorResult(run_requests=[request])


@dg.sensor(
    job=gold_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="The business days new silver rows touch become gold runs of those days only.",
)
def gold_days_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult:
    days = sorted(eda_lake.lake().gold_pending_days())
    if not days:
        return dg.SensorResult(run_requests=[])
    first, last = days[0].isoformat(), days[-1].isoformat()
    listed = [d.isoformat() for d in days]
    request = dg.RunRequest(
        # the same pending days, while their run is under way, ask for no second run
        run_key=f"gold:{first}:{last}:{len(days)}:{zlib.crc32(' '.join(listed).encode())}",
        run_config={"ops": {"gold_tables": {"config": {"days": listed}}}},
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    return dg.SensorResult(run_requests=[request])


full_discovery_schedule = dg.ScheduleDefinition(
    name="full_discovery_schedule",
    job=ingest_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly safety net: every capture file not yet in bronze, whatever its age.",
)
