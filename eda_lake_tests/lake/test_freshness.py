"""Publish-to-commit figures and watermarks: the right events timed, against hand-computed
answers; nothing new is no figure; lakes written before watermarks were kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from eda_lake.lake.bronze import ingest as bronze_ingest
from eda_lake.lake.delta import commits, freshness, tables
from eda_lake.lake.delta.commits import Write
from eda_lake.lake.derived import counted
from eda_lake.lake.derived.counted import Counting
from eda_lake.lake.derived.declarations import GOLD_TABLES, event_table
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.lake.status import lake_status
from eda_lake.settings import Settings
from eda_lake_tests.lake.test_silver_and_gold import _capture, _lake_after_chain

BASE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_source", pa.string()),
        pa.field("event_id", pa.string()),
        pa.field("enqueued_time", pa.timestamp("us", "UTC")),
    ]
)


def _micros(*offsets_s: float) -> np.ndarray:
    return np.array([int((BASE.timestamp() + s) * 1e6) for s in offsets_s], np.int64)


def test_figures_are_the_median_the_interpolated_95th_percentile_and_the_longest() -> None:
    # published 1..20 s before the commit: the median lies between the 10th and 11th,
    # the 95th percentile 0.05 of the way from the 19th (19 s) to the 20th (20 s)
    committed_at = BASE + timedelta(seconds=20)
    figures = freshness.latency(_micros(*range(20)), committed_at)
    assert figures == freshness.Latency(events=20, p50_s=10.5, p95_s=19.05, max_s=20.0)
    assert freshness.latency(_micros(), committed_at) is None  # nothing new: no figure


def _rows(ids: list[str], offsets_s: list[float]) -> pa.Table:
    return pa.table(
        {
            "event_source": ["/test"] * len(ids),
            "event_id": ids,
            "enqueued_time": [BASE + timedelta(seconds=s) for s in offsets_s],
        },
        schema=EVENT_SCHEMA,
    )


def test_a_run_times_the_rows_committed_after_the_versions_it_counted(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path / "lake")
    uri = layout.table_uri("silver", "lead_generated")
    table = commits.ensure_table(uri, EVENT_SCHEMA, configuration=tables.CHANGE_FEED)  # v0
    commits.commit(table, Write(EVENT_SCHEMA, _rows(["a", "b"], [0, 1])), {})  # v1
    commits.commit(table, Write(EVENT_SCHEMA, _rows(["c"], [4])), {})  # v2
    # v3: a rewrite (as a schema upgrade makes) of the rows held, with one new row
    rewrite = _rows(["a", "b", "c", "d"], [0, 1, 4, 6])
    commits.commit(table, Write(EVENT_SCHEMA, rewrite, mode="overwrite"), {})
    committed_at = BASE + timedelta(seconds=10)
    after_v1 = Counting({"silver.lead_generated": 3}, {"silver.lead_generated": 1}, None)
    # c (published at 4 s) and d (6 s), 6 s and 4 s before the commit; a and b were counted
    assert after_v1.latency(layout, committed_at) == freshness.Latency(2, 5.0, 5.9, 6.0)
    first_build = Counting({"silver.lead_generated": 2}, {"silver.lead_generated": None}, None)
    assert first_build.latency(layout, committed_at) == freshness.Latency(3, 9.0, 9.9, 10.0)
    nothing_new = Counting({"silver.lead_generated": 3}, {"silver.lead_generated": 3}, None)
    assert nothing_new.latency(layout, committed_at) is None
    unknown = Counting({"silver.lead_generated": 3}, None, None)  # counted before records
    assert unknown.latency(layout, committed_at) is None


def _event_keys(lake: Lake) -> dict[str, set[tuple[str, str, datetime]]]:
    """Each event table's events: source, id and publish time."""
    keys = {}
    for spec in lake.catalogue.events.values():
        name = event_table(spec.name)
        table = tables.open_table(lake.layout.table_uri("silver", name))
        assert table is not None
        rows = tables.query("SELECT event_source, event_id, enqueued_time FROM t", t=table)
        keys[name] = {
            (r["event_source"], r["event_id"], r["enqueued_time"]) for r in rows.to_pylist()
        }
    return keys


