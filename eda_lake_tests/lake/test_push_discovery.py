"""Push discovery on a real Azurite: Event Grid notifications in a Storage Queue, capture
files in a Blob container, each file ingested exactly once."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from eda_lake.defs.lake.jobs import capture_notifications_sensor
from eda_lake.defs.resources import EdaLakeResource
from eda_lake.lake.delta import tables
from eda_lake.lake.discovery.notifications import NotificationError, parse_notification
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY, resource, tick
from eda_lake_tests.lake.conftest import azurite_storage
from eda_lake_tests.lake.helpers import AZURE_FILES
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY, Azurite


def _grid_event(url: str, partition: str = "0", schema: str = "eventgrid") -> dict[str, Any]:
    data = {
        "fileUrl": url, "fileType": "AzureBlockBlob", "partitionId": partition,
        "sizeInBytes": 599, "eventCount": 1, "firstSequenceNumber": 0, "lastSequenceNumber": 0,
        "firstEnqueueTime": "2016-11-16T16:44:11Z", "lastEnqueueTime": "2016-11-16T16:44:11Z",
    }  # fmt: skip
    if schema == "cloudevents":
        return {"specversion": "1.0", "type": "Microsoft.EventHub.CaptureFileCreated",
                "source": "/subscriptions/x", "id": "1", "data": data}  # fmt: skip
    return {"topic": "/subscriptions/x", "subject": "eventhubs/hub", "id": "1",
            "eventType": "Microsoft.EventHub.CaptureFileCreated", "data": data,
            "dataVersion": "1", "metadataVersion": "1"}  # fmt: skip


def test_notifications_parse_in_both_schemas_and_encodings() -> None:
    url = "https://acct.blob.core.windows.net/capture/ns/hub/0/2026/01/01/00/00/00.avro"
    plain = json.dumps(_grid_event(url))
    encoded = base64.b64encode(json.dumps(_grid_event(url, schema="cloudevents")).encode()).decode()
    for text in (plain, encoded, json.dumps([_grid_event(url)])):
        assert parse_notification(text, "capture").path == "ns/hub/0/2026/01/01/00/00/00.avro"
    with pytest.raises(NotificationError, match="not in the capture container 'other'"):
        parse_notification(plain, "other")
    with pytest.raises(NotificationError, match=r"is not Microsoft\.EventHub\.CaptureFileCreated"):
        parse_notification(json.dumps({"eventType": "Microsoft.Storage.BlobCreated"}), "capture")
    with pytest.raises(NotificationError, match="neither JSON nor base64"):
        parse_notification("%%%", "capture")


def _container(azurite: Azurite, name: str, source: Path) -> list[str]:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    blobs.create_container(name)
    for fixture, path in AZURE_FILES.items():
        blobs.get_blob_client(name, path).upload_blob((source / fixture).read_bytes())
    return [f"{azurite.blob_endpoint}/{name}/{path}" for path in AZURE_FILES.values()]


def _resource(home: Path, azurite: Azurite, container: str, queue: str) -> EdaLakeResource:
    return resource(
        home,
        EDA_LAKE_STORAGE_ACCOUNT=ACCOUNT,
        EDA_LAKE_STORAGE_ACCOUNT_KEY=ACCOUNT_KEY,
        EDA_LAKE_CAPTURE_CONTAINER=container,
        EDA_LAKE_BLOB_AUTHORITY=f"127.0.0.1:{azurite.blob_port}",
        EDA_LAKE_DISCOVERY_QUEUE=queue,
        EDA_LAKE_QUEUE_CONNECTION_STRING=azurite.connection_string,
    )


def _bronze_keys(layout: LakeLayout) -> list[tuple[str, int]]:
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    rows = tables.query("SELECT source_file, sequence_number FROM b ORDER BY 1", b=table)
    return list(
        zip(rows["source_file"].to_pylist(), rows["sequence_number"].to_pylist(), strict=True)
    )


def test_announced_files_land_once_under_duplicate_and_reordered_notifications(
    azurite: Azurite, azure_capture_dir: Path, tmp_path: Path
) -> None:
    from eda_lake.definitions import defs

    urls = _container(azurite, "capture-push", azure_capture_dir)
    queue = QueueClient.from_connection_string(azurite.connection_string, "capture-events")
    queue.create_queue()
    # every file announced twice, in reverse order the second time, plus one poison message
    for url in [*urls, *reversed(urls)]:
        queue.send_message(base64.b64encode(json.dumps(_grid_event(url)).encode()).decode())
    queue.send_message("not a notification")

    resource = _resource(tmp_path, azurite, "capture-push", "capture-events")
    result = tick(capture_notifications_sensor, {"eda_lake": resource})
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    config = request.run_config["ops"]["bronze__events"]["config"]
    assert sorted(config["files"]) == sorted(AZURE_FILES.values())
    assert len(config["acknowledge"]) == 6

    run = defs.resolve_job_def("ingest_job").execute_in_process(
        run_config=request.run_config, resources={"eda_lake": resource}
    )
    assert run.success
    layout = LakeLayout(tmp_path / "lake")
    assert len(_bronze_keys(layout)) == 2  # two events in three files; the empty one adds none
    assert queue.peek_messages(max_messages=32) == []  # all acknowledged after the commit
    poison = QueueClient.from_connection_string(azurite.connection_string, "capture-events-poison")
    [poisoned] = poison.peek_messages()
    assert "neither JSON nor base64" in json.loads(poisoned.content)["reason"]

    # the same notifications again (a redelivery): the run is harmless
    for url in urls:
        queue.send_message(json.dumps(_grid_event(url)))
    again = tick(capture_notifications_sensor, {"eda_lake": resource})
    assert isinstance(again, dg.SensorResult)
    [redelivered] = again.run_requests or []
    rerun = defs.resolve_job_def("ingest_job").execute_in_process(
        run_config=redelivered.run_config, resources={"eda_lake": resource}
    )
    assert rerun.success
    assert len(_bronze_keys(layout)) == 2
    idle = tick(capture_notifications_sensor, {"eda_lake": resource})
    assert isinstance(idle, dg.SkipReason)  # the queue is empty: it says what it waited for
    assert "no CaptureFileCreated notification for capture-push in the queue capture-events" in (
        idle.skip_message or ""
    )


def test_full_discovery_reads_a_blob_container_like_a_directory(
    azurite: Azurite, azure_capture_dir: Path, tmp_path: Path
) -> None:
    _container(azurite, "capture-listing", azure_capture_dir)
    # capture files and Delta tables both on Azurite, from one storage configuration
    storage = azurite_storage(azurite, lake_container="lake-listing")
    storage = dataclasses.replace(storage, capture_container="capture-listing")
    on_azurite = Lake(Settings(home=tmp_path / "a", storage=storage), pii_key=TEST_PII_KEY)
    report = on_azurite.ingest()
    assert (report.files_ingested, report.files_empty, report.rows) == (2, 1, 2)

    local_root = tmp_path / "local-container"
    for fixture, path in AZURE_FILES.items():
        (local_root / path).parent.mkdir(parents=True, exist_ok=True)
        (local_root / path).write_bytes((azure_capture_dir / fixture).read_bytes())
    local = Lake(Settings(home=tmp_path / "b"), pii_key=TEST_PII_KEY)
    local.ingest(str(local_root))
    assert _bronze_keys(on_azurite.layout) == _bronze_keys(local.layout)
