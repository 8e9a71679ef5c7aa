"""`eda-lake demo`: everything end to end on the embedded default, for a seeded population,
as Dagster runs recorded in the instance at DAGSTER_HOME (default: $EDA_LAKE_HOME/dagster_home),
so that `make dev` afterwards shows every asset materialized with its metadata.

The runs are the code location's own jobs (platform, the teams' chain and capture, ingest,
gold over every business day), executed in this process; the report is read back from what
they recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

import pyarrow as pa

from eda_lake.capture.embedded import CaptureReport
from eda_lake.embedded.owner_only import owner_only_tree
from eda_lake.lake.bronze.ingest import BronzeReport
from eda_lake.lake.delta import tables
from eda_lake.lake.delta.commits import TableRun
from eda_lake.lake.delta.metadata import row_count
from eda_lake.lake.derived.declarations import ENTITY_TABLES, GOLD_TABLES, event_table
from eda_lake.lake.derived.entities import EntitiesReport
from eda_lake.lake.derived.gold import GoldReport, funnel
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.parts import SilverRun
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.event_tables import SilverReport
from eda_lake.lake.silver.masking import DEMO_PII_KEY
from eda_lake.settings import (
    REPO_ROOT,
    TARGET_VAR,
    Settings,
    SettingsError,
    Target,
    settings_variables,
    variable,
)
from eda_lake.shared.progress import Progress, no_progress
from eda_lake.simulation.runtime import ChainReport

if TYPE_CHECKING:
    import dagster as dg

# The instance configuration the project ships (`make dev` and `make demo` copy it too).
INSTANCE_CONFIG = REPO_ROOT / "deploy" / "dagster.yaml"


@dataclasses.dataclass
class DemoReport:
    provisioned: int
    chain: ChainReport
    capture: CaptureReport
    lake: LakeLayout
    bronze: BronzeReport
    silver: SilverRun
    gold: GoldReport
    funnel: pa.Table
    demo_pii_key: bool
    events_before: int  # in bronze before the demo ran: a home used before holds them


def demo_variables(settings: Settings) -> dict[str, str]:
    """The variables of these settings on the embedded default (the lake may be on Azure
    Storage): what the runs' resource holds, secrets by name only."""
    if settings.target is not Target.LOCAL:
        raise SettingsError(
            f"the demo publishes synthetic events, on the embedded default only: unset "
            f"{TARGET_VAR} (on Azure, use the Dagster UI's jobs)"
        )
    return settings_variables(settings)


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset -> its metadata values, as the run recorded them."""
    return {
        event.asset_key.to_user_string(): {
            k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
        if event.asset_key
    }


def _table_run(name: str, metadata: dict[str, Any] | None) -> TableRun:
    seen = metadata or {}
    return TableRun(
        name,
        outcome=seen.get("outcome_in_run", "up to date"),
        version=seen.get("delta_version"),
        rows_written=seen.get("rows_written_in_run", 0),
        counts=dict(seen.get("counts_in_run") or {}),
    )


def shipped_instance_config(instance_dir: Path) -> None:
    """An instance without its own configuration gets the one the project ships (as `make
    demo` and `make dev` copy it): telemetry off, the writers' concurrency limits. One a
    person wrote is theirs and stays."""
    target = instance_dir / "dagster.yaml"
    if target.exists():
        return
    # Written aside (owner-only, as tempfile makes it), then linked into place: a reader sees
    # the whole file or none, and of two demos at once the first one's stays.
    with tempfile.NamedTemporaryFile(dir=instance_dir, prefix=".dagster.yaml.") as aside:
        aside.write(INSTANCE_CONFIG.read_bytes())
        aside.flush()
        with contextlib.suppress(FileExistsError):
            os.link(aside.name, target)


@contextmanager
def _terminated_as_interrupted(interrupted: type[BaseException]) -> Iterator[None]:
    """SIGTERM ends the demo as Ctrl-C does, with the CLI's one line (every write is one
    atomic commit a rerun resumes): between runs through this handler, within one through
    Dagster's, which raises its own interruption."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()  # where handlers can be set
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        yield
    except interrupted as exc:
        raise KeyboardInterrupt from exc
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def spanning(keys: Sequence[str], days: Sequence[str]) -> tuple[str, str]:
    """The first and last of `keys` (in their order, which is the order they were added) of
    a range that holds every one of `days`."""
    held = [i for i, key in enumerate(keys) if key in set(days)]
    return keys[held[0]], keys[held[-1]]


def _events_in_bronze(layout: LakeLayout) -> int:
    bronze = tables.open_table(layout.bronze_uri, layout.storage_options)
    return 0 if bronze is None else row_count(bronze)


def run_demo(
    settings: Settings,
    *,
    customers: int,
    seed: int,
    progress: Progress = no_progress,
    verbose: bool = False,
) -> DemoReport:
    """The demo's Dagster runs, each step's events logged to the console only at warning level
    and above unless `verbose` (a run logs every step's start, output and materialization)."""
    import dagster as dg  # only here: the other commands start without loading Dagster

    with _terminated_as_interrupted(dg.DagsterExecutionInterruptedError):
        return _run_demo(settings, customers, seed, progress, verbose)


