"""Asset checks: keys, references, quarantine and dead-letter rates, freshness."""

import functools
from collections.abc import Callable

import dagster as dg

from eda_lake.defs.lake.assets import BRONZE, SILVER_ENTITIES
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake import checks
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
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description)
    def the_check(eda_lake: EdaLakeResource) -> dg.AssetCheckResult:
        return _result(run(eda_lake.layout()))

    return the_check


def _key_check(layout: LakeLayout, *, entity: str, key: str) -> checks.CheckOutcome:
    return checks.key_is_unique_and_present(layout, entity, key)


def _reference_check(
    layout: LakeLayout, *, child: str, column: str, parent: str, parent_column: str
) -> checks.CheckOutcome:
    return checks.references_exist(layout, child, column, parent, parent_column)


KEY_CHECKS = [
    _check(
        SILVER_ENTITIES[entity],
        f"{key}_unique_not_null",
        f"{entity}.{key} identifies a row: unique and never null",
        functools.partial(_key_check, entity=entity, key=key),
    )
    for entity, key in (
        ("products", "product_id"),
        ("customers", "customer_id"),
        ("leads", "customer_id"),
        ("sales", "sale_id"),
        ("purchases", "lead_id"),
    )
]
REFERENCE_CHECKS = [
    _check(
        SILVER_ENTITIES[child],
        f"{column}_refers_to_{parent}",
        f"every {child}.{column} exists in {parent}",
        functools.partial(
            _reference_check, child=child, column=column, parent=parent, parent_column=parent_column
        ),
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


LAKE_CHECKS = [*KEY_CHECKS, *REFERENCE_CHECKS, quarantine_rate]
