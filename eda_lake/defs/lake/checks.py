"""Asset checks: keys and references (blocking: gold waits for them), the quarantine rate,
and gold's own consistency (funnel stages add up, rates within 0 and 1)."""

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

import dagster as dg

from eda_lake.defs.lake.assets import (
    BRONZE,
    GOLD_DAYS,
    WRITER_TAGS,
    gold_key,
    partition_days,
    silver_key,
)
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake import checks
from eda_lake.lake.delta import metadata as facts
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES
from eda_lake.lake.layout import LakeLayout

QUARANTINE_THRESHOLD = 0.01
# A blocking check runs again when its table's newest version has no result of its own.
# Dagster counts only the result of the check planned last, against the version it was
# planned for: writer runs at once may land a table out of the order they were created in,
# and a run by hand may land it without its checks. Gold, which waits for every blocking
# check to pass, would wait for the next ingestion. Once per version of the table, whatever
# becomes of that run (the lake unreachable, say: the next ingestion checks again); not
# while the run planned last for the table or the check is pending (Dagster sees no other);
# never over a failed result, which stands.
_TABLE_UPDATED = dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
RECHECK = (
    ~(dg.AutomationCondition.check_passed() | dg.AutomationCondition.check_failed())
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.newly_requested().since(_TABLE_UPDATED)
).with_label("newest_version_unchecked")


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _result(
    outcome: checks.CheckOutcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        metadata=outcome.metadata,
        severity=severity,
    )


def _writers_in_flight(context: dg.AssetCheckExecutionContext, parent: dg.AssetKey) -> int:
    """The other lake writer runs, queued or running, that may still land rows of `parent`:
    those that have not materialized it yet (a backlog's capture files are split across runs
    at once). One past that cannot add to it, so the last writer to check reports an error."""
    records = context.instance.get_run_records(dg.RunsFilter(statuses=IN_FLIGHT, tags=WRITER_TAGS))
    own = context.op_execution_context.run_id
    return sum(
        1
        for record in records
        if record.dagster_run.run_id != own
        and not _materialized_in(context.instance, record.dagster_run.run_id, parent)
    )


def _materialized_in(instance: dg.DagsterInstance, run_id: str, asset: dg.AssetKey) -> bool:
    materialized = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return any(record.asset_key == asset for record in materialized)


def _check(
    asset: dg.AssetKey,
    name: str,
    description: str,
    run: Callable[[LakeLayout], checks.CheckOutcome],
    *,
    blocking: bool = False,
    waits_for: dg.AssetKey | None = None,
) -> dg.AssetChecksDefinition:
    """`waits_for`: while other lake writer runs that may still land that asset's rows are in
    flight, a failure is a warning (the run succeeds; gold still waits, as for any failed
    blocking check); the last of them to check reports an error."""

    @dg.asset_check(
        asset=asset,
        name=name,
        description=description,
        blocking=blocking,
        automation_condition=RECHECK if blocking else None,
    )
    def the_check(
        context: dg.AssetCheckExecutionContext, eda_lake: EdaLakeResource
    ) -> dg.AssetCheckResult:
        layout = eda_lake.layout()
        table = facts.table_facts(layout.table_uri(*asset.path), layout.storage_options)
        if table is not None and table.rows == 0:  # a lake fed by no team yet: nothing wrong
            return _result(checks.CheckOutcome(True, f"{asset.to_user_string()} has no rows yet"))
        outcome = run(layout)
        if outcome.passed or waits_for is None:
            return _result(outcome)
        others = _writers_in_flight(context, waits_for)
        if others:
            pending = (
                f"{outcome.description}, for now: {others} other lake writer run(s) in flight "
                f"may still land {waits_for.to_user_string()}"
            )
            return _result(replace(outcome, description=pending), dg.AssetCheckSeverity.WARN)
        return _result(outcome)

    return the_check


def _key_check(layout: LakeLayout, *, entity: str, key: str) -> checks.CheckOutcome:
    return checks.key_is_unique_and_present(layout, entity, key)


def _reference_check(
    layout: LakeLayout, *, child: str, column: str, parent: str, parent_column: str
) -> checks.CheckOutcome:
    return checks.references_exist(layout, child, column, parent, parent_column)


