from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dagster as dg
import pytest
from dagster._core.definitions.declarative_automation.automation_condition_tester import (
    EvaluateAutomationConditionsResult,
)

from eda_lake.capture.runtime import run_capture
from eda_lake.defs.lake.assets import BRONZE, WRITER_TAGS
from eda_lake.defs.lake.checks import BLOCKING_CHECKS, quarantine_rate
from eda_lake.defs.lake.event_index import EVENT_INDEX, event_index
from eda_lake.defs.lake.jobs import RANGE_END, RANGE_START, capture_files_sensor
from eda_lake.defs.lake.maintenance import bronze_compaction, lake_vacuum, lifecycle_enforcement
from eda_lake.defs.teams.checks import dead_letter_rate
from eda_lake.lake import checks as lake_checks
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.gold import held_days
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import (
    TEST_PII_KEY,
    add_gold_days,
    pending_gold_run_tags,
    resource,
    tick,
)
from eda_lake_tests.simulation.helpers import captured_chain, provisioned

KEY = TEST_PII_KEY


def _populate(home: Path, customers: int = 150) -> None:
    settings = Settings(home=home)
    captured_chain(settings, seed=4, customers=customers)


def test_sensor_requests_each_new_file_once_then_the_run_lands_them(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    _populate(tmp_path)
    resources = {"eda_lake": resource(tmp_path)}
    result = tick(capture_files_sensor, resources)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    files = request.run_config["ops"]["bronze__events"]["config"]["files"]
    assert len(files) == 28  # 7 hubs x 4 partitions, one window
    again = tick(capture_files_sensor, resources, result.cursor)
    assert isinstance(again, dg.SensorResult) and not again.run_requests  # nothing repeated
    assert again.skip_reason is not None
    assert "no new capture file under" in (again.skip_reason.skip_message or "")

    with dg.instance_for_test() as instance:
        # gold's automation, evaluated as it is before any run: nothing to do yet
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert before.total_requested == 0
        job = defs.resolve_job_def("ingest_job")
        run = job.execute_in_process(
            run_config=request.run_config, resources=resources, instance=instance
        )
        assert run.success
        bronze = run.asset_materializations_for_node("bronze__events")[0].metadata
        assert bronze["files_ingested"].value == 28
        silver = [m for m in run.get_asset_materialization_events() if m.asset_key is not None]
        assert {m.asset_key.path[0] for m in silver if m.asset_key} == {"bronze", "silver"}

        # then gold: the business days the new events touched become its partitions ...
        gold_days_sensor = defs.resolve_sensor_def("gold_days_sensor")
        added = tick(gold_days_sensor, resources, instance=instance)
        assert isinstance(added, dg.SensorResult) and not added.run_requests
        [partitions] = added.dynamic_partitions_requests or []
        assert isinstance(partitions, dg.AddDynamicPartitionsRequest)
        days = list(partitions.partition_keys)
        assert days[0] == "2026-10-01" and days == sorted(days)
        add_gold_days(instance, days)
        # ... and gold follows silver, over every partition, recomputing the touched days
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=before.cursor
        )
        for table in ("funnel_daily", "sales_daily", "time_to_convert", "abandoned_customers"):
            assert evaluation.get_num_requested(dg.AssetKey(["gold", table])) == len(days)
        gold_run = defs.resolve_job_def("gold_job").execute_in_process(
            tags=pending_gold_run_tags(days), resources=resources, instance=instance
        )
        assert gold_run.success
        materialized = gold_run.get_asset_materialization_events()
        assert {m.asset_key.path[1] for m in materialized if m.asset_key} == {
            "funnel_daily", "sales_daily", "time_to_convert", "abandoned_customers",
        }  # fmt: skip
        assert {m.partition for m in materialized} == set(days)  # each day, by partition
        caught_up = tick(gold_days_sensor, resources, instance=instance)
        assert isinstance(caught_up, dg.SensorResult) and not caught_up.dynamic_partitions_requests
        assert caught_up.skip_reason is not None
        assert "gold is current" in (caught_up.skip_reason.skip_message or "")
        again = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=evaluation.cursor
        )
        assert again.total_requested == 0  # nothing changed in silver since


