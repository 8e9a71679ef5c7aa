"""Gold's partitions are kept in the order their days were added, not by date: a range is
taken by that order, and one that holds no day fails in one line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from eda_lake.defs.build import build_definitions
from eda_lake.defs.lake.assets import GOLD_DAYS_NAME
from eda_lake.demo import spanning


def test_a_range_spans_the_days_in_the_order_they_were_added() -> None:
    keys = ["2026-10-01", "2026-10-08", "2026-10-13", "2026-10-03", "2026-10-12"]
    assert spanning(keys, ["2026-10-12", "2026-10-03"]) == ("2026-10-03", "2026-10-12")
    assert spanning(keys, ["2026-10-03", "2026-10-13"]) == ("2026-10-13", "2026-10-03")


def test_a_range_that_holds_no_day_fails_in_one_line(tmp_path: Path) -> None:
    defs = build_definitions(
        {"EDA_LAKE_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    )
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(GOLD_DAYS_NAME, ["2026-10-14", "2026-10-03"])
        result = defs.resolve_job_def("gold_job").execute_in_process(
            instance=instance,
            tags={  # by date, the range of both; by the order they were added, of none
                "dagster/asset_partition_range_start": "2026-10-03",
                "dagster/asset_partition_range_end": "2026-10-14",
            },
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert "holds no day" in message and "order they were added" in message


def test_gold_runs_by_hand_or_automation_are_queued_one_at_a_time(tmp_path: Path) -> None:
    import yaml

    from eda_lake.defs.lake.jobs import GOLD_TAGS, gold_automation_sensor
    from eda_lake.settings import REPO_ROOT

    defs = build_definitions({"EDA_LAKE_HOME": str(tmp_path / "home")})
    assert GOLD_TAGS.items() <= defs.resolve_job_def("gold_job").tags.items()
    assert GOLD_TAGS.items() <= (gold_automation_sensor.run_tags or {}).items()
    shipped = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    [(key, value)] = GOLD_TAGS.items()
    limits = shipped["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": key, "value": value, "limit": 1} in limits
