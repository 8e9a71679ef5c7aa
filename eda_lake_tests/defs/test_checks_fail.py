"""Every check passes on a healthy lake and fails on a lake broken the way it guards against;
a failed blocking check makes gold wait, a passed one lets it go."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from deltalake import write_deltalake

from eda_lake.defs.lake.assets import silver_key
from eda_lake.defs.lake.checks import (
    BLOCKING_CHECKS,
    GOLD_CHECKS,
    GOLD_RULES,
    KEY_CHECKS,
    REFERENCE_CHECKS,
    GoldRule,
    gold_violations,
    quarantine_rate,
)
from eda_lake.defs.teams.checks import dead_letter_rate
from eda_lake.lake.delta import tables
from eda_lake.lake.derived.declarations import ENTITY_TABLES
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake.simulation.dead_letters import DeadLetterStore
from eda_lake_tests.defs.helpers import TEST_PII_KEY, add_gold_days, copy_home, resource

# The checks on the whole of a table; a gold check runs on the days of a gold run's partitions.
TABLE_CHECKS = [*KEY_CHECKS, *REFERENCE_CHECKS, quarantine_rate, dead_letter_rate]


def _outcome(
    check: dg.AssetChecksDefinition, home: Path, instance: dg.DagsterInstance | None = None
) -> dg.AssetCheckResult:
    """The check as a run evaluates it, in `instance` (an empty one by default)."""
    if check in (quarantine_rate, dead_letter_rate):  # they read the lake alone
        return cast(dg.AssetCheckResult, check(eda_lake=resource(home)))
    with ExitStack() as stack:
        on = instance or stack.enter_context(dg.instance_for_test())
        context = dg.build_asset_check_context(resources={"eda_lake": resource(home)}, instance=on)
        return cast(dg.AssetCheckResult, check(context))


def _name(check: dg.AssetChecksDefinition) -> str:
    return next(iter(check.check_keys)).name


def _uri(home: Path, area: str, name: str) -> str:
    layout = LakeLayout(home / "lake")
    return layout.bronze_uri if area == "bronze" else layout.table_uri(area, name)


def _table(home: Path, area: str, name: str) -> pa.Table:
    found = tables.open_table(_uri(home, area, name))
    assert found is not None
    return tables.query("SELECT * FROM t", t=found)


def _append(home: Path, area: str, name: str, rows: pa.Table) -> None:
    write_deltalake(_uri(home, area, name), rows, mode="append")


def _overwrite(home: Path, area: str, name: str, rows: pa.Table) -> None:
    write_deltalake(_uri(home, area, name), rows, mode="overwrite")


def _set(rows: pa.Table, column: str, value: Any) -> pa.Table:
    index = rows.schema.get_field_index(column)
    return rows.set_column(
        index, column, pa.array([value] * rows.num_rows, rows.schema[index].type)
    )


def _gold_run_checks(home: Path, day: str) -> dict[str, dg.AssetCheckEvaluation]:
    """The gold checks of a gold_job run of one day's partition, by name (Dagster 1.13 runs a
    partitioned check only beside its asset: a job of the checks alone has no partitions)."""
    from eda_lake.definitions import defs

    with dg.instance_for_test() as instance:
        add_gold_days(instance, [day])
        run = defs.resolve_job_def("gold_job").execute_in_process(
            partition_key=day, resources={"eda_lake": resource(home)}, instance=instance
        )
    return {evaluation.check_name: evaluation for evaluation in run.get_asset_check_evaluations()}


def test_every_check_passes_on_the_healthy_lake(healthy: Path, tmp_path: Path) -> None:
    home = copy_home(healthy, tmp_path)
    for check in TABLE_CHECKS:
        outcome = _outcome(check, home)
        assert outcome.passed, (_name(check), outcome.description)
    funnel = _table(home, "gold", "funnel_daily")
    first = funnel["cohort_date"][0]
    rows = funnel.filter(pc.equal(funnel["cohort_date"], first)).num_rows
    day = first.as_py().isoformat()
    evaluations = _gold_run_checks(home, day)
    assert set(evaluations) == {_name(check) for check in GOLD_CHECKS}
    for name, evaluation in evaluations.items():  # on that day's partition, of its rows
        assert evaluation.passed and evaluation.partition == day, name
        assert evaluation.description == f"0 of {rows} rows of {day} break it"


@pytest.mark.parametrize("check", KEY_CHECKS, ids=_name)
def test_a_duplicated_key_fails_its_check(
    check: dg.AssetChecksDefinition, healthy: Path, tmp_path: Path
) -> None:
    home = copy_home(healthy, tmp_path)
    entity = next(iter(check.check_keys)).asset_key.path[-1]
    rows = _table(home, "silver", entity)
    _append(home, "silver", entity, rows.slice(0, 1))  # the same key twice
    outcome = _outcome(check, home)
    assert not outcome.passed, outcome.description


@pytest.mark.parametrize("check", REFERENCE_CHECKS, ids=_name)
def test_a_dangling_reference_fails_its_check(
    check: dg.AssetChecksDefinition, healthy: Path, tmp_path: Path
) -> None:
    home = copy_home(healthy, tmp_path)
    key = next(iter(check.check_keys))
    child = key.asset_key.path[-1]
    column = key.name.split("_refers_to_")[0]
    rows = _table(home, "silver", child)
    rows = rows.filter(pc.invert(pc.is_null(rows[column]))).slice(0, 1)
    _append(home, "silver", child, _set(rows, column, "00000000-0000-4000-8000-00000000dead"))
    outcome = _outcome(check, home)
    assert not outcome.passed, outcome.description
    assert outcome.severity == dg.AssetCheckSeverity.ERROR  # the run fails: nothing can land it


def test_a_dangling_reference_warns_while_other_writer_runs_may_land_it(
    healthy: Path, tmp_path: Path
) -> None:
    home, check = _purchases_of_sales_not_landed(healthy, tmp_path)
    with dg.instance_for_test() as instance:
        _running(instance, {"lake": "gold"}, materialized=[])  # lands no sales
        _running(instance, {"lake": "writer"}, materialized=["orders"])  # sales still to come
        waiting = _outcome(check, home, instance)
        assert not waiting.passed  # gold still waits for it
        assert waiting.severity == dg.AssetCheckSeverity.WARN  # but this run succeeds
        assert waiting.description == (
            "2 purchases row(s) refer to a missing sales, for now: 1 other lake writer run(s) "
            "in flight may still land silver/sales"
        )


def test_a_dangling_reference_fails_once_no_writer_in_flight_can_land_it(
    healthy: Path, tmp_path: Path
) -> None:
    home, check = _purchases_of_sales_not_landed(healthy, tmp_path)
    with dg.instance_for_test() as instance:
        _running(instance, {"lake": "writer"}, materialized=["sales"])  # past its sales
        finished = instance.get_run_by_id(_running(instance, {"lake": "writer"}, materialized=[]))
        assert finished is not None
        instance.report_run_canceled(finished)  # no longer in flight
        last = _outcome(check, home, instance)
    assert last.severity == dg.AssetCheckSeverity.ERROR  # the last to check fails its run


def _purchases_of_sales_not_landed(
    healthy: Path, tmp_path: Path
) -> tuple[Path, dg.AssetChecksDefinition]:
    """A copy of the healthy lake with two purchases of a sale silver does not hold, and the
    check that finds them."""
    home = copy_home(healthy, tmp_path)
    check = next(c for c in REFERENCE_CHECKS if _name(c) == "sale_id_refers_to_sales")
    purchases = _table(home, "silver", "purchases")
    _append(home, "silver", "purchases", _set(purchases.slice(0, 2), "sale_id", "not-landed-yet"))
    return home, check


def _running(instance: dg.DagsterInstance, tags: dict[str, str], materialized: list[str]) -> str:
    """A run in flight in `instance`, tagged `tags`, that has materialized the silver tables
    `materialized` so far (or an asset of no lake table)."""
    keys = [silver_key(name) for name in materialized] or [dg.AssetKey("unrelated")]

    @dg.multi_asset(specs=[dg.AssetSpec(key) for key in keys])
    def step() -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
        for key in keys:
            yield dg.MaterializeResult(asset_key=key)

    result = dg.materialize([step], instance=instance, tags=tags)
    start = DagsterEvent(DagsterEventType.RUN_START.value, job_name=result.dagster_run.job_name)
    instance.run_storage.handle_run_event(result.run_id, start)  # running again
    return result.run_id


def test_undecodable_events_fail_the_quarantine_rate(healthy: Path, tmp_path: Path) -> None:
    home = copy_home(healthy, tmp_path)
    bronze = _table(home, "bronze", "events")
    broken = bronze.slice(0, bronze.num_rows // 10)  # 10% of bronze, bodies garbled
    broken = _set(broken, "body", b"\x00not an avro body")
    broken = _set(broken, "source_file", "broken/on/purpose.avro")
    ids = pa.array(
        [f"broken-{n}" for n in range(broken.num_rows)], broken.schema.field("ce_id").type
    )
    broken = broken.set_column(broken.schema.get_field_index("ce_id"), "ce_id", ids)
    write_deltalake(
        LakeLayout(home / "lake").bronze_uri, broken, mode="append", partition_by=["hub", "date"]
    )
    Lake(Settings(home=home), pii_key=TEST_PII_KEY).silver_events()
    outcome = _outcome(quarantine_rate, home)
    assert not outcome.passed, outcome.description


def test_many_dead_letters_fail_the_dead_letter_rate(healthy: Path, tmp_path: Path) -> None:
    home = copy_home(healthy, tmp_path)
    store = DeadLetterStore(Settings(home=home).simulation_dir / "dead_letters.sqlite3")
    try:
        for n in range(50):
            store.add(
                team="conversions", origin="customer-created", partition_id="0",
                sequence_number=10_000 + n, reason="broken on purpose", body=b"", properties={},
            )  # fmt: skip
    finally:
        store.close()
    outcome = _outcome(dead_letter_rate, home)
    assert not outcome.passed, outcome.description


GOLD_BREAKS: dict[str, Callable[[pa.Table], pa.Table]] = {
    "funnel_stages_add_up": lambda rows: _set(rows, "leads", 10**6),
    "rates_between_0_and_1": lambda rows: _set(rows, "lead_rate", 1.5),
}


@pytest.mark.parametrize("rule", GOLD_RULES, ids=lambda rule: rule.name)
def test_an_inconsistent_funnel_fails_gold_rules_on_its_day_only(
    rule: GoldRule, healthy: Path, tmp_path: Path
) -> None:
    home = copy_home(healthy, tmp_path)
    rows = _table(home, "gold", "funnel_daily").sort_by("cohort_date")
    broken = GOLD_BREAKS[rule.name](rows.slice(0, 1))
    _overwrite(home, "gold", "funnel_daily", pa.concat_tables([broken.cast(rows.schema), rows[1:]]))
    bad_day, good_day = (rows["cohort_date"][n].as_py() for n in (0, 1))
    assert bad_day != good_day
    layout = LakeLayout(home / "lake")
    failed = gold_violations(layout, rule.table, rule.bad_rows, [bad_day])
    assert not failed.passed
    assert failed.description.startswith(f"1 of 1 rows of {bad_day} break it")
    passed = gold_violations(layout, rule.table, rule.bad_rows, [good_day])
    assert passed.passed, passed.description  # another day's rows are not that day's
    both = gold_violations(layout, rule.table, rule.bad_rows, [bad_day, good_day])
    assert both.description.startswith(f"1 of 2 rows of 2 days {bad_day}..{good_day} break it")


def test_gold_follows_silver_only_once_its_blocking_checks_pass(
    healthy: Path, tmp_path: Path
) -> None:
    from eda_lake.definitions import defs

    home = copy_home(healthy, tmp_path)
    customers = _table(home, "silver", "customers")
    _append(home, "silver", "customers", customers.slice(0, 1))  # a key twice
    resources = {"eda_lake": resource(home)}
    job = dg.define_asset_job(
        "blocking_checks", selection=dg.AssetSelection.checks(*BLOCKING_CHECKS)
    )
    checks_only = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    funnel = dg.AssetKey(["gold", "funnel_daily"])
    with dg.instance_for_test() as instance:
        add_gold_days(instance, ["2026-10-01"])
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        for entity in ENTITY_TABLES:  # silver updated, as an ingest run reports it
            instance.report_runless_asset_event(dg.AssetMaterialization(["silver", entity.name]))
        checked = checks_only.resolve_job_def("blocking_checks").execute_in_process(
            resources=resources, instance=instance, raise_on_error=False
        )
        assert not checked.success  # the blocking check failed
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=evaluation.cursor
        )
        assert evaluation.get_num_requested(funnel) == 0  # gold waits

        _overwrite(home, "silver", "customers", customers)  # fixed
        checked = checks_only.resolve_job_def("blocking_checks").execute_in_process(
            resources=resources, instance=instance
        )
        evaluation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=evaluation.cursor
        )
        assert evaluation.get_num_requested(funnel) == 1  # gold goes
