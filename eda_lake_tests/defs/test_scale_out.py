"""Scale-out on Dagster's own engine: the sensor splits new capture files across runs; several
runs of bronze/events at once, under the project's dagster.yaml (pool `lake_writer` with its
limit of 2, the `lake: writer` tag), land every event exactly once, even when two runs are
given the same files. (How many bronze steps overlapped is not asserted: with runs executed
in process, Dagster let 3 overlap once in five tries.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from eda_lake.defs.lake import jobs
from eda_lake.defs.lake.assets import BRONZE, WRITER_POOL
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY, bronze_event_counts, resource, tick
from eda_lake_tests.simulation.helpers import captured_chain


def ingest(instance_dir: str, requests_file: str, index: int) -> None:
    """One ingestion run, as the run queue would launch it: the code location's ingest_job
    with its request's files and tags, in the shared instance."""
    from eda_lake.defs.build import build_definitions

    requests = json.loads(Path(requests_file).read_text())
    request = requests[index]
    defs = build_definitions()
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(instance_dir)) as instance:
        # bronze only: what runs at once here is the writers; silver's checks across tables
        # would see another run's half-updated entities
        result = defs.resolve_job_def("ingest_job").execute_in_process(
            run_config=request["run_config"],
            tags=request["tags"],
            instance=instance,
            asset_selection=[BRONZE],
        )
        assert result.success


def test_several_writer_runs_at_once_under_the_pool_limit_land_everything_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    for name, value in {"EDA_LAKE_HOME": str(home), "EDA_LAKE_PII_KEY": TEST_PII_KEY}.items():
        monkeypatch.setenv(name, value)
    settings = Settings(home=home)
    captured = captured_chain(settings, seed=6, customers=60)

    per_run = {"EDA_LAKE_FILES_PER_RUN": "10"}  # 28 files: 3 runs
    result = tick(jobs.capture_files_sensor, {"eda_lake": resource(home, **per_run)})
    requests = [{"run_config": r.run_config, "tags": r.tags} for r in result.run_requests or []]
    assert len(requests) == 3 and all(r["tags"]["lake"] == "writer" for r in requests)
    requests.append(requests[0])  # a redelivered request: the same files twice
    requests_file = tmp_path / "requests.json"
    requests_file.write_text(json.dumps(requests))

    instance_dir = tmp_path / "dagster_home"
    instance_dir.mkdir()
    shutil.copy(
        REPO_ROOT / "deploy" / "dagster.yaml", instance_dir / "dagster.yaml"
    )  # what we ship
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(instance_dir))) as instance:
        # the pool exists with its default limit before the runs race to create it
        limit = instance.get_concurrency_config().pool_config.default_pool_limit
        assert limit == 2
        instance.event_log_storage.set_concurrency_slots(WRITER_POOL, limit)
    _run_all(str(instance_dir), str(requests_file), len(requests))

    rows, events = bronze_event_counts(LakeLayout(settings.lake_dir))
    assert rows == events == captured.events  # exactly once

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(instance_dir))) as instance:
        runs = instance.get_runs()
        assert len(runs) == 4 and all(r.is_success for r in runs)
        assert all(r.tags["lake"] == "writer" for r in runs)


def _run_all(instance_dir: str, requests_file: str, count: int) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=ingest, args=(instance_dir, requests_file, index))
        for index in range(count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
        assert worker.exitcode == 0, f"ingestion run exited with {worker.exitcode}"
