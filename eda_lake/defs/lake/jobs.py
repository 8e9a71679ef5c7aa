"""Lake jobs, the capture-file sensor and the full-discovery schedule.

Every run that writes bronze is tagged `lake: writer`: the run queue in the project's
dagster.yaml limits how many of them run at once (see README, "Run it at scale").
"""

import zlib
from datetime import timedelta

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE, FAILED_TABLES, SILVER_EVENTS, silver_key
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.derived.declarations import ENTITY_TABLES
from eda_lake.lake.discovery.push import take_notifications
from eda_lake.lake.discovery.storage_queue import StorageNotificationQueue
from eda_lake.lake.discovery.watch import WatchCursor, poll

WRITER_TAGS = {"lake": "writer"}
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(BRONZE) | dg.AssetSelection.groups("silver"),
    description="Capture files to bronze, then silver; gold_days_sensor follows with gold.",
    tags=WRITER_TAGS,
)
entities_job = dg.define_asset_job(
    "entities_job",
    selection=dg.AssetSelection.assets(*(silver_key(d.name) for d in ENTITY_TABLES)),
    description="The silver entities from the event tables as they are (gold_days_sensor "
    "follows with gold); entities_after_failed_tables launches it.",
    tags=WRITER_TAGS,
)
gold_job = dg.define_asset_job(
    "gold_job",
    selection=dg.AssetSelection.groups("gold"),  # partitioned by business day
    description="Recompute gold for a business day or a range of days (choose a partition).",
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
                tags={"eda_lake/files": str(len(paths)), **WRITER_TAGS},
            )
        )
    waited = (
        None if requests else f"no new capture file under {lake.source.root} since the last tick"
    )
    return dg.SensorResult(run_requests=requests, cursor=cursor.to_json(), skip_reason=waited)


def _take_notifications(
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
        return dg.SkipReason(
            f"no CaptureFileCreated notification for {container} in the queue "
            f"{settings.discovery_queue.name}"
            + (f" ({len(batch.poisoned)} moved to the poison queue)" if batch.poisoned else "")
        )
    request = dg.RunRequest(
        run_key=f"notifications:{batch.receipts[0]['pop_receipt']}",
        run_config={
            "ops": {
                "bronze__events": {"config": {"files": batch.files, "acknowledge": batch.receipts}}
            }
        },
        tags={"eda_lake/files": str(len(batch.files)), **WRITER_TAGS},
    )
    return dg.SensorResult(run_requests=[request])


def notifications_sensor(queue_configured: bool) -> dg.SensorDefinition:
    """On by default only where a discovery queue is configured: without one it would only
    skip, every 30 seconds."""
    status = dg.DefaultSensorStatus.RUNNING if queue_configured else dg.DefaultSensorStatus.STOPPED
    return dg.sensor(
        name="capture_notifications_sensor",
        job=ingest_job,
        minimum_interval_seconds=30,
        default_status=status,
        description="Event Grid's CaptureFileCreated notifications (Storage Queue) become runs "
        "for exactly those files; the run deletes a message once its file is committed. Needs "
        "EDA_LAKE_DISCOVERY_QUEUE (off without it).",
    )(_take_notifications)


capture_notifications_sensor = notifications_sensor(queue_configured=False)


def failed_blocking_checks(
    instance: dg.DagsterInstance, checks: list[dg.AssetCheckKey]
) -> list[str]:
    """The blocking checks whose latest evaluation failed: gold waits until they pass."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
    return sorted(
        f"{key.asset_key.to_user_string()}:{key.name}"
        for key, record in latest.items()
        if record.status.value == "FAILED"
    )


def gold_days_sensor_for(blocking: list[dg.AssetCheckKey]) -> dg.SensorDefinition:
    @dg.sensor(
        name="gold_days_sensor",
        job=gold_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="The business days new silver rows touch become gold runs of those days "
        "only; it waits while a blocking check (keys, references) fails on silver.",
    )
    def gold_days_sensor(
        context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
    ) -> dg.SensorResult | dg.SkipReason:
        failed = failed_blocking_checks(context.instance, blocking)
        if failed:
            return dg.SkipReason(
                f"gold waits: blocking check(s) {', '.join(failed)} failed; fix silver and run "
                "ingest_job again (its checks run with it)"
            )
        return gold_request(eda_lake)

    return gold_days_sensor


def gold_request(eda_lake: EdaLakeResource) -> dg.SensorResult:
    days = sorted(eda_lake.lake().gold_pending_days())
    if not days:
        return dg.SensorResult(
            skip_reason="no business day has silver rows gold has not counted: gold is current"
        )
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


@dg.run_failure_sensor(
    monitored_jobs=[ingest_job],
    request_job=entities_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="An ingest run some of whose event tables failed skips the entities (Dagster "
    "runs no step after a failed one): this runs them from the tables that landed, and gold "
    "follows them (gold_days_sensor), unless a blocking check finds a reference into the "
    "failed table.",
)
def entities_after_failed_tables(
    context: dg.RunFailureSensorContext,
) -> dg.RunRequest | dg.SkipReason:
    failed = [
        table
        for event in context.get_step_failure_events()
        if event.step_key == SILVER_EVENTS
        for table in _failed(event)
    ]
    if not failed:
        return dg.SkipReason(
            "no event table failed on its own: the entities ran, or the run stopped for the "
            "whole lake"
        )
    return dg.RunRequest(
        run_key=f"entities after {context.dagster_run.run_id}",
        tags={"eda_lake/after_failed_tables": ", ".join(failed)},
    )


def _failed(step_failure: dg.DagsterEvent) -> list[str]:
    """The tables a step's failure names as failed on their own (none: some other failure)."""
    failure = step_failure.step_failure_data.user_failure_data
    named = None if failure is None else failure.metadata.get(FAILED_TABLES)
    if not isinstance(named, dg.JsonMetadataValue) or not isinstance(named.value, list):
        return []
    return [str(table) for table in named.value]


full_discovery_schedule = dg.ScheduleDefinition(
    name="full_discovery_schedule",
    job=ingest_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly safety net: every capture file not yet in bronze, whatever its age.",
)
