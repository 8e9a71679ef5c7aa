from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastavro
import pytest

from eda_lake.capture.embedded import EmbeddedCapture
from eda_lake.capture.envelope import CAPTURE_SCHEMA
from eda_lake.capture.reader import CaptureEvent, read_capture
from eda_lake.capture.writer import temporary_path, write_capture
from eda_lake.catalogue import CaptureSettings
from eda_lake.hub.base import EventData, HubSpec, ReceivedEvent
from eda_lake.hub.embedded import EmbeddedEventHub

SETTINGS = CaptureSettings(
    encoding="Avro",
    window_seconds=300,
    window_bytes=300_000_000,
    skip_empty_archives=True,
    archive_name_format="{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}",
)
LATER = datetime.now(UTC) + timedelta(hours=1)


def _setup(
    tmp_path: Path, settings: CaptureSettings = SETTINGS
) -> tuple[EmbeddedEventHub, EmbeddedCapture]:
    hub = EmbeddedEventHub(tmp_path / "hub", "eda-lake-test")
    hub.ensure_hub(HubSpec("orders", 2, 7))
    capture = EmbeddedCapture(hub, tmp_path / "capture", settings, tmp_path / "hub")
    return hub, capture


def _events(n: int, key: str = "k") -> list[EventData]:
    return [
        EventData(
            f"body-{i}".encode(),
            {"cloudEvents_id": str(i), "count": i, "ratio": 0.5, "raw": b"\x00\x01", "none": None},
            partition_key=key,
            content_type="avro/binary+0123456789abcdef0123456789abcdef",
        )
        for i in range(n)
    ]


def _all(capture_root: Path) -> list[CaptureEvent]:
    events = []
    for path in sorted(capture_root.rglob("*.avro")):
        with path.open("rb") as stream:
            events += list(read_capture(stream, str(path)))
    return events


def test_files_are_capture_files_that_fastavro_and_our_reader_agree_on(tmp_path: Path) -> None:
    hub, capture = _setup(tmp_path)
    hub.send("orders", _events(50))
    report = capture.run(now=LATER)
    assert report.events == 50 and len(report.files) == 1
    path = tmp_path / "capture" / report.files[0]
    with path.open("rb") as stream:
        reader = fastavro.reader(stream)
        schema: Any = reader.writer_schema
        assert schema["fields"] == CAPTURE_SCHEMA["fields"]
        assert reader.codec == "null"
        records: list[Any] = list(reader)
    first = records[0]
    assert first["Properties"] == {
        "cloudEvents_id": "0",
        "count": 0,
        "ratio": 0.5,
        "raw": b"\x00\x01",
        "none": None,
    }
    assert set(first["SystemProperties"]) == {
        "x-opt-sequence-number",
        "x-opt-offset",
        "x-opt-enqueued-time",
        "x-opt-partition-key",
        "content-type",
    }
    assert first["EnqueuedTimeUtc"].endswith(("AM", "PM"))
    ours = _all(tmp_path / "capture")
    assert [e.sequence_number for e in ours] == [r["SequenceNumber"] for r in records]
    assert ours[0].schema_id() == "0123456789abcdef0123456789abcdef"


def test_rerun_captures_nothing_twice_and_open_windows_wait(tmp_path: Path) -> None:
    hub, capture = _setup(tmp_path)
    hub.send("orders", _events(10))
    assert capture.run().events == 0  # the window is still open
    assert capture.run(now=LATER).events == 10
    assert capture.run(now=LATER).events == 0
    hub.send("orders", _events(5))
    assert capture.run(flush=True).events == 5
    assert [e.sequence_number for e in _all(tmp_path / "capture")] == list(range(15))


def test_flushed_window_gets_a_second_file_not_an_overwrite(tmp_path: Path) -> None:
    hub, capture = _setup(tmp_path)
    hub.send("orders", _events(3), partition_id="0")
    first = capture.run(flush=True).files
    hub.send("orders", _events(4), partition_id="0")
    second = capture.run(flush=True).files
    assert len(first) == len(second) == 1 and first != second
    assert len(_all(tmp_path / "capture")) == 7


