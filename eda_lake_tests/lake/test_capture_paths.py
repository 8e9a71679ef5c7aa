"""Capture paths stay inside the capture root whatever names them: a run's file list, a
CaptureFileCreated message, a listing; and quarantine never writes outside the lake."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pyarrow.fs as pafs
import pytest

from eda_lake.capture.naming import CapturePathError, capture_path
from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.discovery.listing import discover_all, discover_recent, files_at
from eda_lake.lake.discovery.notifications import NotificationError, parse_notification
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake.lake.runtime import Lake
from eda_lake.settings import Settings
from eda_lake_tests.defs.helpers import resource
from eda_lake_tests.lake.helpers import NAMES, bronze_rows, synthetic_container

FILE = "shop-ns/orders/0/2026/11/01/00/00/00.avro"  # synthetic_container's first file
# Each spelling of a path out of the capture root, and how it is refused.
HOSTILE = {
    f"../../outside/{FILE}": "leaves its root",
    f"shop-ns/../../../outside/{FILE}": "leaves its root",
    f"/tmp/outside/{FILE}": "is absolute",
    f"%2E%2E/%2E%2E/outside/{FILE}": "percent-encoded",
    f"..%2F..%2Foutside/{FILE}": "percent-encoded",
    f"..\\..\\outside\\{FILE}": "backslash",
    f"shop-ns/orders\x00/{FILE}": "control character",
    "./": "names no file",
}


@pytest.fixture
def home_with_outside_file(tmp_path: Path) -> Settings:
    """A home whose capture root holds one file, and a valid capture file beside the home
    (`../../outside/...` from the capture root) that no path may reach."""
    settings = Settings(home=tmp_path / "home")
    synthetic_container(settings.lake_dir / "capture", files=1, events_per_file=2)
    synthetic_container(tmp_path / "home" / "outside", files=1, events_per_file=5)
    return settings


def test_a_capture_path_is_normalised_or_refused_naming_it() -> None:
    assert capture_path("./shop-ns//orders/0/2026/11/01/00/00/00.avro/") == FILE
    for path, why in HOSTILE.items():
        with pytest.raises(CapturePathError, match=why) as refused:
            capture_path(path)
        assert repr(path) in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("path", list(HOSTILE))
def test_a_file_list_naming_a_path_out_of_the_root_is_refused_before_any_read(
    home_with_outside_file: Settings, path: str
) -> None:
    lake = Lake(home_with_outside_file)
    with pytest.raises(CapturePathError, match="capture file path"):
        lake.capture_files_at([FILE, path])
    assert [f.path for f in lake.capture_files_at([f"./{FILE}"])] == [FILE]


def test_a_bronze_run_whose_files_config_leaves_the_root_fails_and_lands_nothing(
    home_with_outside_file: Settings,
) -> None:
    from eda_lake.definitions import defs

    hostile = f"../../outside/{FILE}"
    run = defs.resolve_job_def("ingest_job").execute_in_process(
        run_config={"ops": {"bronze__events": {"config": {"files": [FILE, hostile]}}}},
        resources={"eda_lake": resource(home_with_outside_file.home)},
        raise_on_error=False,
    )
    assert not run.success
    [failure] = [e for e in run.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    assert error is not None and error.cause is not None
    assert error.cause.cls_name == "CapturePathError"
    assert "leaves its root" in error.cause.message
    assert bronze_rows(LakeLayout.from_settings(home_with_outside_file)) == []


def _notification(url: str) -> str:
    data = {"fileUrl": url, "partitionId": "0", "eventCount": 1, "sizeInBytes": 9}
    return json.dumps({"eventType": "Microsoft.EventHub.CaptureFileCreated", "data": data})


@pytest.mark.parametrize(
    "blob",
    [
        f"shop-ns/../../outside/{FILE}",  # plain dots, left in the URL
        f"..%2F..%2Foutside/{FILE}",  # a separator percent-encoded in the URL
        f"%2E%2E/%2E%2E/outside/{FILE}",  # the dots percent-encoded
        f"%252E%252E/outside/{FILE}",  # encoded twice: '%2E%2E' once decoded
        f"shop-ns%5C..%5C..%5Coutside/{FILE}",  # backslashes
    ],
)
def test_a_notification_naming_a_path_out_of_the_root_is_refused(blob: str) -> None:
    url = f"https://acct.blob.core.windows.net/capture/{blob}"
    with pytest.raises(NotificationError, match="capture file path") as refused:
        parse_notification(_notification(url), "capture")
    assert url in str(refused.value)


class _ListingWithEscapes(pafs.FileSystemHandler):  # type: ignore[misc]
    """A local directory whose listing also names a blob `shop-ns/%2E%2E/...`, and which
    decodes the paths it opens as a URL-addressed store does (a blob's name is any text)."""

    def __init__(self, root: str, escapes: list[str]) -> None:
        self.local, self.root, self.escapes = pafs.LocalFileSystem(), root, escapes

    def get_type_name(self) -> str:
        return "listing-with-an-escape"

    def normalize_path(self, path: str) -> str:
        return path

    def equals(self, other: object) -> bool:
        return self is other

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.local.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        listed = list(self.local.get_file_info(selector))
        if selector.base_dir.rstrip("/") == self.root:
            listed += [
                pafs.FileInfo(f"{self.root}/{escape}", pafs.FileType.File, size=1)
                for escape in self.escapes
            ]
        return listed

    def open_input_stream(self, path: str) -> pafs.NativeFile:
        return self.local.open_input_stream(os.path.normpath(unquote(path)))

    def open_input_file(self, path: str) -> pafs.NativeFile:
        return self.local.open_input_file(os.path.normpath(unquote(path)))

    def create_dir(self, path: str, recursive: bool) -> None:
        raise NotImplementedError

    delete_dir = delete_dir_contents = delete_root_dir_contents = delete_file = create_dir
    move = copy_file = open_output_stream = open_append_stream = create_dir


def test_a_listed_path_out_of_the_root_is_quarantined_unread_and_not_copied(
    home_with_outside_file: Settings,
) -> None:
    root = str(home_with_outside_file.lake_dir / "capture")
    encoded = f"shop-ns/%2E%2E/%2E%2E/%2E%2E/outside/{FILE}"
    dotted = f"shop-ns/../../../outside/{FILE}"
    fs = pafs.PyFileSystem(_ListingWithEscapes(root, [encoded, dotted]))
    layout = LakeLayout.from_settings(home_with_outside_file)
    files = discover_all(fs, root, NAMES)
    listed = {f.path: f.archive is not None for f in files}
    assert listed == {FILE: True, encoded: False, dotted: False}

    report = BronzeIngestor(layout, fs, root).ingest(files)
    assert report.files_ingested == 1 and report.files_quarantined == 2
    assert len(bronze_rows(layout)) == 2  # the capture root's file only, not the outside one
    reasons = dict(line.split(": ", 1) for line in report.quarantined)
    assert "percent-encoded" in reasons[encoded]
    assert "leaves its root" in reasons[dotted]
    assert not (home_with_outside_file.home / "lake" / "outside").exists()
    assert not (layout.root / "quarantine" / "capture" / "shop-ns").exists()


def test_quarantine_neither_reads_nor_writes_outside_for_a_path_out_of_the_root(
    home_with_outside_file: Settings, tmp_path: Path
) -> None:
    layout = LakeLayout.from_settings(home_with_outside_file)
    root = str(layout.capture)
    # From the capture root this is the outside file; from the quarantine area, a path
    # beside the lake.
    path = f"../../outside/{FILE}"
    Quarantine(layout).add_file(
        pafs.LocalFileSystem(), root, path, size=1, modified_at=None, reason="r", transient=False
    )
    [row] = Quarantine(layout).files().to_pylist()
    assert row["source_file"] == path and "leaves its root" in row["reason"]
    assert not (layout.root / "outside").exists()
    assert sorted(p.name for p in layout.root.iterdir()) == ["capture", "quarantine"]


def test_a_link_out_of_a_local_capture_root_is_never_listed_nor_read(tmp_path: Path) -> None:
    """A symbolic link in the local capture folder, to a file or a folder, may lead anywhere
    on the machine: what it leads to outside the root is skipped by every listing (a link
    within the root is an ordinary file)."""
    root, outside = tmp_path / "capture", tmp_path / "elsewhere"
    own = root / FILE
    own.parent.mkdir(parents=True)
    own.write_bytes(b"Obj\x01")
    (outside / "2026/11/01/00/00").mkdir(parents=True)
    (outside / "2026/11/01/00/00/00.avro").write_bytes(b"secret")
    (root / "shop-ns/orders/1").symlink_to(outside, target_is_directory=True)  # a folder
    linked = root / "shop-ns/orders/2/2026/11/01/00/00/00.avro"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(outside / "2026/11/01/00/00/00.avro")  # a file
    within = root / "shop-ns/orders/3/2026/11/01/00/00/00.avro"
    within.parent.mkdir(parents=True)
    within.symlink_to(own)
    fs, names = pafs.LocalFileSystem(), NAMES
    expected = [FILE, "shop-ns/orders/3/2026/11/01/00/00/00.avro"]
    assert [f.path for f in discover_all(fs, str(root), names)] == expected
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert [f.path for f in discover_recent(fs, str(root), names, since)] == expected
    asked = [p.replace(str(root) + "/", "") for p in map(str, (linked, within))]
    asked.append("shop-ns/orders/1/2026/11/01/00/00/00.avro")
    assert [f.path for f in files_at(fs, str(root), names, asked)] == expected[1:]
