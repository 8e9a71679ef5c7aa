"""README "Extending it", tested: an event added to a copy of schemas/ (one catalogue entry,
one schema file) is a hub asset and a silver asset, and silver materializes through Dagster
with it; a new team owns it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.defs.build import build_definitions
from eda_lake.events.publisher import OutgoingEvent
from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings
from eda_lake_tests.catalogues import schemas_with_event
from eda_lake_tests.defs.helpers import TEST_PII_KEY, add_gold_days
from eda_lake_tests.simulation.helpers import captured_chain, provisioned, publish

REVIEW_SCHEMA = {
    "type": "record",
    "name": "ProductReviewed",
    "namespace": "eda_lake.reviews",
    "doc": "A customer rated a product they bought.",
    "fields": [
        {"name": "review_id", "type": {"type": "string", "logicalType": "uuid"},
         "doc": "Stable identifier of the review."},
        {"name": "product_id", "type": {"type": "string", "logicalType": "uuid"},
         "doc": "The product reviewed."},
        {"name": "stars", "type": "int", "doc": "From 1 to 5."},
    ],
}  # fmt: skip
REVIEW_ENTRY = """
[teams.reviews]
description = "Product reviews from customers."

[[events]]
name = "ProductReviewed"
team = "reviews"
hub = "product-reviewed"
partition_key = "product_id"
schema = "reviews/ProductReviewed.avsc"
subscribers = []
"""


def _schemas_with_a_new_event(root: Path) -> Path:
    return schemas_with_event(
        root / "schemas", "reviews/ProductReviewed.avsc", REVIEW_SCHEMA, REVIEW_ENTRY
    )


def test_an_added_event_is_an_asset_and_silver_materializes_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = _schemas_with_a_new_event(tmp_path)
    home = tmp_path / "home"
    environment = {
        "EDA_LAKE_HOME": str(home),
        "EDA_LAKE_SCHEMA_DIR": str(schemas),
        "EDA_LAKE_PII_KEY": TEST_PII_KEY,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    hub = graph.get(dg.AssetKey(["hub", "product_reviewed"]))
    assert hub.owners == ["team:reviews"] and "rated a product" in (hub.description or "")
    silver = dg.AssetKey(["silver", "product_reviewed"])
    assert {p.to_user_string() for p in graph.get(silver).parent_keys} == {"bronze/events"}

    settings = Settings.from_env(environment)
    simulation = provisioned(settings)  # the new hub and schema too
    try:
        simulation.run_chain(seed=2, customers=20)
        now = datetime(2026, 10, 3, 12, tzinfo=UTC)
        reviews = [
            OutgoingEvent(
                "ProductReviewed",
                {"review_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4()),
                 "stars": n % 5 + 1},
                str(uuid.uuid4()), "/eda-lake/reviews", now,
            )
            for n in range(7)
        ]  # fmt: skip
        assert publish(simulation, reviews) == 7
    finally:
        simulation.close()
    run_capture(settings, flush=True)

    result = defs.resolve_job_def("ingest_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    [materialization] = [
        m for m in result.get_asset_materialization_events() if m.asset_key == silver
    ]
    metadata = materialization.step_materialization_data.materialization.metadata
    assert metadata["dagster/row_count"].value == 7
    table = tables.open_table(LakeLayout(home / "lake").table_uri("silver", "product_reviewed"))
    assert table is not None
    stars = tables.query("SELECT stars FROM t ORDER BY stars", t=table)["stars"].to_pylist()
    assert sorted(stars) == sorted(n % 5 + 1 for n in range(7))


def test_a_declared_gold_table_is_an_asset_on_exactly_its_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eda_lake.defs.lake import assets
    from eda_lake.lake import dictionary
    from eda_lake.lake.derived import declarations, gold
    from eda_lake.lake.derived.declarations import GOLD, Derived, Reach

    by_country = Derived(
        GOLD,
        "customers_by_country",
        "Customers per cohort day and country.",
        "customer",
        "SELECT cohort_date, country, count(*) AS customers FROM customers "
        "GROUP BY cohort_date, country",
        {"silver.customers": Reach("cohort_date")},
        key=("cohort_date", "country"),
        day_column="cohort_date",
    )
    extended = (*declarations.GOLD_TABLES, by_country)
    for module in (declarations, dictionary, gold, assets):  # as if declared in declarations.py
        monkeypatch.setattr(module, "GOLD_TABLES", extended)
    home = tmp_path / "home"
    for name, value in {"EDA_LAKE_HOME": str(home), "EDA_LAKE_PII_KEY": TEST_PII_KEY}.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    key = dg.AssetKey(["gold", "customers_by_country"])
    node = defs.resolve_asset_graph().get(key)
    assert {p.to_user_string() for p in node.parent_keys} == {"silver/customers"}
    assert node.owners == ["team:customer"] and node.partitions_def is not None

    settings = Settings(home=home)
    captured_chain(settings, seed=3, customers=30)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("ingest_job").execute_in_process(instance=instance).success
    day = "2026-10-01"
    add_gold_days(instance, [day])
    result = defs.resolve_job_def("gold_job").execute_in_process(
        partition_key=day, instance=instance
    )
    [materialization] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    metadata = materialization.step_materialization_data.materialization.metadata
    table = tables.open_table(LakeLayout(home / "lake").table_uri("gold", "customers_by_country"))
    assert table is not None
    rows = tables.query("SELECT sum(customers) AS n FROM t", t=table).column("n")[0].as_py()
    customers = tables.open_table(LakeLayout(home / "lake").table_uri("silver", "customers"))
    assert customers is not None
    that_day = (
        tables.query(f"SELECT count(*) AS n FROM c WHERE cohort_date = DATE '{day}'", c=customers)
        .column("n")[0]
        .as_py()
    )
    assert that_day > 0 and rows == that_day  # the day's customers, by country
    assert metadata["dagster/row_count"].value == table_rows(table)


def table_rows(table: Any) -> int:
    return int(tables.query("SELECT count(*) AS n FROM t", t=table).column("n")[0].as_py())