KEY_CHECKS = [
    _check(
        silver_key(entity),
        f"{key}_unique_not_null",
        f"{entity}.{key} identifies a row: unique and never null (blocking: gold waits)",
        functools.partial(_key_check, entity=entity, key=key),
        blocking=True,
    )
    for entity, key in ((d.name, d.key[0]) for d in ENTITY_TABLES if len(d.key) == 1)
]
REFERENCE_CHECKS = [
    _check(
        silver_key(child),
        f"{column}_refers_to_{parent}",
        f"every {child}.{column} exists in {parent} (blocking: gold waits; a warning while "
        "other lake writer runs are in flight, which may land the missing rows)",
        functools.partial(
            _reference_check, child=child, column=column, parent=parent, parent_column=parent_column
        ),
        blocking=True,
        waits_for=silver_key(parent),
    )
    for child, column, parent, parent_column in (
        ("leads", "customer_id", "customers", "customer_id"),
        ("sales", "lead_id", "leads", "lead_id"),
        ("purchases", "sale_id", "sales", "sale_id"),
    )
]


@dg.asset_check(
    asset=BRONZE,
    description="Events quarantined by silver, relative to the events in bronze (<= 1%).",
)
def quarantine_rate(eda_lake: EdaLakeResource) -> dg.AssetCheckResult:
    return _result(checks.quarantine_rate(eda_lake.layout(), QUARANTINE_THRESHOLD))


def gold_violations(
    layout: LakeLayout, table: str, bad_rows: str, days: list[date]
) -> checks.CheckOutcome:
    """The rows of `days` (a run's partitions) that break a gold table's rule."""
    found = tables.open_table(layout.table_uri("gold", table), layout.storage_options)
    if found is None:
        return checks.CheckOutcome(False, f"gold/{table} does not exist yet")
    day_column = next(d.day_column for d in GOLD_TABLES if d.name == table)
    listed = ", ".join(f"DATE '{day.isoformat()}'" for day in days)
    of_days = f"SELECT * FROM t WHERE CAST({day_column} AS DATE) IN ({listed})"
    bad = tables.query(f"{of_days} AND ({bad_rows})", t=found)
    rows = tables.query(f"SELECT count(*) AS n FROM ({of_days})", t=found).column("n")[0].as_py()
    first = [str(d) for d in bad.column(0).to_pylist()[:10]]
    span = days[0].isoformat() if len(days) == 1 else f"{len(days)} days {days[0]}..{days[-1]}"
    return checks.CheckOutcome(
        bad.num_rows == 0,
        f"{bad.num_rows} of {rows} rows of {span} break it"
        + (f", first: {', '.join(first)}" if first else ""),
        {"rows": rows, "violations": bad.num_rows, "days": len(days)},
    )


@dataclass(frozen=True)
class GoldRule:
    table: str
    name: str
    description: str
    bad_rows: str  # SQL: the rows that break it


def _gold_check(rule: GoldRule) -> dg.AssetChecksDefinition:
    """A rule on a gold table, checked on the rows of the run's days: a one-day run's result
    is that day's partition's (a range's is recorded on the asset, as Dagster 1.13 records a
    check in a run of several partitions)."""

    def the_check(
        context: dg.AssetCheckExecutionContext, eda_lake: EdaLakeResource
    ) -> dg.AssetCheckResult:
        days = partition_days(context)
        return _result(gold_violations(eda_lake.layout(), rule.table, rule.bad_rows, days))

    # Partitioned checks are "preview" in Dagster 1.13 (they may change in a patch release):
    # the snapshot test sees such a change; the warning on every load would say nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.asset_check(
            asset=gold_key(rule.table),
            name=rule.name,
            description=rule.description,
            partitions_def=GOLD_DAYS,
        )(the_check)


# Conversions decides on every customer of a cohort: a lead, abandoned, or not yet
# (undecided); a sale is a lead's; a purchaser bought a sale.
FUNNEL_BREAKS = (
    "customers <> leads + abandoned + undecided OR sales > leads OR purchasers > sales "
    "OR least(customers, leads, abandoned, undecided, sales, purchasers) < 0"
)
RATES_OUT_OF_RANGE = " OR ".join(
    f"NOT ({rate} IS NULL OR {rate} BETWEEN 0 AND 1)"
    for rate in ("lead_rate", "sale_rate", "purchase_rate")
)
GOLD_RULES = [
    GoldRule(
        "funnel_daily",
        "funnel_stages_add_up",
        "Per cohort day: customers = leads + abandoned + undecided, sales <= leads, "
        "purchasers <= sales, nothing negative.",
        FUNNEL_BREAKS,
    ),
    GoldRule(
        "funnel_daily",
        "rates_between_0_and_1",
        "lead_rate, sale_rate and purchase_rate within 0 and 1 (sale_rate empty without leads).",
        RATES_OUT_OF_RANGE,
    ),
]
GOLD_CHECKS = [_gold_check(rule) for rule in GOLD_RULES]
BLOCKING_CHECKS = [*KEY_CHECKS, *REFERENCE_CHECKS]
LAKE_CHECKS = [*BLOCKING_CHECKS, quarantine_rate, *GOLD_CHECKS]