def test_size_window_splits_files(tmp_path: Path) -> None:
    small = dataclasses.replace(SETTINGS, window_bytes=2_000)
    hub, capture = _setup(tmp_path, small)
    hub.send("orders", [EventData(b"x" * 300)] * 20, partition_id="1")
    report = capture.run(now=LATER)
    assert len(report.files) > 3
    assert [e.sequence_number for e in _all(tmp_path / "capture")] == list(range(20))


def test_deflate_codec(tmp_path: Path) -> None:
    hub, capture = _setup(tmp_path, dataclasses.replace(SETTINGS, encoding="AvroDeflate"))
    hub.send("orders", _events(30))
    [name] = capture.run(now=LATER).files
    with (tmp_path / "capture" / name).open("rb") as stream:
        assert fastavro.reader(stream).codec == "deflate"
    assert len(_all(tmp_path / "capture")) == 30


def test_empty_windows_when_not_skipped_match_azures_empty_file(
    tmp_path: Path, azure_capture_dir: Path
) -> None:
    hub, capture = _setup(tmp_path, dataclasses.replace(SETTINGS, skip_empty_archives=False))
    hub.send("orders", _events(1), partition_id="0")
    capture.run(now=LATER - timedelta(minutes=50))
    report = capture.run(now=LATER)
    assert report.empty_files >= 9  # the idle five-minute windows of the next ~50 minutes
    empty = tmp_path / "capture" / report.files[-1]
    with empty.open("rb") as stream:
        assert list(read_capture(stream)) == []
    # Like Azure's: one data block holding 0 records, right after the header.
    for data in (empty.read_bytes(), (azure_capture_dir / "cosh_capture_empty.avro").read_bytes()):
        sync_marker = data[-16:]
        assert data.endswith(b"\x00\x00" + sync_marker)  # count 0, size 0, sync
        assert data.count(sync_marker) == 2  # once closing the header, once the block


def test_envelope_is_the_one_azure_writes_today(tmp_path: Path, azure_capture_dir: Path) -> None:
    hub, capture = _setup(tmp_path)
    hub.send("orders", _events(1))
    [name] = capture.run(now=LATER).files
    azure = azure_capture_dir / "meteredbilling_capture_p9--2022-12-09--16-50-12.avro"
    with (tmp_path / "capture" / name).open("rb") as ours, azure.open("rb") as theirs:
        assert fastavro.reader(ours).writer_schema == fastavro.reader(theirs).writer_schema


def test_empty_in_memory_file_has_one_zero_block() -> None:
    stream = io.BytesIO()
    assert write_capture(stream, [], "deflate") == 0
    stream.seek(0)
    assert list(fastavro.reader(stream)) == []


def test_crash_between_ledger_and_rename_is_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, capture = _setup(tmp_path)
    hub.send("orders", _events(8), partition_id="0")

    def crash(self: Path, target: Path) -> None:
        raise KeyboardInterrupt("killed before rename")

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        capture.run(now=LATER)
    monkeypatch.undo()
    assert _all(tmp_path / "capture") == []
    restarted = EmbeddedCapture(hub, tmp_path / "capture", SETTINGS, tmp_path / "hub")
    report = restarted.run(now=LATER)
    assert report.recovered == 1
    events = _all(tmp_path / "capture")
    assert [e.sequence_number for e in events] == list(range(8))
    assert not list((tmp_path / "capture").rglob("*.tmp"))


def test_temporary_names_are_hidden_from_readers(tmp_path: Path) -> None:
    final = tmp_path / "ns" / "hub" / "0" / "12.avro"
    assert temporary_path(final).name.startswith(".") and not temporary_path(final).name.endswith(
        ".avro"
    )


def test_received_event_system_properties() -> None:
    event = ReceivedEvent("h", "0", 5, 10, datetime(2026, 1, 1, tzinfo=UTC), None, None, {}, b"")
    assert event.system_properties() == {
        "x-opt-sequence-number": 5,
        "x-opt-offset": "10",
        "x-opt-enqueued-time": 1767225600000,
    }
