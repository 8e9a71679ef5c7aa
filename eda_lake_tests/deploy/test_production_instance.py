"""The production instance configuration on a real Postgres: a run of the code location's
jobs lands its run, events and asset records there, with the connection from the
environment only; its limits are the shipped ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from eda_lake.settings import REPO_ROOT
from infra_scripts import postgres
from infra_scripts.postgres import Postgres, start_postgres

PRODUCTION = REPO_ROOT / "deploy" / "dagster-production.yaml"
SHIPPED = REPO_ROOT / "deploy" / "dagster.yaml"


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Postgres]:
    why = postgres.missing()
    if why:
        pytest.skip(why)
    started = start_postgres()
    try:
        yield started
    finally:
        started.stop()


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_the_production_limits_are_the_shipped_ones() -> None:
    assert _load(PRODUCTION)["concurrency"] == _load(SHIPPED)["concurrency"]
    connection = _load(PRODUCTION)["storage"]["postgres"]["postgres_db"]
    assert connection["password"] == {"env": "DAGSTER_PG_PASSWORD"}  # never in the file


def test_a_run_lands_in_postgres_from_the_environment(
    postgres_server: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes(PRODUCTION.read_bytes())
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
