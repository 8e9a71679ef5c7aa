"""The lake's layers as assets: bronze, silver (events, then entities), gold.

Built from the catalogue (one silver asset per event) and the lake's table definitions
(each entity and gold table depends on exactly the tables its SQL reads). Every table
reports Dagster's standard metadata: the whole table's rows after the commit, its columns
with their descriptions, its URI and a preview (`metadata.preview`: no raw event data);
what one run did is named `..._in_run`. Each silver and gold materialization that newly took
in events carries how long they took from publish to its commit (`publish_to_<layer>_p50_s`,
`_p95_s`, `_max_s`: numbers the UI plots over the runs).
"""

from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field

from eda_lake.capture.naming import capture_path
from eda_lake.catalogue import Catalogue
from eda_lake.defs.hubs import CAPTURE_FILES
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.bronze.schema import BRONZE_DESCRIPTION
from eda_lake.lake.delta import metadata as facts
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.delta.freshness import Latency
from eda_lake.lake.derived.declarations import (
    ENTITY_TABLES,
    GOLD_TABLES,
    Derived,
    event_table,
    qualified,
)
from eda_lake.lake.dictionary import column_descriptions
from eda_lake.lake.discovery.push import acknowledge
from eda_lake.lake.discovery.storage_queue import StorageNotificationQueue
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.silver.event_tables import event_table_description

BRONZE = dg.AssetKey(["bronze", "events"])
PREVIEW_ROWS = 10
FAILED_TABLES = "failed_tables"  # a step's failure metadata: the tables that failed in it
SILVER_EVENTS = "silver_events"  # the step of the event tables
WRITER_POOL = "lake_writer"
# Every run that writes the lake's tables from capture files: the run queue limits them
# (deploy/dagster.yaml), and a reference check waits for those in flight.
WRITER_TAGS = {"lake": "writer"}


def silver_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["silver", name])


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", name])


def source_key(qualified: str) -> dg.AssetKey:
    """silver.customers -> silver/customers: a declaration's source as an asset key."""
    return dg.AssetKey(qualified.split("."))


def declared_spec(declared: Derived) -> dg.AssetSpec:
    """A declared table as an asset: it depends on exactly the tables its SQL reads."""
    return dg.AssetSpec(
        dg.AssetKey([declared.layer, declared.name]),
        deps=[source_key(s) for s in declared.sources],
        group_name=declared.layer,
        description=declared.description
        + (f" Key: {', '.join(declared.key)}." if declared.key else "")
        + (f" Business day: {declared.day_column}." if declared.day_column else ""),
        skippable=True,
    )


def table_metadata(
    layout: LakeLayout, catalogue: Catalogue, area: str, name: str
) -> dict[str, Any]:
    """Dagster's standard table metadata for one table, read after its commit, its columns
    described by the lake's data dictionary."""
    uri = layout.bronze_uri if area == "bronze" else layout.table_uri(area, name)
    descriptions = column_descriptions(qualified(area, name), catalogue)
    found = facts.table_facts(uri, layout.storage_options, descriptions)
    if found is None:
        return {"dagster/uri": uri, "dagster/row_count": 0}
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.type, description=c.description) for c in found.columns]
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "dagster/uri": uri,
        "dagster/row_count": found.rows,
        "dagster/column_schema": schema,
        "delta_version": found.version,
    }
    rows = facts.preview(uri, layout.storage_options, limit=PREVIEW_ROWS)
    if rows is not None:
        metadata["preview"] = dg.MetadataValue.table(
            [dg.TableRecord({k: _cell(v) for k, v in r.items()}) for r in rows.to_pylist()],
            schema=dg.TableSchema(
                columns=[dg.TableColumn(name, "string") for name in rows.column_names]
            ),
        )
    return metadata


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def latency_metadata(layer: str, latency: Latency | None) -> dict[str, dg.MetadataValue]:
    """Publish to the `layer`'s commit of the events the run newly took in, as numeric
    metadata under stable keys; none when it took in no event (no figure, not zero)."""
    if latency is None:
        return {}
    prefix = f"publish_to_{layer}"
    return {
        f"{prefix}_p50_s": dg.MetadataValue.float(round(latency.p50_s, 3)),
        f"{prefix}_p95_s": dg.MetadataValue.float(round(latency.p95_s, 3)),
        f"{prefix}_max_s": dg.MetadataValue.float(round(latency.max_s, 3)),
        f"{prefix}_events": dg.MetadataValue.int(latency.events),
    }


