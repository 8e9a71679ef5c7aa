"""Dagster as deployed, with real processes: the code location served over gRPC by a process
of its own, `dagster-daemon` evaluating the shipped sensors and launching their runs through
it, every run, event and asset record in Postgres (the production instance configuration),
and the steps' logs in Blob Storage (Azurite). Capture files in the capture container become
several ingestion runs at once under the shipped run-queue limits, each event lands in bronze
once, and gold follows through its automation."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy
import yaml
from azure.storage.blob import BlobServiceClient
from dagster._grpc.client import DagsterGrpcClient

from eda_lake.defs.lake.assets import BRONZE, gold_key, source_key
from eda_lake.lake.derived.declarations import GOLD_TABLES
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY, bronze_event_counts
from eda_lake_tests.processes import stop_group
from eda_lake_tests.simulation.helpers import captured_chain
from infra_scripts import postgres
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from infra_scripts.ports import free_port
from infra_scripts.postgres import Postgres

pytestmark = pytest.mark.slow

PRODUCTION = REPO_ROOT / "deploy" / "dagster-production.yaml"
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin"
FILES_PER_RUN = 4  # the chain's 20-odd capture files: 5 or more runs, over the limit of 4
WRITER_LIMIT = 4  # deploy/dagster.yaml: runs tagged lake: writer at once
# What capture_files_sensor launches: bronze and silver, or through to gold once gold has days.
INGESTION_JOBS = ("ingest_job", "ingest_to_gold_job")
SETTLE_S = 600  # ample on a loaded 2-core machine: the 5 runs, then gold's sensors


def _instance_config(azurite: Azurite, logs: Path) -> dict[str, Any]:
    """The production configuration, its step logs sent to Azurite (plain HTTP, with the
    account key) instead of Azure's endpoint with Entra ID."""
    config: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text())
    blob = config["compute_logs"]["config"]
    del blob["default_azure_credential"]
    blob |= {
        "blob_authority": f"127.0.0.1:{azurite.blob_port}",
        "access_key_or_sas_token": {"env": "EDA_LAKE_STORAGE_ACCOUNT_KEY"},
        "local_dir": str(logs),
    }
    return config


def _environment(azurite: Azurite, pg: Postgres, home: Path, dagster_home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "EDA_LAKE_HOME": str(home),
        "EDA_LAKE_PII_KEY": TEST_PII_KEY,
        "EDA_LAKE_STORAGE_ACCOUNT": ACCOUNT,
        "EDA_LAKE_STORAGE_ACCOUNT_KEY": ACCOUNT_KEY,
        "EDA_LAKE_BLOB_AUTHORITY": f"127.0.0.1:{azurite.blob_port}",
        "EDA_LAKE_CAPTURE_CONTAINER": "capture",
        "EDA_LAKE_LAKE_CONTAINER": "lake",
        "EDA_LAKE_FILES_PER_RUN": str(FILES_PER_RUN),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(pg.port),
        "DAGSTER_PG_USER": postgres.USER,
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": "postgres",
    }


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process group of its own, stopped by its PID's group however the test ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=log.parent, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield process
        finally:
            stop_group(process, signal.SIGTERM)


