"""README "Extending it", tested: an event added to a copy of schemas/ (one catalogue entry,
one schema file) is a hub asset and a silver asset, and silver materializes through Dagster
with it; a new team owns it."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from eda_lake.capture.runtime import run_embedded_capture
from eda_lake.defs.build import build_definitions
from eda_lake.events.publisher import OutgoingEvent
from eda_lake.lake import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY
from eda_lake_tests.simulation.helpers import provisioned

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
    schemas = root / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    (schemas / "reviews").mkdir()
    (schemas / "reviews" / "ProductReviewed.avsc").write_text(json.dumps(REVIEW_SCHEMA))
    with (schemas / "catalogue.toml").open("a") as catalogue:
        catalogue.write(REVIEW_ENTRY)
    return schemas


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
        assert simulation.publisher.publish(reviews) == 7
    finally:
        simulation.close()
    run_embedded_capture(settings, flush=True)

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
