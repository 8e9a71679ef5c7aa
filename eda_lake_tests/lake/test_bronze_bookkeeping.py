"""Bronze's "this file is in" knowledge: nothing lost, nothing stuck, bookkeeping that stays
small, and an earlier file retried after later ones of its stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.delta import tables
from eda_lake.lake.discovery.listing import discover_all
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import MAX_TRANSIENT_ATTEMPTS, Quarantine
from eda_lake_tests.lake.helpers import NAMES, bronze_rows, ingest, synthetic_container


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.avro"))


def test_half_written_file_lands_once_complete_even_after_later_files(
    tmp_path: Path, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    events = synthetic_container(root, files=8, events_per_file=50)  # 2 windows x 4 partitions
    first_window = _files(root)[0]  # partition 0, earliest window of its stream
    complete = first_window.read_bytes()
    first_window.write_bytes(complete[: len(complete) // 2])  # seen while half written

    report = ingest(layout, root)
    assert (report.files_ingested, report.files_quarantined) == (7, 1)
    assert "corrupt or truncated" in report.quarantined[0]
    # Later files of the same stream are in; the earlier one is not "done" because of them.
    first_window.write_bytes(complete)
    again = ingest(layout, root)
    assert (again.files_ingested, again.files_retried, again.files_resolved) == (1, 1, 1)
    assert again.files_already_ingested == 7
    rows = bronze_rows(layout)
    assert len(rows) == events
    assert len({(r["partition_id"], r["sequence_number"]) for r in rows}) == events
    assert Quarantine(layout).quarantined_files() == {}
    [resolved] = Quarantine(layout).files(include_resolved=True).to_pylist()
    assert resolved["resolved_at"] is not None and resolved["attempts"] == 1
    assert ingest(layout, root).files_ingested == 0  # and nothing more, ever


class _FlakyOpens(pafs.FileSystemHandler):  # type: ignore[misc]
    """The local filesystem, except that opening `path` fails `failures` times: a storage
    error or a permission problem that clears up (root ignores file permissions)."""

    def __init__(self, path: str, failures: int) -> None:
        self.local = pafs.LocalFileSystem()
        self.path = path
        self.failures = failures

    def _fail(self, path: str) -> None:
        if path == self.path and self.failures > 0:
            self.failures -= 1
            raise PermissionError(13, "Permission denied", path)

    def open_input_file(self, path: str) -> Any:
        self._fail(path)
        return self.local.open_input_file(path)

    def open_input_stream(self, path: str) -> Any:
        self._fail(path)
        return self.local.open_input_stream(path)

    def get_type_name(self) -> str:
        return "flaky"

    def get_file_info(self, paths: list[str]) -> Any:
        return self.local.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> Any:
        return self.local.get_file_info(selector)

    def equals(self, other: Any) -> bool:
        return other is self

    # Everything else as the local filesystem.
    def normalize_path(self, path: str) -> str:
        return path

    def create_dir(self, path: str, recursive: bool) -> None:
        self.local.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self.local.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self.local.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise PermissionError("not in tests")

    def delete_file(self, path: str) -> None:
        self.local.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self.local.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        self.local.copy_file(src, dest)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        return self.local.open_output_stream(path)

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        return self.local.open_append_stream(path)


def _flaky_ingest(layout: LakeLayout, root: Path, handler: _FlakyOpens) -> Any:
    fs = pafs.PyFileSystem(handler)
    return BronzeIngestor(layout, fs, str(root)).ingest(discover_all(fs, str(root), NAMES))


def test_briefly_unreadable_file_is_retried_by_itself(tmp_path: Path, layout: LakeLayout) -> None:
    root = tmp_path / "container"
    events = synthetic_container(root, files=4, events_per_file=10)
    flaky = _FlakyOpens(str(_files(root)[1]), failures=4)  # the read, then the copy aside
    first = _flaky_ingest(layout, root, flaky)
    assert (first.files_ingested, first.files_quarantined) == (3, 1)
    assert "unreadable" in first.quarantined[0] and "Permission denied" in first.quarantined[0]
    [row] = Quarantine(layout).files().to_pylist()
    assert row["transient"] and row["attempts"] == 1
    second = _flaky_ingest(layout, root, flaky)  # still failing: one more attempt, recorded
    assert (second.files_ingested, second.files_quarantined) == (0, 1)
    assert Quarantine(layout).files().to_pylist()[0]["attempts"] == 2
    third = _flaky_ingest(layout, root, flaky)  # cleared up: in, once, resolved
    assert (third.files_ingested, third.files_resolved) == (1, 1)
    assert len(bronze_rows(layout)) == events


def test_a_file_that_keeps_failing_is_retried_a_bounded_number_of_times(
    tmp_path: Path, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=1, events_per_file=3)
    flaky = _FlakyOpens(str(_files(root)[0]), failures=10**6)
    for _ in range(MAX_TRANSIENT_ATTEMPTS + 2):
        _flaky_ingest(layout, root, flaky)
    [row] = Quarantine(layout).files().to_pylist()
    assert row["attempts"] == MAX_TRANSIENT_ATTEMPTS
    assert _flaky_ingest(layout, root, flaky).files_still_quarantined == 1
    # `quarantine retry` after the fix tries again regardless of the count
    flaky.failures = 0
    files = discover_all(pafs.LocalFileSystem(), str(root), NAMES)
    retried = BronzeIngestor(layout, pafs.LocalFileSystem(), str(root)).ingest(
        files, retry_quarantined=True
    )
    assert (retried.files_ingested, retried.files_resolved) == (1, 1)


def _app_ids(layout: LakeLayout) -> set[str]:
    ids = set()
    log = pafs.FileSelector(layout.fs_path("bronze", "_delta_log"))
    for info in layout.fs.get_file_info(log):
        if not info.path.endswith(".json"):
            continue
        with layout.fs.open_input_stream(info.path) as stream:
            lines = stream.read().decode().splitlines()
        for line in lines:
            action = json.loads(line)
            if "txn" in action:
                ids.add(action["txn"]["appId"])
    return ids


def test_bookkeeping_is_one_transaction_per_stream_however_many_files(
    tmp_path: Path, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=24, events_per_file=2, partitions=4)
    ingest(layout, root)
    synthetic_container(tmp_path / "more", files=48, events_per_file=2, partitions=4)
    for path in _files(tmp_path / "more"):
        target = root / path.relative_to(tmp_path / "more")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
    report = ingest(layout, root)
    assert (report.files_ingested, report.files_already_ingested) == (24, 24)
    assert _app_ids(layout) == {f"stream:shop-ns/orders/{p}" for p in range(4)}


def test_a_group_that_fails_leaves_no_data_files_behind(tmp_path: Path, layout: LakeLayout) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=4, events_per_file=20)
    last = _files(root)[-1]
    last.write_bytes(last.read_bytes()[:-30])  # read after three good ones: the group fails
    ingest(layout, root)
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    referenced = {uri.rpartition("/")[2] for uri in table.file_uris()}
    selector = pafs.FileSelector(layout.fs_path("bronze"), recursive=True)
    on_storage = {
        info.base_name
        for info in layout.fs.get_file_info(selector)
        if info.base_name.endswith(".parquet")
    }
    assert on_storage == referenced
    assert len(bronze_rows(layout)) == 60