def _serving(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if client.health_check_query() == "SERVING":  # type: ignore[no-untyped-call]
                return
        except Exception:  # not listening yet
            pass
        assert time.monotonic() < deadline, f"no code server on {port}: {log.read_text()[-3000:]}"
        time.sleep(1)


def _upload_capture(azurite: Azurite, capture_root: Path) -> int:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    for container in ("capture", "lake", "dagster-compute-logs"):
        blobs.create_container(container)
    files = sorted(capture_root.rglob("*.avro"))
    for path in files:
        name = path.relative_to(capture_root).as_posix()
        blobs.get_blob_client("capture", name).upload_blob(path.read_bytes())
    return len(files)


def _most_at_once(runs: list[dg.RunRecord]) -> int:
    """The most runs that were running at the same moment, from their start and end times."""
    moments = sorted(
        [(r.start_time, 1) for r in runs if r.start_time]
        + [(r.end_time, -1) for r in runs if r.end_time]
    )
    running = most = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


def _settled(instance: dg.DagsterInstance, ingest_runs: int, lake: Lake) -> bool:
    """Every run finished, every capture file ingested, and gold current: in Dagster, and in
    the lake (no silver row it has not counted; a gold run may start while a writer run
    created before the last is still landing silver)."""
    records = instance.get_run_records()
    ingest = [r for r in records if r.dagster_run.job_name in INGESTION_JOBS]
    finished = all(r.dagster_run.is_finished for r in records)
    return (
        finished
        and len(ingest) >= ingest_runs
        and _gold_caught_up(instance)
        and not lake.gold_pending_days()
    )


def _gold_caught_up(instance: dg.DagsterInstance) -> bool:
    """Every gold table has materialized since each table it reads last did: in an ingestion
    run through to gold, or from gold's automation (a table may wait on a blocking check
    that runs again)."""

    def latest(key: dg.AssetKey) -> int:
        found = instance.fetch_materializations(key, limit=1).records
        return found[0].storage_id if found else -1

    return all(
        latest(gold_key(table.name)) > max(latest(source_key(s)) for s in table.sources)
        for table in GOLD_TABLES
    )


def test_the_daemon_runs_the_lake_from_a_grpc_code_server_on_postgres_with_logs_in_blob(
    azurite: Azurite, postgres_server: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    embedded = Settings(home=home)
    captured = captured_chain(embedded, seed=6, customers=60)
    files = _upload_capture(azurite, embedded.capture_dir)
    expected_runs = -(-files // FILES_PER_RUN)
    assert expected_runs > WRITER_LIMIT  # so the run queue has something to hold back
    dagster_home.mkdir()
    config = _instance_config(azurite, tmp_path / "staged-logs")
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    server_address = {"host": "127.0.0.1", "port": port, "location_name": "eda_lake"}
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server_address}]}))

    pg = postgres_server
    env = _environment(azurite, pg, home, dagster_home)
    settings = Settings.from_env(env)
    with ExitStack() as stack:
        server_log = tmp_path / "code-server.log"
        server = stack.enter_context(
            _process(
                [str(BIN / "dagster"), "code-server", "start", "-m", "eda_lake.definitions",
                 "-h", "127.0.0.1", "-p", str(port)],
                env, server_log,
            )
        )  # fmt: skip
        _serving(port, server, server_log)
        # The simulation's schedule would publish more events into the test's window
        subprocess.run(
            [str(BIN / "dagster"), "schedule", "stop", "simulation_schedule",
             "-w", str(workspace)],
            env=env, cwd=tmp_path, check=True, capture_output=True,
        )  # fmt: skip
        daemon_log = tmp_path / "daemon.log"
        daemon = stack.enter_context(
            _process(
                [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                env,
                daemon_log,
            )
        )

        for name in (n for n in env if n.startswith(("DAGSTER_PG_", "EDA_LAKE_"))):
            monkeypatch.setenv(name, env[name])  # the instance's configuration reads them
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            deadline = time.monotonic() + SETTLE_S
            lake = Lake(settings)
            while not _settled(instance, expected_runs, lake):
                assert daemon.poll() is None, daemon_log.read_text()[-3000:]
                assert time.monotonic() < deadline, (
                    f"not settled in {SETTLE_S} s: "
                    f"{[(r.job_name, r.status.value) for r in instance.get_runs()]}\n"
                    + daemon_log.read_text()[-3000:]
                )
                time.sleep(3)
            records = instance.get_run_records()
            ingest = [r for r in records if r.dagster_run.job_name in INGESTION_JOBS]
            assert all(r.dagster_run.is_success for r in records), [
                (r.dagster_run.job_name, r.dagster_run.status.value) for r in records
            ]
            from_sensor = [
                r for r in ingest if r.dagster_run.tags.get("dagster/sensor_name") ==
                "capture_files_sensor"
            ]  # fmt: skip
            assert len(from_sensor) == expected_runs
            assert 2 <= _most_at_once(ingest) <= WRITER_LIMIT  # several at once, never more
            assert instance.get_latest_materialization_event(BRONZE) is not None
            run_ids = {r.dagster_run.run_id for r in records}

        with sqlalchemy.create_engine(pg.url).connect() as connection:  # as another reader
            runs = connection.execute(sqlalchemy.text("SELECT run_id FROM runs")).scalars()
            assert set(runs) == run_ids
            events = connection.execute(sqlalchemy.text("SELECT DISTINCT run_id FROM event_logs"))
            assert set(events.scalars()) - {""} == run_ids  # "": the sensors' partition requests
            keys = connection.execute(sqlalchemy.text("SELECT asset_key FROM asset_keys"))
            assert {
                key.to_string()
                for key in [BRONZE, *(gold_key(table.name) for table in GOLD_TABLES)]
            } <= set(keys.scalars())
    assert not list(dagster_home.glob("**/*.db"))  # nothing in SQLite beside Postgres

    logs = BlobServiceClient.from_connection_string(azurite.connection_string)
    logged = [b.name for b in logs.get_container_client("dagster-compute-logs").list_blobs()]
    for run_id in run_ids:  # every run's step logs, in Blob Storage
        assert any(run_id in name and name.endswith(".err") for name in logged), run_id

    landed, distinct = bronze_event_counts(LakeLayout.from_settings(settings))
    assert landed == distinct == captured.events  # exactly once
