"""Lake jobs, the capture-file sensor and the full-discovery schedule.

Every run that writes bronze is tagged `lake: writer`: the run queue in the project's
dagster.yaml limits how many of them run at once (see README, "Run it at scale").
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import dagster as dg

from eda_lake.defs.lake.assets import (
    BRONZE,
    FAILED_TABLES,
    GOLD_DAYS,
    GOLD_DAYS_NAME,
    PENDING_DAYS,
    PENDING_DAYS_TAG,
    SILVER_EVENTS,
    WRITER_TAGS,
    silver_key,
)
from eda_lake.defs.lake.checks import BLOCKING_CHECKS
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.derived.declarations import ENTITY_TABLES
from eda_lake.lake.derived.gold import held_days
from eda_lake.lake.discovery.push import take_notifications
from eda_lake.lake.discovery.storage_queue import StorageNotificationQueue
from eda_lake.lake.discovery.watch import WatchCursor, poll

# Gold's own runs, by hand or from its automation, one at a time (deploy/dagster.yaml): each
# recomputes every pending day, so a second at once would only do the same work again.
# Ingestion runs through to gold are writer runs: several may compute gold at once, and
# stay right, since each gold commit records the silver versions it read, Delta refuses the
# second of two commits made from the same ones, and the refused one recomputes.
GOLD_TAGS = {"lake": "gold"}
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(BRONZE) | dg.AssetSelection.groups("silver"),
    description="Capture files to bronze, then silver; gold follows (gold_automation_sensor).",
    tags=WRITER_TAGS,
)
entities_job = dg.define_asset_job(
    "entities_job",
    selection=dg.AssetSelection.assets(*(silver_key(d.name) for d in ENTITY_TABLES)),
    description="The silver entities from the event tables as they are (gold follows, "
    "gold_automation_sensor); entities_after_failed_tables launches it.",
    tags=WRITER_TAGS,
)
gold_job = dg.define_asset_job(
    "gold_job",
    selection=dg.AssetSelection.groups("gold"),  # partitioned by business day
    description="Recompute gold for a business day or a range of days (choose a partition); "
    "gold_automation_sensor runs it when silver changes.",
    tags=GOLD_TAGS,
)
# New capture files through bronze and silver to gold in one run: gold's own run would
# add a second start-up and queue, and its automation hands a request over several days to
# the backfill daemon, which looks every 30 s (README, "Speed").
ingest_to_gold_job = dg.define_asset_job(
    "ingest_to_gold_job",
    selection=dg.AssetSelection.assets(BRONZE) | dg.AssetSelection.groups("silver", "gold"),
    description="Capture files to bronze, silver and gold in one run, gold recomputing the days "
    "the new silver rows touch: what the capture sensors launch once gold has days (before, "
    "ingest_job, and gold follows by its automation).",
    tags={**WRITER_TAGS, PENDING_DAYS_TAG: PENDING_DAYS},
)
# Dagster's run tags for a run over a range of partitions.
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def ingestion(days: Sequence[str], run_key: str, bronze: dict[str, Any]) -> dg.RunRequest:
    """The run that ingests capture files (`bronze`: bronze/events' config, its `files`
    among it): through to gold over every gold day (`days`, the instance's, as it lists
    them), as gold's automation would run it, once gold has days; bronze and silver only on
    an instance without any (gold_days_sensor then adds the first)."""
    run_config = {"ops": {"bronze__events": {"config": bronze}}}
    tags = {"eda_lake/files": str(len(bronze["files"])), **WRITER_TAGS}
    if not days:
        return dg.RunRequest(
            run_key=run_key, job_name=ingest_job.name, run_config=run_config, tags=tags
        )
    # In the order the days were added: the first and the last span them all.
    return dg.RunRequest(
        run_key=run_key,
        job_name=ingest_to_gold_job.name,
        run_config=run_config,
        tags={**tags, RANGE_START: days[0], RANGE_END: days[-1]},
    )


# Longer than an ingestion run: a message reappears only if its run died.
VISIBILITY_TIMEOUT_S = 30 * 60
# How long a new capture file, then a silver change, waits for its run at most: each wait
# adds to the time from publish to gold (README, "Speed"), and a tick that finds nothing
# costs a listing of the recent prefixes or one evaluation of gold's conditions.
FOLLOW_INTERVAL_S = 10


@dg.sensor(
    jobs=[ingest_job, ingest_to_gold_job],
    minimum_interval_seconds=FOLLOW_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New capture files (recent time prefixes only) become ingestion runs, through "
    "to gold once gold has days (ingest_to_gold_job).",
)
def capture_files_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult:
    lake = eda_lake.lake()
    lateness = timedelta(minutes=lake.settings.capture_lateness_minutes)
    cursor = WatchCursor.from_json(context.cursor)
    new, cursor = poll(lake.source.fs, lake.source.root, lake.names, cursor, lateness=lateness)
    requests = []
    per_run = lake.settings.files_per_run
    days = context.instance.get_dynamic_partitions(GOLD_DAYS_NAME)
    for start in range(0, len(new), per_run):
        paths = [f.path for f in new[start : start + per_run]]
        requests.append(
            ingestion(days, f"capture:{paths[0]}:{len(paths)}:{paths[-1]}", {"files": paths})
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
    batch = take_notifications(queue, container, settings.files_per_run, VISIBILITY_TIMEOUT_S)
    for message, reason in batch.poisoned:
        context.log.warning(f"message {message.id} moved to the poison queue: {reason}")
    if not batch.files:
        return dg.SkipReason(
            f"no CaptureFileCreated notification for {container} in the queue "
            f"{settings.discovery_queue.name}"
            + (f" ({len(batch.poisoned)} moved to the poison queue)" if batch.poisoned else "")
        )
    request = ingestion(
        context.instance.get_dynamic_partitions(GOLD_DAYS_NAME),
        f"notifications:{batch.receipts[0]['pop_receipt']}",
        {"files": batch.files, "acknowledge": batch.receipts},
    )
    return dg.SensorResult(run_requests=[request])


def notifications_sensor(queue_configured: bool) -> dg.SensorDefinition:
    """On by default only where a discovery queue is configured: without one it would only
    skip, every 30 seconds."""
    status = dg.DefaultSensorStatus.RUNNING if queue_configured else dg.DefaultSensorStatus.STOPPED
    return dg.sensor(
        name="capture_notifications_sensor",
        jobs=[ingest_job, ingest_to_gold_job],
        minimum_interval_seconds=30,
        default_status=status,
        description="Event Grid's CaptureFileCreated notifications (Storage Queue) become runs "
        "for exactly those files; the run deletes a message once its file is committed. Needs "
        "EDA_LAKE_DISCOVERY_QUEUE (off without it).",
    )(_take_notifications)


capture_notifications_sensor = notifications_sensor(queue_configured=False)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="The business days with events become gold partitions (gold_days): the days new "
    "silver rows touch and the days gold holds. Only days with events are partitions, so none "
    "shows missing that no run could fill. gold_automation_sensor then runs gold.",
)
def gold_days_sensor(
    context: dg.SensorEvaluationContext, eda_lake: EdaLakeResource
) -> dg.SensorResult:
    lake = eda_lake.lake()
    pending = lake.gold_pending_days()
    known = set(context.instance.get_dynamic_partitions(GOLD_DAYS_NAME))
    # The days gold holds too, on every tick: an ingestion run through to gold counts a new
    # day's rows in the run that lands them, before this sensor sees them pending; and a lake
    # gold counted before (or a new instance) shows its days without waiting for new events.
    # Gold's tables are a few rows per day: reading their days is cheap.
    days = pending | held_days(lake.layout)
    new = sorted(day.isoformat() for day in days if day.isoformat() not in known)
    if new:
        return dg.SensorResult(dynamic_partitions_requests=[GOLD_DAYS.build_add_request(new)])
    return dg.SensorResult(
        skip_reason="every business day with events is a gold partition, and no silver row "
        "waits for gold: gold is current"
        if not pending
        else f"the {len(pending)} day(s) new silver rows touch are gold partitions already; "
        "gold_automation_sensor recomputes them",
    )


gold_automation_sensor = dg.AutomationConditionSensorDefinition(
    "gold_automation_sensor",
    target=dg.AssetSelection.groups("gold"),
    run_tags={PENDING_DAYS_TAG: PENDING_DAYS, **GOLD_TAGS},
    minimum_interval_seconds=FOLLOW_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Gold follows silver (each gold table's automation condition): after a table it "
    "reads is updated or a day becomes a partition, once every blocking check on silver passed, "
    "it recomputes the days new silver rows touch.",
)


blocking_checks_sensor = dg.AutomationConditionSensorDefinition(
    "blocking_checks_sensor",
    target=dg.AssetSelection.checks(*BLOCKING_CHECKS),
    minimum_interval_seconds=FOLLOW_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs a blocking check on silver again when its table's newest version has no "
    "result of its own (writer runs at once landed it out of their order, or a run by hand "
    "without its checks) and no run of the table or of the check is pending: gold waits for "
    "that result. Once per version of the table.",
)


@dg.run_failure_sensor(
    monitored_jobs=[ingest_job, ingest_to_gold_job],
    request_job=entities_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="An ingest run some of whose event tables failed skips the entities (Dagster "
    "runs no step after a failed one): this runs them from the tables that landed, and gold "
    "follows them (gold_automation_sensor), unless a blocking check finds a reference into the "
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
