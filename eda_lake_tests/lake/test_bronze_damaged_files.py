"""One damaged capture file never blocks bronze: it is quarantined with its reason, the good
files of the same run land (seen: a damaged header byte failed every `eda-lake ingest`)."""

from __future__ import annotations

from pathlib import Path

from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake_tests.lake.helpers import bronze_rows, ingest, synthetic_container


def test_damaged_headers_are_quarantined_and_the_rest_lands(
    tmp_path: Path, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    events = synthetic_container(root, files=4, events_per_file=25)
    paths = sorted(root.rglob("*.avro"))
    schema_byte, codec_name = paths[0], paths[1]
    data = bytearray(schema_byte.read_bytes())
    data[data.index(b'"SequenceNumber"') + 2] = 0xA2  # not UTF-8: was UnicodeDecodeError
    schema_byte.write_bytes(bytes(data))
    data = bytearray(codec_name.read_bytes())
    data[data.index(b"null")] = 0xFF
    codec_name.write_bytes(bytes(data))

    report = ingest(layout, root)
    assert (report.files_ingested, report.files_quarantined) == (2, 2)
    assert report.rows == len(bronze_rows(layout)) == events // 2
    quarantined = {str(p.relative_to(root)) for p in (schema_byte, codec_name)}
    assert set(Quarantine(layout).quarantined_files()) == quarantined
    reasons = "\n".join(report.quarantined)
    assert "corrupt header: avro.schema is not UTF-8" in reasons
    assert "corrupt header: avro.codec is not UTF-8" in reasons
