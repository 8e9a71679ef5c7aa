"""The production instance configuration on a real Postgres: a run of the code location's
jobs lands its run, events and asset records there, with the connection from the
environment only; its limits are the shipped ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from eda_lake.defs.compute_logs import BlobComputeLogManager
from eda_lake.provisioning.azure_names import AzureNames
from eda_lake.settings import REPO_ROOT, STORAGE_ACCOUNT_VAR
from infra_scripts import postgres
from infra_scripts.postgres import Postgres

PRODUCTION = REPO_ROOT / "deploy" / "dagster-production.yaml"
SHIPPED = REPO_ROOT / "deploy" / "dagster.yaml"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_the_production_limits_are_the_shipped_ones() -> None:
    assert _load(PRODUCTION)["concurrency"] == _load(SHIPPED)["concurrency"]
    connection = _load(PRODUCTION)["storage"]["postgres"]["postgres_db"]
    assert connection["password"] == {"env": "DAGSTER_PG_PASSWORD"}  # never in the file


def test_step_logs_go_to_the_container_provisioning_creates_with_entra_id() -> None:
    logs = _load(PRODUCTION)["compute_logs"]
    assert logs["class"] == BlobComputeLogManager.__name__
    assert logs["config"]["container"] == AzureNames.compute_log_container
    assert logs["config"]["storage_account"] == {"env": STORAGE_ACCOUNT_VAR}
    assert "access_key_or_sas_token" not in logs["config"]  # the pods' workload identity


def test_a_run_lands_in_postgres_from_the_environment(
    postgres_server: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = _load(PRODUCTION)
    del config["compute_logs"]  # in Blob Storage: test_dagster_topology.py, on Azurite
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_USER": postgres.USER,
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": "postgres",
    }.items():
        monkeypatch.setenv(name, value)

    @dg.asset
    def counted() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([counted], instance=instance)
        assert result.success
    with dg.DagsterInstance.from_config(str(home)) as again:  # another process's view
        [run] = again.get_runs()
        assert run.run_id == result.run_id
        assert again.get_latest_materialization_event(dg.AssetKey("counted")) is not None
    assert not list(home.glob("**/*.db"))  # nothing in SQLite beside it
