"""The code location under a complete Azure environment: every variable reaches Dagster
(secrets by name only), the simulation is absent, and the lake materializes through Dagster
on Azurite from real Azure Capture files in the capture container."""

from __future__ import annotations

import uuid
from pathlib import Path

import dagster as dg
import pytest
from azure.storage.blob import BlobServiceClient

from eda_lake.defs.build import build_definitions
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.delta import tables
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY
from eda_lake_tests.lake.helpers import AZURE_FILES
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY, Azurite

SIMULATION_JOBS = {"publish_job", "simulation_tick_job", "partner_files_job", "capture_job"}


def _azure_environment(azurite: Azurite, home: Path, capture: str, lake: str) -> dict[str, str]:
    return {
        "EDA_LAKE_HOME": str(home),
        "EDA_LAKE_TARGET": "azure",
        "EDA_LAKE_PII_KEY": TEST_PII_KEY,
        "EDA_LAKE_EVENTHUB_NAMESPACE": "dv-eda-evhns-westeurope-x7k2.servicebus.windows.net",
        "EDA_LAKE_EVENTHUB_CONNECTION_STRING__CUSTOMER_CREATED": (
            "Endpoint=sb://dv-eda-evhns-westeurope-x7k2.servicebus.windows.net/;"
            "SharedAccessKeyName=send;SharedAccessKey=cGxhY2Vob2xkZXI=;EntityPath=customer-created"
        ),
        "EDA_LAKE_CHECKPOINT_CONNECTION_STRING": azurite.connection_string,
        "EDA_LAKE_CHECKPOINT_CONTAINER": "checkpoints",
        "EDA_LAKE_STORAGE_ACCOUNT": ACCOUNT,
        "EDA_LAKE_STORAGE_ACCOUNT_KEY": ACCOUNT_KEY,
        "EDA_LAKE_BLOB_AUTHORITY": f"127.0.0.1:{azurite.blob_port}",
        "EDA_LAKE_CAPTURE_CONTAINER": capture,
        "EDA_LAKE_LAKE_CONTAINER": lake,
        "EDA_LAKE_DISCOVERY_QUEUE": "capture-files",
        "EDA_LAKE_QUEUE_CONNECTION_STRING": azurite.connection_string,
        "EDA_LAKE_AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "EDA_LAKE_AZURE_LOCATION": "westeurope",
        "EDA_LAKE_ENVIRONMENT": "dv",
        "EDA_LAKE_NAME_SUFFIX": "x7k2",
        "EDA_LAKE_PRINCIPAL__CUSTOMER": "11111111-1111-1111-1111-111111111111",
    }


def test_definitions_on_azure_pass_every_variable_and_land_azure_files_on_azurite(
    azurite: Azurite, azure_capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suffix = uuid.uuid4().hex[:10]
    capture, lake = f"capture-{suffix}", f"lake-{suffix}"
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    for name in (capture, lake):
        blobs.create_container(name)
    for fixture, path in AZURE_FILES.items():
        blobs.get_blob_client(capture, path).upload_blob((azure_capture_dir / fixture).read_bytes())
    environment = _azure_environment(azurite, tmp_path / "home", capture, lake)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    defs = build_definitions()  # as `eda_lake.definitions` loads: from this process's environment
    repository = defs.get_repository_def()
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"provision_platform", "ingest_job", "gold_job"} <= jobs
    assert not SIMULATION_JOBS & jobs  # no synthetic customer reaches a real hub
    assert not repository.has_schedule_def("simulation_schedule")
    checks = {key.name for key in repository.asset_checks_defs_by_key}
    assert "quarantine_rate" in checks and "dead_letter_rate" not in checks

    resource = (defs.resources or {})["eda_lake"]
    assert isinstance(resource, EdaLakeResource)
    passed = resource.variables()
    assert set(environment) <= set(passed)  # every variable, families included
    secrets = {
        "EDA_LAKE_PII_KEY",
        "EDA_LAKE_STORAGE_ACCOUNT_KEY",
        "EDA_LAKE_CHECKPOINT_CONNECTION_STRING",
        "EDA_LAKE_QUEUE_CONNECTION_STRING",
        "EDA_LAKE_EVENTHUB_CONNECTION_STRING__CUSTOMER_CREATED",
    }
    for name in secrets:  # the UI shows the variable's name, never its value
        assert isinstance(passed[name], dg.EnvVar) and passed[name] == name
    assert ACCOUNT_KEY not in str(resource) and TEST_PII_KEY not in repr(passed)
    assert passed["EDA_LAKE_CAPTURE_CONTAINER"] == capture  # plain values stay readable
    with dg.build_resources({"eda_lake": resource}) as built:  # resolved as a run resolves it
        assert built.eda_lake.settings() == Settings.from_env()  # the environment, as set

    run = defs.resolve_job_def("ingest_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert run.success
    bronze = run.asset_materializations_for_node("bronze__events")[0].metadata
    assert (bronze["files_ingested"].value, bronze["files_empty"].value) == (2, 1)
    assert bronze["dagster/row_count"].value == 2
    layout = LakeLayout.from_settings(Settings.from_env(environment))
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    hubs = tables.query("SELECT hub FROM b ORDER BY hub", b=table)["hub"].to_pylist()
    assert hubs == ["meteredbilling", "telemetry"]  # foreign producers, landed on Azurite
    silver = {m.asset_key.path[0] for m in run.get_asset_materialization_events() if m.asset_key}
    assert silver == {"bronze", "silver"}
