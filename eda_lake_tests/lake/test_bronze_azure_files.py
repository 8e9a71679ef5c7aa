from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake_tests.lake.helpers import azure_container, bronze_rows, ingest


def test_real_azure_files_land_exactly(
    azure_capture_dir: Path, tmp_path: Path, layout: LakeLayout
) -> None:
    root = azure_container(azure_capture_dir, tmp_path / "container")
    report = ingest(layout, root)
    assert (report.files_ingested, report.rows, report.files_quarantined) == (2, 2, 0)
    assert report.files_empty == 1  # Azure's empty window: nothing to land, not an error

    [billing] = bronze_rows(layout, "hub = 'meteredbilling'")
    assert billing["namespace"] == "billing-ns" and billing["partition_id"] == "9"
    assert (billing["sequence_number"], billing["offset"]) == (1, "1456")
    assert billing["enqueued_time"] == datetime(2022, 12, 9, 16, 51, 25, 193000, tzinfo=UTC)
    assert billing["partition_key"] == "d8b14c3c-fcfa-4bf4-d034-be8c3f3ecab5"
    assert dict(billing["system_properties"])["x-opt-enqueued-time"]["long"] == 1670604685193
    assert billing["properties"] == []
    assert billing["schema_id"] is None and billing["ce_id"] is None and billing["ce_time"] is None
    assert billing["body"].startswith(b'{\n  "type": "UsageReported"')
    assert billing["date"] == "2022-12-09"
    assert billing["source_file"] == "billing-ns/meteredbilling/9/2022/12/09/16/50/12.avro"

    [frog] = bronze_rows(layout, "hub = 'telemetry'")
    assert frog["enqueued_time"] == datetime(2016, 11, 16, 16, 44, 11, tzinfo=UTC)
    assert dict(frog["system_properties"]) == {
        "x-opt-publisher": {"long": None, "double": None, "string": "buddy1234", "bytes": None}
    }
    assert bronze_rows(layout, "hub = 'extractor'") == []  # the empty window: 0 rows, no error
    assert set(Quarantine(layout).quarantined_files()) == set()


def test_reingest_is_a_no_op(azure_capture_dir: Path, tmp_path: Path, layout: LakeLayout) -> None:
    root = azure_container(azure_capture_dir, tmp_path / "container")
    ingest(layout, root)
    again = ingest(layout, root)
    assert (again.files_ingested, again.files_already_ingested, again.rows) == (0, 2, 0)
    assert again.files_empty == 1
    assert len(bronze_rows(layout)) == 2


def test_corrupt_truncated_and_misplaced_files_are_quarantined(
    azure_capture_dir: Path, tmp_path: Path, layout: LakeLayout
) -> None:
    root = azure_container(azure_capture_dir, tmp_path / "container")
    good = (root / "billing-ns/meteredbilling/9/2022/12/09/16/50/12.avro").read_bytes()
    truncated = root / "billing-ns/meteredbilling/9/2022/12/09/16/55/12.avro"
    truncated.parent.mkdir(parents=True)
    truncated.write_bytes(good[:-40])
    junk = root / "billing-ns/meteredbilling/9/2022/12/09/17/00/00.avro"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"this is not avro")
    misplaced = root / "billing-ns/meteredbilling/loose.avro"
    misplaced.write_bytes(good)

    report = ingest(layout, root)
    assert report.files_ingested == 2 and report.rows == 2
    assert report.files_quarantined == 3
    quarantine = Quarantine(layout)
    assert set(quarantine.quarantined_files()) == {
        "billing-ns/meteredbilling/9/2022/12/09/16/55/12.avro",
        "billing-ns/meteredbilling/9/2022/12/09/17/00/00.avro",
        "billing-ns/meteredbilling/loose.avro",
    }
    reasons = "\n".join(report.quarantined)
    assert "corrupt or truncated" in reasons
    assert "not an Avro container" in reasons
    assert "does not fit the archive name format" in reasons
    copy = layout.fs_path("quarantine", "capture", "billing-ns/meteredbilling/loose.avro")
    with layout.fs.open_input_stream(copy) as stream:
        assert stream.read() == good
    # unchanged quarantined files are not retried (nor re-quarantined) by the next discovery
    again = ingest(layout, root)
    assert (again.files_quarantined, again.files_ingested) == (0, 0)
    assert again.files_still_quarantined == 3


def test_any_producers_container_lands_by_the_cli(
    azure_capture_dir: Path, tmp_path: Path, capsys
) -> None:
    """`eda-lake ingest --capture-root` on a container the catalogue knows nothing of, with
    Azure's own spelling of names (upper case hubs, other namespaces)."""
    from eda_lake.cli import main

    root = tmp_path / "their-container"
    target = root / "Their-Namespace/TelemetryHub/3/2016/11/16/16/44/11.avro"
    target.parent.mkdir(parents=True)
    target.write_bytes((azure_capture_dir / "bluefrog_capture_05.avro").read_bytes())
    assert main(["ingest", "--capture-root", str(root)]) == 0
    assert "bronze: 1 file ingested (1 event)" in capsys.readouterr().out
    layout = LakeLayout(Path(os.environ["EDA_LAKE_HOME"]) / "lake")
    [row] = bronze_rows(layout)
    assert (row["namespace"], row["hub"], row["partition_id"]) == (
        "Their-Namespace",
        "TelemetryHub",
        "3",
    )
    assert main(["ingest", "--capture-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "bronze: no files ingested (no events)" in out
    assert "files already ingested      1" in out
