"""A blocking check on silver runs again when its table's newest version has no result of its
own, so gold, which waits for every blocking check to pass, need not wait for the next
ingestion. Dagster counts only the result of the check planned last, against the version it
was planned for: writer runs at once that land silver out of the order they were created in
leave the newest version without one, as does a run that lands silver without its checks.
The check runs again once per version of the table, whatever becomes of that run: not while
a run of the table or of the check is pending, never over a failed result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from eda_lake.defs.lake.assets import silver_key
from eda_lake.defs.lake.checks import BLOCKING_CHECKS
from eda_lake.lake import checks
from eda_lake.lake.derived.declarations import ENTITY_TABLES
from eda_lake_tests.defs.helpers import add_gold_days, copy_home, resource

FUNNEL = dg.AssetKey(["gold", "funnel_daily"])
SILVER = [silver_key(entity.name) for entity in ENTITY_TABLES]
BLOCKING = {key.to_user_string() for check in BLOCKING_CHECKS for key in check.check_keys}
CHECKED = ("key_is_unique_and_present", "references_exist")  # what the blocking checks compute
# In a check, before the lake's answer: an outcome in its place, or None to go on.
BeforeCheck = Callable[[], checks.CheckOutcome | None]


class Runs:
    """Runs that land silver, check it, or both, on one Dagster instance, and the automation's
    ticks over it as the daemon evaluates them (one cursor)."""

    def __init__(self, home: Path, instance: dg.DagsterInstance, patch: pytest.MonkeyPatch):
        from eda_lake.definitions import defs

        self.defs, self.instance, self.patch = defs, instance, patch
        self.resources = {"eda_lake": resource(home)}
        self.cursor: Any = None
        self.tick()

    def tick(self) -> dg.EvaluateAutomationConditionsResult:
        evaluation = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor
        )
        self.cursor = evaluation.cursor
        return evaluation

    def run(
        self,
        *,
        write: bool,
        check: bool,
        before_write: Callable[[], object] = lambda: None,
        before_check: BeforeCheck = lambda: None,
    ) -> bool:
        """One run: it lands every silver table (`before_write` first), runs the blocking
        checks (each calls `before_check` first), or both. Whether it succeeded."""

        @dg.multi_asset(name="silver_writer", specs=[dg.AssetSpec(key) for key in SILVER])
        def silver_writer() -> Iterator[dg.MaterializeResult]:  # type: ignore[type-arg]
            before_write()
            for key in SILVER:
                yield dg.MaterializeResult(asset_key=key)

        parts = [dg.AssetSelection.assets(*SILVER).without_checks()] if write else []
        parts += [dg.AssetSelection.checks(*BLOCKING_CHECKS)] if check else []
        job = dg.define_asset_job("silver_run", selection=reduce(or_, parts))
        defs = dg.Definitions(
            assets=[silver_writer],
            asset_checks=BLOCKING_CHECKS,
            jobs=[job],
            resources=self.resources,
        )
        with self.patch.context() as patch:
            for name in CHECKED:
                patch.setattr(checks, name, _preceded_by(before_check, getattr(checks, name)))
            result = defs.resolve_job_def("silver_run").execute_in_process(
                instance=self.instance, raise_on_error=False
            )
        return result.success


def _preceded_by(before: BeforeCheck, computed: Callable[..., checks.CheckOutcome]) -> Any:
    def check(*args: Any, **kwargs: Any) -> checks.CheckOutcome:
        outcome = before()
        return computed(*args, **kwargs) if outcome is None else outcome

    return check


def _once(step: Callable[[], object]) -> Callable[[], None]:
    """`step` the first time only (a run's checks call it once each)."""
    done: list[bool] = []

    def first() -> None:
        if not done:
            done.append(True)
            step()

    return first


def _rechecked(evaluation: dg.EvaluateAutomationConditionsResult) -> set[str]:
    return {
        result.key.to_user_string()
        for result in evaluation.results
        if isinstance(result.key, dg.AssetCheckKey) and result.true_subset.size
    }


@pytest.fixture
def runs(healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runs]:
    with dg.instance_for_test() as instance:
        add_gold_days(instance, ["2026-10-01"])
        yield Runs(copy_home(healthy, tmp_path), instance, monkeypatch)


def test_writer_runs_landing_silver_out_of_their_order_get_its_checks_run_again(
    runs: Runs,
) -> None:
    # The run created last lands silver first, checks included; then the first one does.
    later_run_lands_first = _once(lambda: runs.run(write=True, check=True))
    assert runs.run(write=True, check=True, before_write=later_run_lands_first)
    evaluation = runs.tick()
    assert evaluation.get_num_requested(FUNNEL) == 0  # both passed, neither counts
    assert _rechecked(evaluation) == BLOCKING
    assert _rechecked(runs.tick()) == set()  # once

    assert runs.run(write=False, check=True)
    evaluation = runs.tick()
    assert evaluation.get_num_requested(FUNNEL) == 1  # gold goes
    assert _rechecked(evaluation) == set()


def test_silver_landed_without_its_checks_gets_them_once(runs: Runs) -> None:
    assert runs.run(write=True, check=True)
    evaluation = runs.tick()
    assert evaluation.get_num_requested(FUNNEL) == 1  # every check passed on its version
    assert _rechecked(evaluation) == set()

    for _ in range(2):  # each version landed unchecked, even after a re-check passed
        assert runs.run(write=True, check=False)  # by hand, say
        evaluation = runs.tick()
        assert evaluation.get_num_requested(FUNNEL) == 0  # gold waits for the checks
        assert _rechecked(evaluation) == BLOCKING
        assert _rechecked(runs.tick()) == set()
        assert runs.run(write=False, check=True)


def test_no_check_runs_again_while_a_run_of_its_table_or_of_it_is_pending(runs: Runs) -> None:
    assert runs.run(write=True, check=True)
    runs.tick()
    in_flight: list[dg.EvaluateAutomationConditionsResult] = []

    def tick_in_flight() -> None:
        in_flight.append(runs.tick())

    # A run between landing silver and its own checks.
    assert runs.run(write=True, check=True, before_check=_once(tick_in_flight))
    # Silver landed unchecked, then a run that will land it again, in flight.
    assert runs.run(write=True, check=False)
    assert runs.run(write=True, check=False, before_write=tick_in_flight)
    assert [_rechecked(evaluation) for evaluation in in_flight] == [set(), set()]
    assert _rechecked(runs.tick()) == BLOCKING  # once nothing is pending


def test_a_failed_result_stands(runs: Runs) -> None:
    def failed() -> checks.CheckOutcome:
        return checks.CheckOutcome(False, "a key twice")

    assert not runs.run(write=True, check=True, before_check=failed)
    for _ in range(2):
        evaluation = runs.tick()
        assert evaluation.get_num_requested(FUNNEL) == 0  # gold waits for a run that passes
        assert _rechecked(evaluation) == set()


def test_a_recheck_that_failed_to_execute_is_not_repeated(runs: Runs) -> None:
    def unreachable() -> checks.CheckOutcome:
        raise OSError("the lake is unreachable")

    assert runs.run(write=True, check=False)
    assert _rechecked(runs.tick()) == BLOCKING
    in_flight = _once(runs.tick)

    def tick_then_unreachable() -> checks.CheckOutcome:
        in_flight()
        return unreachable()

    assert not runs.run(write=False, check=True, before_check=tick_then_unreachable)
    for _ in range(2):
        evaluation = runs.tick()
        assert evaluation.get_num_requested(FUNNEL) == 0
        assert _rechecked(evaluation) == set()  # the next ingestion checks again
    assert runs.run(write=True, check=False)
    assert _rechecked(runs.tick()) == BLOCKING  # a new version: once more


def test_a_writer_run_that_failed_before_silver_does_not_stop_a_recheck(runs: Runs) -> None:
    def fails() -> None:
        raise OSError("a capture file could not be read")

    # The run created last fails before it writes silver; the first one lands it.
    later_run_fails = _once(lambda: runs.run(write=True, check=True, before_write=fails))
    assert runs.run(write=True, check=True, before_write=later_run_fails)
    assert _rechecked(runs.tick()) == BLOCKING
