"""The lake's layers as assets: bronze, silver (events, then entities), gold."""

from collections.abc import Iterator
from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from eda_lake.catalogue import load_catalogue
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.declarations import ENTITY_TABLES, GOLD_TABLES, event_table
from eda_lake.lake.notification_queue import StorageNotificationQueue
from eda_lake.lake.push import acknowledge
from eda_lake.lake.silver import table_name
from eda_lake.settings import Settings

BRONZE = dg.AssetKey(["bronze", "events"])
EVENT_TABLES = [event_table(e) for e in load_catalogue(Settings.from_env().schema_dir).events]
SILVER_EVENTS = {name: dg.AssetKey(["silver", name]) for name in EVENT_TABLES}
SILVER_ENTITIES = {t.name: dg.AssetKey(["silver", t.name]) for t in ENTITY_TABLES}
GOLD = {table.name: dg.AssetKey(["gold", table.name]) for table in GOLD_TABLES}
# The sensor and the hourly full discovery keep these fresh; two hours without is a failure.
FRESH = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)


class BronzeConfig(dg.Config):
    # capture files (paths in the container); empty: full discovery
    files: list[str] = Field(default_factory=list)
    capture_root: str = ""  # a local container directory; default: the configured source
    # queue messages (id, pop_receipt) to delete once the files are committed
    acknowledge: list[dict[str, str]] = Field(default_factory=list)


@dg.asset(
    key=BRONZE,
    group_name="bronze",
    freshness_policy=FRESH,
    kinds={"deltalake", "avro"},
    description="Every capture file's events, one row each, exactly once per file.",
)
def bronze_events(
    context: dg.AssetExecutionContext, config: BronzeConfig, eda_lake: EdaLakeResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    lake = eda_lake.lake()
    root = config.capture_root or None
    if config.files:
        files = lake.capture_files_at(config.files)
        for path in sorted(set(config.files) - {f.path for f in files}):
            context.log.warning(f"announced capture file not found: {path}")
    else:
        files = lake.capture_files(root)
    report = lake.bronze(root).ingest(files)
    for line in report.quarantined:
        context.log.warning(f"quarantined {line}")
    settings = eda_lake.settings()
    if config.acknowledge and settings.discovery_queue is not None:
        queue = StorageNotificationQueue.from_settings(settings.discovery_queue)
        deleted = acknowledge(queue, config.acknowledge)
        context.log.info(f"acknowledged {deleted} of {len(config.acknowledge)} notifications")
    metadata: dict[str, dg.RawMetadataValue] = {
        "files_ingested": report.files_ingested,
        "files_already_ingested": report.files_already_ingested,
        "files_quarantined": report.files_quarantined,
        "rows": report.rows,
        "bytes": report.bytes,
        "commits": report.commits,
        "table": dg.MetadataValue.path(lake.layout.bronze_uri),
    }
    if report.max_lag_seconds is not None:
        metadata["max_lag_seconds"] = round(report.max_lag_seconds, 1)
    return dg.MaterializeResult(metadata=metadata)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, group_name="silver", deps=[BRONZE], kinds={"deltalake"})
        for key in SILVER_EVENTS.values()
    ],
    description="Bodies decoded through the schema registry, deduplicated on source + id.",
)
def silver_events(
    context: dg.AssetExecutionContext, eda_lake: EdaLakeResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    lake = eda_lake.lake()
    report = lake.silver_events()
    context.log.info(
        f"{report.rows_read} bronze rows read; {report.duplicates} duplicates dropped; "
        f"{report.quarantined} quarantined; {report.no_schema} name no registry schema and "
        f"{report.unknown_schema} an unknown one (both stay in bronze)"
    )
    for spec in lake.catalogue.events.values():
        yield dg.MaterializeResult(
            asset_key=SILVER_EVENTS[table_name(spec.name)],
            metadata={
                "decoded": report.decoded.get(spec.name, 0),
                "inserted": report.inserted.get(spec.name, 0),
                "bronze_version": report.bronze_version,
                "quarantined_in_run": report.quarantined,
                "no_schema_in_run": report.no_schema,
                "unknown_schema_in_run": report.unknown_schema,
            },
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key, group_name="silver", deps=list(SILVER_EVENTS.values()), kinds={"deltalake"}
        )
        for key in SILVER_ENTITIES.values()
    ],
    description="Conformed entities for analysts: products, customers, leads, sales, purchases.",
)
def silver_entities(eda_lake: EdaLakeResource) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    report = eda_lake.lake().entities()
    for name, key in SILVER_ENTITIES.items():
        yield dg.MaterializeResult(asset_key=key, metadata={"rows": report.rows.get(name, 0)})


# Gold is partitioned by business day (customers' cohort days, sales days). Dagster shows
# which days are materialized; a run recomputes a range of days in one go.
GOLD_DAYS = dg.DailyPartitionsDefinition(start_date="2016-01-01", timezone="UTC", end_offset=1)


class GoldConfig(dg.Config):
    # exactly these days (YYYY-MM-DD) of the run's range: the ones new events touched;
    # empty: every day of the range (a backfill)
    days: list[str] = Field(default_factory=list)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="gold",
            deps=list(SILVER_ENTITIES.values()),
            kinds={"deltalake"},
            freshness_policy=FRESH,
        )
        for key in GOLD.values()
    ],
    partitions_def=GOLD_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Funnel, sales, conversion times and abandoned customers, by business day.",
)
def gold_tables(
    context: dg.AssetExecutionContext, config: GoldConfig, eda_lake: EdaLakeResource
) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date() - timedelta(days=1)
    days = {date.fromisoformat(d) for d in config.days} or {
        first + timedelta(days=n) for n in range((last - first).days + 1)
    }
    lake = eda_lake.lake()
    report = lake.gold(days)
    context.log.info(f"recomputed {len(days)} day(s) between {first} and {last}")
    for name, key in GOLD.items():
        metadata: dict[str, dg.RawMetadataValue] = {
            "days_recomputed": report.days_recomputed.get(name, 0),
            "rows_written": report.rows_written.get(name, 0),
        }
        if name == "funnel_daily":
            metadata["preview"] = dg.MetadataValue.md(lake.funnel_markdown(limit=10))
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


LAKE_ASSETS = [bronze_events, silver_events, silver_entities, gold_tables]