def _gold_customers(home: Path) -> int:
    funnel = tables.open_table(
        LakeLayout.from_settings(Settings(home=home)).table_uri("gold", "funnel_daily")
    )
    assert funnel is not None
    return int(tables.query("SELECT sum(customers) AS n FROM f", f=funnel).to_pylist()[0]["n"])


GOLD = ("funnel_daily", "sales_daily", "time_to_convert", "abandoned_customers")


@dataclass
class GoldWithDays:
    """A lake gold has counted, its days partitions, and the next window's files requested."""

    days: list[str]
    settled: EvaluateAutomationConditionsResult  # gold's automation once gold was current
    customers: int  # gold's funnel count before the new window
    request: dg.RunRequest


def _gold_with_days(home: Path, instance: dg.DagsterInstance) -> GoldWithDays:
    from eda_lake.definitions import defs

    _populate(home, customers=20)  # over fewer days than the next window's 40
    resources = {"eda_lake": resource(home)}
    first = tick(capture_files_sensor, resources, instance=instance)
    [request] = first.run_requests
    assert request.job_name == "ingest_job"  # no gold day yet: gold follows on its own
    ingest = defs.resolve_job_def("ingest_job")
    assert ingest.execute_in_process(
        run_config=request.run_config, resources=resources, instance=instance
    ).success
    days = [d.isoformat() for d in sorted(Lake(Settings(home=home)).gold_pending_days())]
    add_gold_days(instance, days)
    assert (
        defs.resolve_job_def("gold_job")
        .execute_in_process(
            tags=pending_gold_run_tags(days), resources=resources, instance=instance
        )
        .success
    )
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    customers = _gold_customers(home)
    captured_chain(Settings(home=home), seed=5, customers=40)  # a new window's files
    second = tick(capture_files_sensor, resources, first.cursor, instance=instance)
    [request] = second.run_requests
    return GoldWithDays(days, settled, customers, request)


def test_once_gold_has_days_new_files_reach_gold_in_their_ingestion_run(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    resources = {"eda_lake": resource(tmp_path)}
    with dg.instance_for_test() as instance:
        lake = _gold_with_days(tmp_path, instance)
        days, request = lake.days, lake.request
        assert request.job_name == "ingest_to_gold_job"
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == (days[0], days[-1])
        run = defs.resolve_job_def("ingest_to_gold_job").execute_in_process(
            run_config=request.run_config, tags=request.tags, resources=resources, instance=instance
        )
        assert run.success
        keys = [(m.asset_key, m.partition) for m in run.get_asset_materialization_events()]
        assert {(k.path[1], day) for k, day in keys if k and k.path[0] == "gold"} == {
            (table, day) for table in GOLD for day in days
        }
        # the new customers are in gold after this one run, and gold's automation, which
        # would otherwise launch a run of its own, finds nothing left to do
        assert _gold_customers(tmp_path) == lake.customers + 40
        assert not Lake(Settings(home=tmp_path)).gold_pending_days()
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=lake.settled.cursor
        )
        assert [after.get_num_requested(dg.AssetKey(["gold", t])) for t in GOLD] == [0] * 4
        # the new population's days gold now holds become partitions, though no silver row
        # waits for gold any more
        held = {d.isoformat() for d in held_days(LakeLayout.from_settings(Settings(home=tmp_path)))}
        assert held - set(days)  # the new population has days of its own
        gold_days_sensor = defs.resolve_sensor_def("gold_days_sensor")
        added = tick(gold_days_sensor, resources, instance=instance)
        [partitions] = added.dynamic_partitions_requests or []
        assert sorted(partitions.partition_keys) == sorted(held - set(days))