def failure_of(runs: Iterable[TableRun]) -> dg.Failure | None:
    """The step's failure when some of its tables failed: raised after the others' results,
    so those materialize and only the failed tables' assets fail."""
    failed = [run for run in runs if run.failed]
    if not failed:
        return None
    return dg.Failure(
        description="; ".join(run.failure() for run in failed) + "; fix the cause, then run again",
        metadata={FAILED_TABLES: [run.table for run in failed]},
    )


class BronzeConfig(dg.Config):
    files: list[str] = Field(
        default_factory=list,
        description="Capture files (paths in the container) to ingest; empty: every capture "
        "file not yet in bronze (full discovery).",
    )
    capture_root: str = Field(
        default="",
        description="A local container directory to ingest from; empty: the configured source.",
    )
    acknowledge: list[dict[str, str]] = Field(
        default_factory=list,
        description="Queue messages ({id, pop_receipt}) to delete once the files are committed.",
    )


@dg.asset(
    key=BRONZE,
    deps=[CAPTURE_FILES],
    group_name="bronze",
    pool=WRITER_POOL,  # dagster.yaml limits the steps of this pool across runs
    description=BRONZE_DESCRIPTION,
)
def bronze_events(
    context: dg.AssetExecutionContext, config: BronzeConfig, eda_lake: EdaLakeResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    lake = eda_lake.lake()
    root = config.capture_root or None
    if config.files:
        files = lake.capture_files_at(config.files)
        # Each path as the lake names it (files_at refused any that could leave the root).
        for path in sorted({capture_path(p) for p in config.files} - {f.path for f in files}):
            context.log.warning(f"announced capture file not found: {path}")
    else:
        files = lake.capture_files(root)
    report = lake.ingest(root, files=files)
    for line in report.quarantined:
        context.log.warning(f"quarantined {line}")
    settings = eda_lake.settings()
    if config.acknowledge and settings.discovery_queue is not None:
        queue = StorageNotificationQueue.from_settings(settings.discovery_queue)
        deleted = acknowledge(queue, config.acknowledge)
        context.log.info(f"acknowledged {deleted} of {len(config.acknowledge)} notifications")
    metadata: dict[str, dg.RawMetadataValue] = {
        **table_metadata(lake.layout, lake.catalogue, "bronze", "events"),
        "files_ingested": report.files_ingested,
        "files_already_ingested": report.files_already_ingested,
        "files_quarantined": report.files_quarantined,
        "files_empty": report.files_empty,
        "files_retried": report.files_retried,
        "files_still_quarantined": report.files_still_quarantined,
        "rows_in_run": report.rows,
        "bytes_in_run": report.bytes,
        "commits_in_run": report.commits,
    }
    if report.max_lag_seconds is not None:
        metadata["max_lag_seconds"] = round(report.max_lag_seconds, 1)
    return dg.MaterializeResult(metadata=metadata)


def silver_events_asset(catalogue: Catalogue) -> dg.AssetsDefinition:
    events = list(catalogue.events.values())

    @dg.multi_asset(
        name=SILVER_EVENTS,
        specs=[
            dg.AssetSpec(
                silver_key(event_table(spec.name)),
                deps=[BRONZE],
                group_name="silver",
                description=event_table_description(spec),
            )
            for spec in events
        ],
        description="Bodies decoded through the schema registry, deduplicated on source + id.",
        can_subset=True,
    )
    def silver_events(
        context: dg.AssetExecutionContext, eda_lake: EdaLakeResource
    ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        lake = eda_lake.lake()
        chosen = [
            s for s in events if silver_key(event_table(s.name)) in context.selected_asset_keys
        ]
        report = lake.silver_events(events=[s.name for s in chosen])
        context.log.info(
            f"{report.rows_read} bronze rows read; {report.duplicates} duplicates dropped; "
            f"{report.quarantined} quarantined; {report.no_schema} name no registry schema and "
            f"{report.unknown_schema} an unknown one (both stay in bronze)"
        )
        for spec in chosen:
            run = report.runs.get(spec.name)
            if run is not None and run.failed:
                continue  # failed below, once the others materialized
            name = event_table(spec.name)
            yield dg.MaterializeResult(
                asset_key=silver_key(name),
                metadata={
                    **table_metadata(lake.layout, lake.catalogue, "silver", name),
                    "decoded_in_run": report.decoded.get(spec.name, 0),
                    "inserted_in_run": report.inserted.get(spec.name, 0),
                    "bronze_version": report.bronze_version,
                    "duplicates_in_run": report.duplicates,
                    "quarantined_in_run": report.quarantined,
                    "no_schema_in_run": report.no_schema,
                    "unknown_schema_in_run": report.unknown_schema,
                    **latency_metadata("silver", run.latency if run else None),
                },
            )
        failure = failure_of(report.runs.values())
        if failure is not None:
            raise failure

    return silver_events


def silver_entities_asset() -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="silver_entities",
        specs=[declared_spec(declared) for declared in ENTITY_TABLES],
        description="Conformed entities for analysts, one table each, from their declarations.",
        can_subset=True,
    )
    def silver_entities(
        context: dg.AssetExecutionContext, eda_lake: EdaLakeResource
    ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        chosen = [d for d in ENTITY_TABLES if silver_key(d.name) in context.selected_asset_keys]
        lake = eda_lake.lake()
        report = lake.entities(names=[d.name for d in chosen])
        for declared in chosen:
            run = report.runs.get(declared.name)
            if run is None or run.version is None:  # waiting for a table it reads, or failed
                context.log.info(f"silver/{declared.name}: {run.outcome if run else 'not run'}")
                continue
            yield dg.MaterializeResult(
                asset_key=silver_key(declared.name),
                metadata={
                    **table_metadata(lake.layout, lake.catalogue, "silver", declared.name),
                    "outcome_in_run": run.outcome,
                    "rows_written_in_run": run.rows_written,
                    "counts_in_run": dg.MetadataValue.json(run.counts),
                    **latency_metadata("silver", run.latency),
                },
            )
        failure = failure_of(report.runs.values())
        if failure is not None:
            raise failure

    return silver_entities


class GoldConfig(dg.Config):
    days: list[str] = Field(
        default_factory=list,
        description="Exactly these days (YYYY-MM-DD); empty: the days of the run's partitions "
        "(by hand or a backfill), or every day new silver rows touch (gold_automation_sensor).",
    )


NO_PARTITION = (
    "gold recomputes business days (gold_job, ingest_to_gold_job): choose a partition or a "
    "range of days (Launchpad: "
    "'Partition' / Materialize: 'Select partitions'), or let gold_automation_sensor run it "
    "when silver changes"
)
# The business days with events, as gold_days_sensor finds them in the lake: a day without
# events is no partition, so none shows missing that no run could fill.
GOLD_DAYS_NAME = "gold_days"
GOLD_DAYS = dg.DynamicPartitionsDefinition(name=GOLD_DAYS_NAME)
# Gold follows silver: once any table it reads is updated (or a day becomes a partition),
# when every blocking check on those tables has passed and none of them is being written.
GOLD_AUTOMATION = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)
# On the runs gold_automation_sensor launches: recompute what silver's changes touched.
PENDING_DAYS_TAG = "eda_lake/gold_days"
PENDING_DAYS = "pending"


def partition_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[date]:
    """The business days of the run's partitions, or the one-line way out without any."""
    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(NO_PARTITION)
    if not context.partition_keys:  # a range whose end was added before its start
        raise dg.Failure(
            f"the partition range holds no day: gold_days keeps its days in the order they "
            f"were added, not by date; choose the days themselves. {NO_PARTITION}"
        )
    return sorted(date.fromisoformat(key) for key in context.partition_keys)


def failed_blocking_checks(context: dg.AssetExecutionContext) -> list[str]:
    """The blocking checks that failed earlier in this run as warnings (one failing as an
    error stops the run before gold): a run that carries new capture files through to gold
    waits for them to pass, as gold's automation would."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    evaluations = [
        event.asset_check_evaluation_data
        for event in (record.event_log_entry.dagster_event for record in records)
        if event is not None
    ]
    return sorted(
        e.asset_check_key.to_user_string() for e in evaluations if e.blocking and not e.passed
    )


def gold_asset() -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="gold_tables",
        specs=[
            declared_spec(declared).replace_attributes(automation_condition=GOLD_AUTOMATION)
            for declared in GOLD_TABLES
        ],
        can_subset=True,
        partitions_def=GOLD_DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Funnel, sales, conversion times and abandoned customers, by business day.",
    )
    def gold_tables(
        context: dg.AssetExecutionContext, config: GoldConfig, eda_lake: EdaLakeResource
    ) -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        requested = partition_days(context)
        held_back = failed_blocking_checks(context)
        # No output: gold's tables stay as they were. Its automation skips silver updates of
        # runs that also ran gold; the writer run the warning waits for lands the missing
        # rows, and recomputes gold itself or wakes the automation.
        if held_back:
            context.log.warning(
                f"gold not recomputed: the blocking check(s) {', '.join(held_back)} failed in "
                "this run; the writer run that lands the missing rows recomputes it"
            )
            return
        lake = eda_lake.lake()
        days: set[date] | None = set(requested)
        if config.days:
            days = {date.fromisoformat(d) for d in config.days}
        elif context.run.tags.get(PENDING_DAYS_TAG) == PENDING_DAYS:
            # Every day new silver rows touch, table by table, also one not yet a partition
            # (its partition, added later, then finds it current).
            days = None
        chosen = [d for d in GOLD_TABLES if gold_key(d.name) in context.selected_asset_keys]
        report = lake.gold(days, tables=[d.name for d in chosen])
        context.log.info(
            f"{len(requested)} partition(s); days recomputed by table: "
            + ", ".join(f"{name} {n}" for name, n in sorted(report.days_recomputed.items()))
        )
        for table in chosen:
            if table.name in report.runs and report.runs[table.name].failed:
                continue  # failed below, once the others materialized
            uri = lake.layout.table_uri("gold", table.name)
            day_column = table.day_column or ""
            by_day = facts.rows_by_day(uri, lake.layout.storage_options, day_column, set(requested))
            metadata: dict[str, dg.RawMetadataValue] = {
                **table_metadata(lake.layout, lake.catalogue, "gold", table.name),
                "days_recomputed_in_run": report.days_recomputed.get(table.name, 0),
                "rows_written_in_run": report.rows_written.get(table.name, 0),
            }
            run = report.runs.get(table.name)
            if run is not None:
                metadata["outcome_in_run"] = run.outcome
                metadata["counts_in_run"] = dg.MetadataValue.json(run.counts)
                metadata.update(latency_metadata("gold", run.latency))
            if len(requested) == 1:
                metadata["dagster/partition_row_count"] = by_day.get(requested[0], 0)
            else:  # a range: each day's own figures, on that day's partition
                for day, rows in sorted(by_day.items()):
                    context.log_event(
                        dg.AssetObservation(
                            asset_key=gold_key(table.name),
                            partition=day.isoformat(),
                            metadata={"dagster/partition_row_count": rows},
                        )
                    )
            yield dg.MaterializeResult(asset_key=gold_key(table.name), metadata=metadata)
        failure = failure_of(report.runs.values())
        if failure is not None:
            raise failure

    return gold_tables
