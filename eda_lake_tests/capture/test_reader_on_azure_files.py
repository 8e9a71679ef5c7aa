"""The reader against files Azure itself wrote."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eda_lake.capture.reader import CaptureEvent, CaptureFileError, read_capture
from eda_lake.cli import main


def _read(path: Path) -> list[CaptureEvent]:
    with path.open("rb") as stream:
        return list(read_capture(stream, str(path)))


def test_2022_file_exact_values(azure_capture_dir: Path) -> None:
    [event] = _read(azure_capture_dir / "meteredbilling_capture_p9--2022-12-09--16-50-12.avro")
    assert event.sequence_number == 1
    assert event.offset == "1456"
    # x-opt-enqueued-time (epoch ms) wins over the second-precision text
    assert event.enqueued_time == datetime(2022, 12, 9, 16, 51, 25, 193000, tzinfo=UTC)
    assert event.partition_key == "d8b14c3c-fcfa-4bf4-d034-be8c3f3ecab5"
    assert event.properties == {}
    assert event.body is not None and event.body.startswith(b'{\n  "type": "UsageReported"')
    assert event.schema_id() is None  # a JSON body names no registry schema


def test_2016_file_us_text_time(azure_capture_dir: Path) -> None:
    [event] = _read(azure_capture_dir / "bluefrog_capture_05.avro")
    assert (event.sequence_number, event.offset) == (0, "0")
    assert event.enqueued_time == datetime(2016, 11, 16, 16, 44, 11, tzinfo=UTC)
    assert event.system_properties == {"x-opt-publisher": "buddy1234"}
    assert event.body == b'{"field1": "value1", "field2": "value2"}'


def test_empty_window_file_is_zero_events(azure_capture_dir: Path) -> None:
    assert _read(azure_capture_dir / "cosh_capture_empty.avro") == []


def test_truncated_and_foreign_files_are_named(azure_capture_dir: Path, tmp_path: Path) -> None:
    data = (azure_capture_dir / "meteredbilling_capture_p9--2022-12-09--16-50-12.avro").read_bytes()
    with pytest.raises(CaptureFileError, match=r"truncated\.avro: corrupt or truncated"):
        list(read_capture(io.BytesIO(data[:-40]), "truncated.avro"))
    with pytest.raises(CaptureFileError, match=r"junk\.avro: not an Avro container"):
        list(read_capture(io.BytesIO(b"not avro at all"), "junk.avro"))


def test_inspect_cli_reads_azure_files(azure_capture_dir: Path, capsys, tmp_path: Path) -> None:
    files = sorted(str(p) for p in azure_capture_dir.glob("*.avro"))
    assert main(["capture", "inspect", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert '"enqueued_time": "2016-11-16T16:44:11Z"' in lines[0]
    bad = tmp_path / "bad.avro"
    bad.write_bytes(b"Obj\x01garbage")
    assert main(["capture", "inspect", str(bad)]) == 2
    assert "bad.avro" in capsys.readouterr().err
