"""What a Dagster user sees: the lineage, the standard metadata, a clean first start, and a
gold run refused without a day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from eda_lake.catalogue import load_catalogue
from eda_lake.defs.build import build_definitions
from eda_lake.lake import dictionary
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY, add_gold_days, tick
from eda_lake_tests.simulation.helpers import captured_chain


def _environment(home: Path) -> dict[str, str]:
    return {"EDA_LAKE_HOME": str(home), "EDA_LAKE_PII_KEY": TEST_PII_KEY}


@pytest.fixture
def defs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    """The definitions as `make dev` loads them, the environment set (secrets resolve from
    it at run time)."""
    for name, value in _environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    return build_definitions()


def _materializations(result: Any) -> dict[str, Any]:
    return {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }


def _key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.replace(".", "/").split("/"))


def test_the_lineage_tells_the_story(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    deps = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
            for key in graph.get_all_asset_keys()}  # fmt: skip
    assert deps["schema_registry"] == {"capture_destination"}  # Azure: the resource group first
    assert deps["event_hubs"] == {"schema_registry", "capture_destination"}
    assert deps["hub/customer_created"] == {"event_hubs"}  # platform provisions each hub
    hubs = {k for k in deps if k.startswith("hub/")}
    assert deps["capture/files"] == {"capture_destination", *hubs}  # platform made its home
    assert deps["bronze/events"] == {"capture/files"}
    assert deps["silver/customer_created"] == {"bronze/events"}
    for declared in (*ENTITY_TABLES, *GOLD_TABLES):  # exactly the tables its SQL reads
        assert deps[f"{declared.layer}/{declared.name}"] == {
            s.replace(".", "/") for s in declared.sources
        }
    assert deps["silver/products"] == {"silver/product_updated"}

    lake = [k for k in deps if k.split("/")[0] in {"hub", "bronze", "silver", "gold"}]
    descriptions = [graph.get(_key(k)).description for k in lake]
    assert len(set(descriptions)) == len(descriptions)  # each its own
    hub = graph.get(_key("hub/customer_created"))
    assert hub.description and "signed up" in hub.description  # from the .avsc doc
    assert hub.owners == ["team:customer"]
    assert graph.get(_key("gold/funnel_daily")).owners == ["team:conversions"]
    for key in lake:
        node = graph.get(_key(key))
        assert node.owners and node.owners[0].startswith("team:"), key
        assert {"layer", "domain"} <= set(node.tags), key
    assert "azure" not in graph.get(_key("lifecycle_enforcement")).kinds
    assert graph.get(_key("silver/customers")).kinds == {"deltalake"}


def _populated(home: Path, customers: int = 60) -> None:
    settings = Settings(home=home)
    captured_chain(settings, seed=5, customers=customers)


def test_standard_metadata_is_the_whole_table_after_the_commit(
    defs: dg.Definitions, tmp_path: Path
) -> None:
    _populated(tmp_path)
    ingest = defs.resolve_job_def("ingest_job")
    with dg.instance_for_test() as instance:
        first = _materializations(ingest.execute_in_process(instance=instance))
        again = _materializations(ingest.execute_in_process(instance=instance))  # nothing new
    layout = LakeLayout(tmp_path / "lake")
    bronze = tables.open_table(layout.bronze_uri)
    assert bronze is not None
    rows = tables.query("SELECT count(*) AS n FROM b", b=bronze).column("n")[0].as_py()
    assert rows > 0
    for seen in (first, again):
        assert seen["bronze/events"]["dagster/row_count"].value == rows  # not the run's rows
    assert again["bronze/events"]["rows_in_run"].value == 0
    assert first["bronze/events"]["dagster/uri"].value == layout.bronze_uri
    # bronze's preview: what each event is and how big, never what a producer sent
    bronze_preview = first["bronze/events"]["preview"].value
    shown = {c.name for c in bronze_preview.schema.columns}
    assert {"ce_type", "ce_source", "body_bytes", "properties"} <= shown
    assert {"body", "partition_key"}.isdisjoint(shown)
    assert all(set(r.data) == shown for r in bronze_preview.records)

    customers = first["silver/customer_created"]
    schema = customers["dagster/column_schema"].value
    columns = {c.name: c for c in schema.columns}
    assert columns["country"].description == "ISO 3166-1 alpha-2 country code."  # .avsc doc
    preview = customers["preview"].value
    assert {c.name for c in preview.schema.columns} == set(columns)  # every column
    assert 0 < len(preview.records) <= 10
    entity = first["silver/customers"]
    table = tables.open_table(layout.table_uri("silver", "customers"))
    assert table is not None
    assert entity["dagster/row_count"].value == 60
    cohort = entity["dagster/column_schema"].value.columns
    assert any(c.description.startswith("UTC day the customer signed up") for c in cohort)

    gold = defs.resolve_job_def("gold_job")
    day = "2026-10-01"
    instance = dg.DagsterInstance.ephemeral()
    add_gold_days(instance, [day])
    result = gold.execute_in_process(partition_key=day, instance=instance)
    gold_tables = _materializations(result)
    funnel = gold_tables["gold/funnel_daily"]
    funnel_table = tables.open_table(layout.table_uri("gold", "funnel_daily"))
    assert funnel_table is not None
    per_day = tables.query(
        f"SELECT count(*) AS n FROM f WHERE cohort_date = DATE '{day}'", f=funnel_table
    )
    assert funnel["dagster/partition_row_count"].value == per_day.column("n")[0].as_py()
    assert funnel["dagster/row_count"].value >= funnel["dagster/partition_row_count"].value
    # every column of every table the runs materialized shows its dictionary description
    materialized = {**first, **gold_tables}
    assert {"bronze/events", "silver/leads", "gold/sales_daily"} <= set(materialized)
    catalogue = load_catalogue(Settings(home=tmp_path).schema_dir)
    for key, seen in materialized.items():
        expected = dictionary.column_descriptions(key.replace("/", "."), catalogue)
        in_ui = {c.name: c.description for c in seen["dagster/column_schema"].value.columns}
        assert in_ui == {name: expected.get(name, "(none)") for name in in_ui}, key


def test_gold_partitions_are_the_days_with_events(defs: dg.Definitions, tmp_path: Path) -> None:
    gold_days_sensor = defs.resolve_sensor_def("gold_days_sensor")
    resources = {"eda_lake": (defs.resources or {})["eda_lake"]}
    with dg.instance_for_test() as instance:
        empty = tick(gold_days_sensor, resources, instance=instance)
        assert not empty.dynamic_partitions_requests  # no events, no day
        assert "gold is current" in (empty.skip_reason.skip_message or "")
        _populated(tmp_path)
        assert defs.resolve_job_def("ingest_job").execute_in_process(instance=instance).success
        added = tick(gold_days_sensor, resources, instance=instance)
        [request] = added.dynamic_partitions_requests
        lake = Lake(Settings(home=tmp_path))
        days = sorted(lake.gold_pending_days())
        assert request.partition_keys == [d.isoformat() for d in days]
        assert (days[-1] - days[0]).days + 1 > len(days)  # a day without events is none
        add_gold_days(instance, list(request.partition_keys))
        known = tick(gold_days_sensor, resources, instance=instance)
        assert not known.dynamic_partitions_requests  # each day once
        assert "gold partitions already" in (known.skip_reason.skip_message or "")
    lake.gold()  # counted outside Dagster: nothing is pending any more
    with dg.instance_for_test() as fresh:  # an instance that never had gold's days
        held = tick(gold_days_sensor, resources, instance=fresh)
        [request] = held.dynamic_partitions_requests
        assert request.partition_keys == [d.isoformat() for d in days]  # the days gold holds
        add_gold_days(fresh, list(request.partition_keys))
        later = tick(gold_days_sensor, resources, instance=fresh)  # each held day once
        assert not later.dynamic_partitions_requests
        assert "gold is current" in (later.skip_reason.skip_message or "")


def test_gold_without_a_partition_is_refused_with_the_way_out(defs: dg.Definitions) -> None:
    gold = defs.resolve_job_def("gold_job")
    with pytest.raises(dg.Failure, match="choose a partition or a range of days"):
        gold.execute_in_process(instance=dg.DagsterInstance.ephemeral())


def test_a_fresh_home_runs_no_failing_default_sensor_or_schedule(defs: dg.Definitions) -> None:
    """As `make dev` starts: every sensor and schedule on by default evaluates without error,
    and the runs they ask for succeed; what needs configuration is off without it."""
    repository = defs.get_repository_def()
    resources = {"eda_lake": (defs.resources or {})["eda_lake"]}
    requested: list[tuple[str | None, dg.RunRequest]] = []
    with dg.instance_for_test() as instance:
        for sensor in repository.sensor_defs:
            if sensor.default_status is not dg.DefaultSensorStatus.RUNNING:
                assert sensor.name == "capture_notifications_sensor"  # no queue configured
                continue
            if isinstance(sensor, dg.AutomationConditionSensorDefinition):  # the daemon's
                evaluated = dg.evaluate_automation_conditions(defs=defs, instance=instance)
                assert evaluated.total_requested == 0, sensor.name  # no silver, no gold
                continue
            if isinstance(sensor, dg.RunStatusSensorDefinition):  # watches runs' outcomes
                with dg.build_sensor_context(
                    instance=instance, resources=resources, repository_def=repository
                ) as context:
                    ticked = sensor.evaluate_tick(context)
                assert not ticked.run_requests, sensor.name  # a fresh home has no failed run
                continue
            result = tick(sensor, resources, instance=instance)
            if isinstance(result, dg.SensorResult):
                requested += [(sensor.job_name, r) for r in result.run_requests or []]
        for schedule in repository.schedule_defs:
            assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING
            with dg.build_schedule_context(instance=instance, resources=resources) as context:
                data = schedule.evaluate_tick(context)
            assert data.skip_message or data.run_requests, schedule.name
            if schedule.name == "simulation_schedule":
                assert "provision_platform" in (data.skip_message or "")
            requested += [(schedule.job_name, r) for r in data.run_requests or []]
        assert {job for job, _ in requested} >= {"ingest_job"}
        for job_name, request in requested:
            assert job_name is not None
            job = defs.resolve_job_def(job_name)
            run = job.execute_in_process(
                run_config=request.run_config, tags=request.tags, instance=instance
            )
            assert run.success, job_name
