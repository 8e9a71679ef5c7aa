"""A table's line in a run's report: what it wrote and, when it took in new events, how long
they took from publish to its commit."""

from __future__ import annotations

from eda_lake.console.summaries import table_run
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.delta.freshness import Latency


def test_a_run_that_took_in_events_shows_their_publish_to_commit_figures() -> None:
    run = TableRun("gold.funnel_daily", "committed", 4, rows_written=3, counts={"days": 2})
    assert table_run(run).endswith("committed (v4): 3 rows written, 2 days")
    run.latency = Latency(events=8, p50_s=1.23, p95_s=2.04, max_s=62.5)
    assert table_run(run).endswith(
        "3 rows written, 2 days; publish to commit p50 1.2 s, p95 2.0 s, max 62.5 s"
    )