def test_gold_waits_in_the_ingestion_run_while_a_blocking_check_fails_as_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eda_lake.definitions import defs

    resources = {"eda_lake": resource(tmp_path)}
    with dg.instance_for_test() as instance:
        lake = _gold_with_days(tmp_path, instance)
        # another writer run not started yet, which may land the missing rows: the reference
        # check's failure is a warning, and the run goes on
        waiting = defs.resolve_job_def("ingest_job")
        instance.create_run_for_job(
            waiting, tags=WRITER_TAGS, status=dg.DagsterRunStatus.NOT_STARTED
        )
        dangling = lake_checks.CheckOutcome(False, "3 leads.customer_id not in customers")
        monkeypatch.setattr(lake_checks, "references_exist", lambda *_, **__: dangling)
        run = defs.resolve_job_def("ingest_to_gold_job").execute_in_process(
            run_config=lake.request.run_config,
            tags=lake.request.tags,
            resources=resources,
            instance=instance,
        )
        assert run.success
        failed = [e for e in run.get_asset_check_evaluations() if not e.passed]
        assert failed and all(e.severity == dg.AssetCheckSeverity.WARN for e in failed)
        materialized = {m.asset_key for m in run.get_asset_materialization_events()}
        assert not {dg.AssetKey(["gold", t]) for t in GOLD} & materialized
        assert _gold_customers(tmp_path) == lake.customers  # gold as it was
        assert Lake(Settings(home=tmp_path)).gold_pending_days()  # left to the awaited writer
        after = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=lake.settled.cursor
        )
        assert [after.get_num_requested(dg.AssetKey(["gold", t])) for t in GOLD] == [0] * 4


def test_checks_pass_on_a_healthy_lake(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    _populate(tmp_path)
    resources = {"eda_lake": resource(tmp_path)}
    run = defs.resolve_job_def("ingest_job").execute_in_process(resources=resources)
    assert run.success
    checks = [*BLOCKING_CHECKS, quarantine_rate, dead_letter_rate]
    names = {key.name for check in checks for key in check.check_keys}
    assert {
        "customer_id_unique_not_null",
        "lead_id_refers_to_leads",
        "quarantine_rate",
        "dead_letter_rate",
    } <= names
    evaluated = {e.check_name: e for e in run.get_asset_check_evaluations()}  # as the run ran them
    for name in names:
        assert evaluated[name].passed, (name, evaluated[name].description)


def test_compaction_and_lifecycle_assets(tmp_path: Path) -> None:
    resources = {"eda_lake": resource(tmp_path)}
    for seed in (1, 2, 3):  # three ingestions: several small files per partition-day
        settings = Settings(home=tmp_path)
        simulation = provisioned(settings)
        simulation.publish_customers(seed=seed, count=30)
        run_capture(settings, flush=True)
        Lake(settings, pii_key=KEY).ingest()
    result = dg.materialize([bronze_compaction, lifecycle_enforcement], resources=resources)
    assert result.success
    compaction = result.asset_materializations_for_node("bronze_compaction")[0].metadata
    assert cast(int, compaction["files_removed"].value) >= 3
    lifecycle = result.asset_materializations_for_node("lifecycle_enforcement")[0].metadata
    assert lifecycle["deleted"].value == 0  # nothing is old enough yet
    vacuum = dg.materialize([lake_vacuum], resources=resources)
    assert vacuum.success  # the files compaction replaced are kept for the retention
    vacuumed = vacuum.asset_materializations_for_node("lake_vacuum")[0].metadata
    assert vacuumed["files_deleted_in_run"].value == 0
    too_short = dg.materialize(
        [lake_vacuum],
        resources=resources,
        run_config={"ops": {"lake_vacuum": {"config": {"retention_hours": 0}}}},
        raise_on_error=False,
    )
    assert not too_short.success


def test_the_event_index_follows_each_bronze_commit(tmp_path: Path) -> None:
    from eda_lake.definitions import defs

    _populate(tmp_path, customers=10)
    lake = Lake(Settings(home=tmp_path), pii_key=KEY)
    ingested = lake.ingest().rows
    with dg.instance_for_test() as instance:
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert evaluation.get_num_requested(EVENT_INDEX) == 0  # bronze never materialized
        instance.report_runless_asset_event(dg.AssetMaterialization(BRONZE))
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=evaluation.cursor
        )
        assert evaluation.get_num_requested(EVENT_INDEX) == 1
        result = dg.materialize(
            [event_index], resources={"eda_lake": resource(tmp_path)}, instance=instance
        )
        assert result.success
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=evaluation.cursor
        )
        assert evaluation.get_num_requested(EVENT_INDEX) == 0  # up to date with bronze
    metadata = result.asset_materializations_for_node(event_index.op.name)[0].metadata
    assert metadata["events_in_run"].value == ingested > 0
    again = dg.materialize([event_index], resources={"eda_lake": resource(tmp_path)})
    assert (
        again.asset_materializations_for_node(event_index.op.name)[0]
        .metadata["events_in_run"]
        .value
        == 0
    )  # nothing indexed twice
