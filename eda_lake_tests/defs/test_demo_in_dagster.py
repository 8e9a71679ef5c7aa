"""After `eda-lake demo`, the instance the UI reads holds the lake's materializations, with
the tables' real row counts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from eda_lake.demo import run_demo
from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings


def _rows(uri: str) -> int:
    table = tables.open_table(uri)
    assert table is not None
    return int(tables.query("SELECT count(*) AS n FROM t", t=table).column("n")[0].as_py())


def test_the_demo_is_recorded_in_the_instance_at_dagster_home(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=tmp_path / "home")
    report = run_demo(settings, customers=80, seed=3)
    assert report.chain.customers == 80 and report.bronze.rows > 0
    assert report.events_before == 0
    said = capfd.readouterr()
    # Dagster's log of every step is left to --verbose: a person reads the summary.
    assert "STEP_START" not in said.err + said.out and " - DEBUG - " not in said.err + said.out
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


def test_a_second_demo_in_one_home_says_what_it_held_and_verbose_shows_the_steps(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=tmp_path / "home")
    first = run_demo(settings, customers=10, seed=3)
    capfd.readouterr()
    again = run_demo(settings, customers=10, seed=4, verbose=True)
    assert again.events_before == first.bronze.rows > 0
    said = capfd.readouterr()
    assert "STEP_START" in said.err + said.out
