from __future__ import annotations

from pathlib import Path

import dagster as dg

from eda_lake.defs.platform.assets import (
    capture_destination,
    consumer_groups,
    event_hubs,
    schema_registry,
)
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.defs.helpers import resource


def test_code_location_loads() -> None:
    from eda_lake.definitions import defs

    repository = defs.get_repository_def()
    assert {"provision_platform", "simulation_tick_job", "capture_job", "publish_job"} <= {
        job.name for job in repository.get_all_jobs()
    }
    assert repository.get_schedule_def("simulation_schedule")


def test_platform_assets_provision_in_order_and_idempotently(tmp_path: Path) -> None:
    resources = {"eda_lake": resource(tmp_path)}
    assets = [schema_registry, capture_destination, event_hubs, consumer_groups]
    for _ in range(2):
        result = dg.materialize(assets, resources=resources)
        assert result.success
    metadata = result.asset_materializations_for_node("consumer_groups")[0].metadata
    assert "customer-created" in str(metadata["consumer_groups"].value)
    assert (tmp_path / "lake" / "capture").is_dir()


def test_simulation_tick_runs_the_chain_and_captures(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    resources = {"eda_lake": resource(tmp_path)}
    assert dg.materialize(
        [schema_registry, capture_destination, event_hubs, consumer_groups], resources=resources
    ).success
    job = defs.get_job_def("simulation_tick_job")
    result = job.execute_in_process(
        run_config={
            "ops": {
                "publish_population": {"config": {"customers": 120, "seed": 3}},
                "capture_windows": {"config": {"flush": True}},
            }
        },
        resources=resources,
    )
    assert result.success
    assert result.output_for_node("publish_population") == 128  # 8 products + 120 customers
    assert result.output_for_node("conversions_leads") == 120
    assert result.output_for_node("capture_windows") > 128
    assert list((tmp_path / "lake" / "capture").rglob("*.avro"))


def test_schedule_asks_for_a_new_population_each_tick() -> None:
    from eda_lake.defs.teams.schedules import simulation_schedule

    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 11, 1, 12, 5)
    )
    request = simulation_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"]["publish_population"]["config"]["customers"] == 50


def test_resource_reads_environment_through_envvar(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "from-env"))
    with dg.build_resources({"eda_lake": eda_lake_resource()}) as built:
        assert built.eda_lake.settings().home == tmp_path / "from-env"
        simulation: Simulation = built.eda_lake.simulation()
        simulation.close()
