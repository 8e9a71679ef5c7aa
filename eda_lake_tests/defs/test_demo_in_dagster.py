"""After `eda-lake demo`, the instance the UI reads holds the lake's materializations, with
the tables' real row counts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.instance.ref import InstanceRef

from eda_lake.demo import run_demo
from eda_lake.lake import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings


def _rows(uri: str) -> int:
    table = tables.open_table(uri)
    assert table is not None
    return int(tables.query("SELECT count(*) AS n FROM t", t=table).column("n")[0].as_py())


def test_the_demo_is_recorded_in_the_instance_at_dagster_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    report = run_demo(settings, customers=80, seed=3)
    assert report.chain.customers == 80 and report.bronze.rows > 0
    assert settings.dagster_home == tmp_path / "home" / "dagster_home"  # the default
    layout = LakeLayout(settings.lake_dir)
    ref = InstanceRef.from_dir(str(settings.dagster_home))
    with dg.DagsterInstance.from_ref(ref) as instance:

        def latest(*path: str) -> dict[str, object]:
            event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
            assert event is not None and event.asset_materialization is not None, path
            return {k: v.value for k, v in event.asset_materialization.metadata.items()}

        assert latest("bronze", "events")["dagster/row_count"] == _rows(layout.bronze_uri)
        funnel = latest("gold", "funnel_daily")
        assert funnel["dagster/row_count"] == _rows(layout.table_uri("gold", "funnel_daily"))
        assert latest("silver", "customers")["dagster/row_count"] == 80
        for asset in ("capture_destination", "event_hubs", "consumer_groups"):
            assert latest(asset)["target"] == "local"
        assert latest("hub", "customer_created")["events_in_run"] == 80  # the teams' run
        assert latest("capture", "files")["events_in_run"] == report.capture.events
        runs = {run.job_name for run in instance.get_runs()}
        assert {"provision_platform", "demo_job", "ingest_job", "gold_job"} <= runs
