from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from eda_lake.defs.platform.assets import PLATFORM_ASSETS
from eda_lake.defs.resources import eda_lake_resource
from eda_lake.settings import HOME_VAR
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
    for _ in range(2):
        result = dg.materialize(PLATFORM_ASSETS, resources=resources)
        assert result.success
    metadata = result.asset_materializations_for_node("consumer_groups")[0].metadata
    assert "customer-created" in str(metadata["consumer_groups"].value)
    assert (tmp_path / "lake" / "capture").is_dir()


def test_simulation_tick_runs_the_chain(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    resources = {"eda_lake": resource(tmp_path)}
    assert dg.materialize(PLATFORM_ASSETS, resources=resources).success
    job = defs.get_job_def("simulation_tick_job")
    result = job.execute_in_process(
        run_config={"ops": {"publish_population": {"config": {"customers": 120, "seed": 3}}}},
        resources=resources,
    )
    assert result.success
    assert result.output_for_node("publish_population") == 128  # 8 products + 120 customers
    assert result.output_for_node("conversions_leads") == 120
    # each team's run materialized the hubs it published into, with the events it sent
    materialized = {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }
    assert materialized["hub/customer_created"]["events_in_run"].value == 120
    assert materialized["hub/product_updated"]["published_by"].value == "product"
    assert materialized["hub/customer_created"]["outbox_pending"].value == 0  # all relayed
    assert materialized["hub/customer_created"]["outbox_oldest_pending_age_s"].value == 0.0
    assert "hub/lead_generated" in materialized


def test_schedule_waits_for_the_platform_then_asks_for_a_new_population_each_tick(
    tmp_path: Path,
) -> None:
    from datetime import datetime

    from eda_lake.defs.teams.schedules import simulation_schedule

    resources = {"eda_lake": resource(tmp_path)}
    with dg.build_schedule_context(
        resources=resources, scheduled_execution_time=datetime(2026, 11, 1, 12, 5)
    ) as context:
        waiting = simulation_schedule(context)
    assert isinstance(waiting, dg.SkipReason)  # a fresh home: nothing provisioned yet
    assert "provision_platform" in (waiting.skip_message or "")
    assert dg.materialize(PLATFORM_ASSETS, resources=resources).success
    with dg.build_schedule_context(
        resources=resources, scheduled_execution_time=datetime(2026, 11, 1, 12, 5)
    ) as context:
        request = simulation_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert request.run_config["ops"]["publish_population"]["config"]["customers"] == 50


def test_resource_reads_environment_through_envvar(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "from-env"))
    with dg.build_resources({"eda_lake": eda_lake_resource()}) as built:
        assert built.eda_lake.settings().home == tmp_path / "from-env"
        simulation: Simulation = built.eda_lake.simulation()
        simulation.close()


def test_a_failed_publish_shows_the_events_its_outbox_still_holds(tmp_path: Path) -> None:
    """Hubs not made yet: Product stores its catalogue, the relay cannot send it, the op
    fails, and the hub asset is observed with what is pending and its age."""
    from eda_lake.definitions import defs
    from eda_lake.defs.platform.assets import capture_destination, schema_registry

    resources = {"eda_lake": resource(tmp_path)}
    assert dg.materialize([capture_destination, schema_registry], resources=resources).success
    instance = dg.DagsterInstance.ephemeral()
    result = defs.get_job_def("publish_job").execute_in_process(
        run_config={"ops": {"publish_population": {"config": {"customers": 5, "seed": 3}}}},
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    key = dg.AssetKey.from_user_string("hub/product_updated")
    [record] = instance.fetch_observations(key, limit=1).records
    observation = record.asset_observation
    assert observation is not None
    assert observation.metadata["outbox_pending"].value == 8  # the catalogue, stored, unsent
    age = observation.metadata["outbox_oldest_pending_age_s"].value
    assert isinstance(age, float) and age >= 0
    # no customer was stored: the op failed first, and nothing says otherwise
    customers = dg.AssetKey.from_user_string("hub/customer_created")
    assert not instance.fetch_observations(customers, limit=1).records


def test_the_code_location_loads_no_client_it_does_not_run_with(tmp_path: Path) -> None:
    """Every run and code server loads the definitions: the Azure SDK, Kafka's client and
    the dataframe libraries wait until a step uses them."""
    script = "import sys, eda_lake.definitions\nprint('\\n'.join(sys.modules), file=sys.stderr)\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        env={**os.environ, HOME_VAR: str(tmp_path)},
    )  # fmt: skip
    loaded = {name.split(".")[0] for name in result.stderr.splitlines()}
    heavy = {"azure", "aiohttp", "requests", "confluent_kafka", "duckdb", "pandas", "polars"}
    assert not loaded & heavy, loaded & heavy