def _run_demo(
    settings: Settings, customers: int, seed: int, progress: Progress, verbose: bool
) -> DemoReport:
    import dagster as dg

    from eda_lake.defs.build import build_definitions
    from eda_lake.defs.lake.assets import GOLD_DAYS_NAME

    # Demo data only: without a configured key, one is derived from the seed (and said so).
    demo = dataclasses.replace(settings, pii_key=settings.pii_key or DEMO_PII_KEY)
    variables = demo_variables(demo)
    # A lake masked under another key (`make demo` and `make dev` use the checkout's own) is
    # refused here, in one line, rather than by silver after the teams have published.
    Lake(demo).masker()
    # The runs' resource names its secrets (EnvVar) and reads them from this process's
    # environment while the runs last (patched there, then restored as it was): the
    # instance records names, never a secret's value.
    secrets = {name: value for name, value in variables.items() if variable(name).secret}
    defs = build_definitions(variables)
    # The instance holds the runs' logs and metadata: owner-only, as the lake's own state.
    instance_dir = owner_only_tree(settings.dagster_home, named_by=settings.dagster_home_variable)
    shipped_instance_config(instance_dir)

    jobs = ("provision_platform", "demo_job", "ingest_job", "gold_job")
    events_before = _events_in_bronze(LakeLayout.from_settings(demo))
    loggers = {"console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}}

    def run(
        job: str, run_config: dict[str, Any] | None = None, **options: Any
    ) -> dg.ExecuteInProcessResult:
        progress("dagster runs", jobs.index(job), len(jobs), "runs")
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, run_config={**(run_config or {}), "loggers": loggers}, **options
        )
        progress("dagster runs", jobs.index(job) + 1, len(jobs), "runs")
        return result

    with (
        mock.patch.dict(os.environ, secrets),
        dg.DagsterInstance.from_config(str(instance_dir)) as instance,
    ):
        platform = _materialized(run("provision_platform"))
        teams = run(
            "demo_job",
            run_config={
                "ops": {
                    "simulation_chain": {"config": {"customers": customers, "seed": seed}},
                    "capture_windows": {"config": {"flush": True}},  # no waiting for windows
                }
            },
        )
        lake = _materialized(run("ingest_job"))
        days = sorted(Lake(demo).gold_pending_days())  # as gold_days_sensor finds them
        gold = {}
        if days:
            # gold's partitions are the days with events, added as gold_days_sensor adds them;
            # a range runs over them in the order they were added, not by date
            listed = [d.isoformat() for d in days]
            instance.add_dynamic_partitions(GOLD_DAYS_NAME, listed)
            first, last = spanning(instance.get_dynamic_partitions(GOLD_DAYS_NAME), listed)
            gold = _materialized(
                run(
                    "gold_job",
                    run_config={
                        "ops": {"gold_tables": {"config": {"days": [str(d) for d in days]}}}
                    },
                    tags={
                        "dagster/asset_partition_range_start": first,
                        "dagster/asset_partition_range_end": last,
                    },
                )
            )
    bronze = lake["bronze/events"]
    silver_events = {
        spec.name: lake.get(f"silver/{event_table(spec.name)}", {})
        for spec in Lake(demo).catalogue.events.values()
    }
    any_silver = next(iter(silver_events.values()), {})
    return DemoReport(
        provisioned=sum(len(m["changed"]) for m in platform.values()),
        chain=teams.output_for_node("simulation_chain"),
        capture=teams.output_for_node("capture_windows"),
        lake=LakeLayout.from_settings(demo),
        bronze=BronzeReport(
            files_ingested=bronze["files_ingested"],
            files_already_ingested=bronze["files_already_ingested"],
            files_quarantined=bronze["files_quarantined"],
            files_empty=bronze["files_empty"],
            rows=bronze["rows_in_run"],
            bytes=bronze["bytes_in_run"],
            commits=bronze["commits_in_run"],
        ),
        silver=SilverRun(
            SilverReport(
                bronze_version=any_silver.get("bronze_version", -1),
                decoded={n: m.get("decoded_in_run", 0) for n, m in silver_events.items()},
                inserted={n: m.get("inserted_in_run", 0) for n, m in silver_events.items()},
                duplicates=any_silver.get("duplicates_in_run", 0),
                quarantined=any_silver.get("quarantined_in_run", 0),
                no_schema=any_silver.get("no_schema_in_run", 0),
                unknown_schema=any_silver.get("unknown_schema_in_run", 0),
            ),
            EntitiesReport(
                {
                    d.name: _table_run(d.qualified_name, lake.get(f"silver/{d.name}"))
                    for d in ENTITY_TABLES
                }
            ),
        ),
        gold=GoldReport(
            {d.name: _table_run(d.qualified_name, gold.get(f"gold/{d.name}")) for d in GOLD_TABLES}
        ),
        funnel=funnel(Lake(demo).layout),
        demo_pii_key=settings.pii_key is None,
        events_before=events_before,
    )
