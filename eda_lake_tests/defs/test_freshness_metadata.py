"""Publish-to-commit figures on the silver and gold materializations: numbers the UI plots
over the runs, present when a run took in new events and absent (not zero) when it did not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np

from eda_lake.lake.delta import freshness, tables
from eda_lake.lake.derived.declarations import GOLD_TABLES
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import (
    TEST_PII_KEY,
    add_gold_days,
    pending_gold_run_tags,
    resource,
)
from eda_lake_tests.simulation.helpers import captured_chain

FIGURES = ("p50_s", "p95_s", "max_s")


def _materializations(result: Any) -> dict[str, Any]:
    return {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def _published_micros(layout: LakeLayout, event_tables: list[str]) -> list[int]:
    found: list[int] = []
    for name in event_tables:
        table = tables.open_table(layout.table_uri("silver", name))
        assert table is not None
        found += freshness.enqueued_micros(
            tables.query("SELECT enqueued_time FROM t", t=table)["enqueued_time"]
        ).tolist()
    return found


def test_gold_and_silver_materializations_carry_publish_to_commit_figures(
    tmp_path: Path,
) -> None:
    from eda_lake.definitions import defs

    settings = Settings(home=tmp_path)
    captured_chain(settings, seed=4, customers=20)
    instance = dg.DagsterInstance.ephemeral()
    resources = {"eda_lake": resource(tmp_path)}
    ingest = defs.resolve_job_def("ingest_job").execute_in_process(
        resources=resources, instance=instance
    )
    silver = _materializations(ingest)
    created = silver["silver/customer_created"]
    assert created["publish_to_silver_events"].value == 20
    for figure in FIGURES:
        assert isinstance(created[f"publish_to_silver_{figure}"], dg.FloatMetadataValue)
    assert silver["silver/customers"]["publish_to_silver_events"].value == 20

    lake = Lake(settings, pii_key=TEST_PII_KEY)
    days = sorted(d.isoformat() for d in lake.gold_pending_days())
    add_gold_days(instance, days)
    gold_job = defs.resolve_job_def("gold_job")
    first = _materializations(
        gold_job.execute_in_process(
            tags=pending_gold_run_tags(days), resources=resources, instance=instance
        )
    )
    funnel = first["gold/funnel_daily"]
    for figure in FIGURES:
        assert isinstance(funnel[f"publish_to_gold_{figure}"], dg.FloatMetadataValue)
    # the first gold run counts every event beneath the funnel: each one's publish to the
    # gold commit, against the commit time in the table's log
    under = ["customer_created", "lead_generated", "lead_abandoned", "sale_confirmed"]
    under += ["lead_purchased", "customer_purchased"]
    published = _published_micros(lake.layout, under)
    table = tables.open_table(lake.layout.table_uri("gold", "funnel_daily"))
    assert table is not None
    expected = freshness.latency(np.array(published, np.int64), freshness.last_commit(table))
    assert expected is not None
    assert funnel["publish_to_gold_events"].value == expected.events
    assert funnel["publish_to_gold_max_s"].value == round(expected.max_s, 3)
    assert funnel["publish_to_gold_p95_s"].value == round(expected.p95_s, 3)

    again = _materializations(
        gold_job.execute_in_process(
            tags=pending_gold_run_tags(days), resources=resources, instance=instance
        )
    )
    for declared in GOLD_TABLES:  # nothing new counted: no figure at all, not zero
        seen = again.get(f"gold/{declared.name}", {})
        assert not [key for key in seen if key.startswith("publish_to_")], declared.name
