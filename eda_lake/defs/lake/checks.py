"""Asset checks: keys and references (blocking: gold waits for them), the quarantine rate,
and gold's own consistency (funnel stages add up, rates within 0 and 1)."""

import functools
from collections.abc import Callable

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE, gold_key, silver_key
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake import checks
from eda_lake.lake.delta import metadata as facts
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.declarations import ENTITY_TABLES
from eda_lake.lake.layout import LakeLayout

QUARANTINE_THRESHOLD = 0.01


def _result(outcome: checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        metadata=outcome.metadata,
        severity=dg.AssetCheckSeverity.ERROR,
    )


def _check(
    asset: dg.AssetKey,
    name: str,
    description: str,
    run: Callable[[LakeLayout], checks.CheckOutcome],
    *,
    blocking: bool = False,
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def the_check(eda_lake: EdaLakeResource) -> dg.AssetCheckResult:
        layout = eda_lake.layout()
        table = facts.table_facts(layout.table_uri(*asset.path), layout.storage_options)
        if table is not None and table.rows == 0:  # a lake fed by no team yet: nothing wrong
            return _result(checks.CheckOutcome(True, f"{asset.to_user_string()} has no rows yet"))
        return _result(run(layout))

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
        f"every {child}.{column} exists in {parent} (blocking: gold waits)",
        functools.partial(
            _reference_check, child=child, column=column, parent=parent, parent_column=parent_column
        ),
        blocking=True,
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


def _gold_violations(layout: LakeLayout, table: str, bad_rows: str) -> checks.CheckOutcome:
    found = tables.open_table(layout.table_uri("gold", table), layout.storage_options)
    if found is None:
        return checks.CheckOutcome(False, f"gold/{table} does not exist yet")
    bad = tables.query(f"SELECT * FROM t WHERE {bad_rows}", t=found)
    rows = tables.query("SELECT count(*) AS n FROM t", t=found).column("n")[0].as_py()
    days = [str(d) for d in bad.column(0).to_pylist()[:10]]
    return checks.CheckOutcome(
        bad.num_rows == 0,
        f"{bad.num_rows} of {rows} rows break it" + (f", first: {', '.join(days)}" if days else ""),
        {"rows": rows, "violations": bad.num_rows},
    )


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
GOLD_CHECKS = [
    _check(
        gold_key("funnel_daily"),
        "funnel_stages_add_up",
        "Per cohort day: customers = leads + abandoned + undecided, sales <= leads, "
        "purchasers <= sales, nothing negative.",
        functools.partial(_gold_violations, table="funnel_daily", bad_rows=FUNNEL_BREAKS),
    ),
    _check(
        gold_key("funnel_daily"),
        "rates_between_0_and_1",
        "lead_rate, sale_rate and purchase_rate within 0 and 1 (sale_rate empty without leads).",
        functools.partial(_gold_violations, table="funnel_daily", bad_rows=RATES_OUT_OF_RANGE),
    ),
]
BLOCKING_CHECKS = [*KEY_CHECKS, *REFERENCE_CHECKS]
LAKE_CHECKS = [*BLOCKING_CHECKS, quarantine_rate, *GOLD_CHECKS]