def test_a_gold_run_times_exactly_the_events_it_newly_counted(settings: Settings) -> None:
    simulation, _, lake = _lake_after_chain(settings, customers=40)
    before = _event_keys(lake)
    simulation.publish_customers(seed=91, count=4)
    simulation.subscriber("conversions").run()  # each new customer: a lead or abandoned
    _capture(settings, simulation)
    lake.ingest()
    silver = lake.silver()
    new = {name: keys - before[name] for name, keys in _event_keys(lake).items()}
    under_funnel = ["customer_created", "lead_generated", "lead_abandoned"]
    assert sum(len(new[n]) for n in under_funnel) == 8 and not new["product_updated"]
    created = tables.open_table(lake.layout.table_uri("silver", "customer_created"))
    assert created is not None
    signed_up = [int(enqueued.timestamp() * 1e6) for _, _, enqueued in new["customer_created"]]
    assert silver.events.runs["CustomerCreated"].latency == freshness.latency(
        np.array(signed_up, np.int64), freshness.last_commit(created)
    )
    assert silver.events.runs["ProductUpdated"].latency is None  # it inserted nothing
    report = lake.gold()
    funnel = tables.open_table(lake.layout.table_uri("gold", "funnel_daily"))
    assert funnel is not None
    published = [int(enqueued.timestamp() * 1e6) for n in under_funnel for _, _, enqueued in new[n]]
    expected = freshness.latency(np.array(published, np.int64), freshness.last_commit(funnel))
    assert report.runs["funnel_daily"].latency == expected
    sales = report.runs["sales_daily"].latency  # the new leads reach it through silver.sales
    assert sales is not None and sales.events == len(new["lead_generated"])
    again = lake.gold()
    assert all(run.latency is None for run in again.runs.values())  # nothing new: no figure
    watermark = freshness.watermark(funnel)
    bronze = tables.open_table(lake.layout.bronze_uri)
    assert bronze is not None
    assert watermark == freshness.newest_in_files(bronze, "enqueued_time") is not None


def test_tables_written_before_watermarks_get_them_at_their_next_commit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_release:  # a lake as this project wrote it before
        old_release.setattr(freshness, "watermark_transaction", lambda moment: {})
        old_release.setattr(Counting, "transactions", lambda self: {})
        old_release.setattr(
            bronze_ingest, "STATS_COLUMNS", ("namespace", "partition_id", "sequence_number")
        )
        simulation, _, lake = _lake_after_chain(settings, customers=20)
    status = lake_status(lake)
    assert all(t.newest_event is None and t.lag_s is None for t in status.tables), status
    assert all(t.rows for t in status.tables)  # every table is there, with its rows
    simulation.publish_customers(seed=92, count=3)
    simulation.subscriber("conversions").run()
    _capture(settings, simulation)
    lake.ingest()
    silver = lake.silver()
    # an entity's inputs are the event tables it counts: its figures need no record
    assert silver.entities.runs["customers"].latency is not None
    assert silver.entities.runs["customers"].latency.events == 3
    first = lake.gold()
    # a gold table that recorded nothing cannot tell what is new: this run records it
    assert all(run.latency is None for run in first.runs.values())
    assert all(t.newest_event is not None for t in lake_status(lake).tables)
    simulation.publish_customers(seed=93, count=2)
    simulation.subscriber("conversions").run()
    _capture(settings, simulation)
    lake.ingest()
    lake.silver()
    funnel = lake.gold().runs["funnel_daily"].latency
    assert funnel is not None and funnel.events == 4  # 2 sign-ups, 2 decisions on them


def test_the_counted_event_tables_are_those_beneath_each_gold_table() -> None:
    assert counted.event_tables_under("silver.customers") == ("silver.customer_created",)
    under = {d.name: counted.event_tables_under(d.qualified_name) for d in GOLD_TABLES}
    assert under["sales_daily"] == (
        "silver.lead_generated",
        "silver.product_updated",
        "silver.sale_confirmed",
    )
    assert "silver.customer_purchased" in under["funnel_daily"]


def test_a_change_feed_vacuumed_away_is_no_figure_and_an_unknown_version_an_error(
    tmp_path: Path,
) -> None:
    layout = LakeLayout(tmp_path / "lake")
    uri = layout.table_uri("silver", "lead_generated")
    table = commits.ensure_table(uri, EVENT_SCHEMA, configuration=tables.CHANGE_FEED)  # v0
    commits.commit(table, Write(EVENT_SCHEMA, _rows(["a"], [0]), "append"), {})  # v1
    commits.commit(table, Write(EVENT_SCHEMA, _rows(["b"], [1]), "append"), {})  # v2
    committed_at = BASE + timedelta(seconds=10)
    counting = Counting({"silver.lead_generated": 2}, {"silver.lead_generated": 1}, None)
    assert counting.latency(layout, committed_at) == freshness.Latency(1, 9.0, 9.0, 9.0)
    # As a vacuum leaves it: the files version 2 added are gone.
    added = table.get_add_actions(flatten=True).column("path").to_pylist()
    for path in added:
        (Path(uri) / path).unlink()
    assert counting.latency(layout, committed_at) is None  # which rows were new: unknown
    with pytest.raises(ValueError, match="version 7 is not in its history"):
        freshness.commit_time(table, 7)
