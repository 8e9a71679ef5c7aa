"""Step logs in a Blob endpoint other than Azure's (Azurite): written and read back through the
manager, shown in the UI at their own address, never with a SAS in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ResourceTypes,
    generate_account_sas,
)
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION

from eda_lake.defs.compute_logs import BlobComputeLogManager
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY, Azurite

STEP_LOG = ["run-1", "compute_logs", "bronze__events"]


def _container(azurite: Azurite) -> str:
    name = f"logs-{uuid.uuid4().hex[:10]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    return name


def _manager(
    azurite: Azurite, container: str, credential: str, logs: Path
) -> BlobComputeLogManager:
    return BlobComputeLogManager(
        storage_account=ACCOUNT,
        container=container,
        access_key_or_sas_token=credential,
        blob_authority=f"127.0.0.1:{azurite.blob_port}",
        local_dir=str(logs),
        prefix="runs",
    )


def _captured(manager: BlobComputeLogManager) -> None:
    """A finished step's stdout and stderr, staged locally and uploaded as the run does."""
    for io_type, text in ((ComputeIOType.STDOUT, "landed 94 events"), (ComputeIOType.STDERR, "")):
        path = manager.local_manager.get_captured_local_path(STEP_LOG, IO_TYPE_EXTENSION[io_type])
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
        manager.upload_to_cloud_storage(STEP_LOG, io_type)


def _sas() -> str:
    return generate_account_sas(
        ACCOUNT,
        ACCOUNT_KEY,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )


def test_logs_land_in_the_container_and_read_back_with_the_account_key(
    azurite: Azurite, tmp_path: Path
) -> None:
    container = _container(azurite)
    _captured(_manager(azurite, container, ACCOUNT_KEY, tmp_path / "writer"))
    reader = _manager(azurite, container, ACCOUNT_KEY, tmp_path / "webserver")  # another pod
    assert reader.is_capture_complete(STEP_LOG)
    assert reader.get_log_data(STEP_LOG).stdout == b"landed 94 events"
    metadata = reader.get_log_metadata(STEP_LOG)
    address = f"http://127.0.0.1:{azurite.blob_port}/{ACCOUNT}/{container}/runs/storage/run-1"
    assert metadata.stdout_location == f"{address}/compute_logs/bronze__events.out"
    assert metadata.stdout_download_url is not None
    assert metadata.stdout_download_url.startswith(metadata.stdout_location + "?")


def test_with_a_sas_the_ui_shows_the_address_and_no_link_that_would_hand_it_out(
    azurite: Azurite, tmp_path: Path
) -> None:
    container, sas = _container(azurite), _sas()
    manager = _manager(azurite, container, sas, tmp_path)
    _captured(manager)
    assert manager.get_log_data(STEP_LOG).stdout == b"landed 94 events"
    metadata = manager.get_log_metadata(STEP_LOG)
    assert metadata.stdout_location is not None and "sig=" not in metadata.stdout_location
    assert metadata.stdout_download_url is None


def test_an_endpoint_named_by_host_finds_its_account() -> None:
    manager = BlobComputeLogManager(
        storage_account=ACCOUNT,
        container="logs",
        access_key_or_sas_token=ACCOUNT_KEY,
        blob_authority="azurite:10000",  # a compose service's name: no request is made here
    )
    assert manager._container_client.url == f"http://azurite:10000/{ACCOUNT}/logs"
    assert manager._container_client.account_name == ACCOUNT


def test_a_plain_http_endpoint_without_a_key_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"blob_authority 127\.0\.0\.1:1 is plain HTTP") as refused:
        BlobComputeLogManager(
            storage_account="lake", container="logs", blob_authority="127.0.0.1:1"
        )
    assert "\n" not in str(refused.value)
