from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.lake.bronze import ingest as bronze
from eda_lake.lake.delta import tables
from eda_lake.lake.discovery.listing import discover_recent
from eda_lake.lake.discovery.watch import WatchCursor, poll
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.maintenance import lifecycle
from eda_lake.lake.maintenance.compaction import compact_bronze
from eda_lake_tests.lake.helpers import ingest, synthetic_container

SEED_FORMAT = (
    "{EventHub}/{Year}/{Month}/{Day}/{Hour}/"
    "{EventHub}_{Year}_{Month}_{Day}_{Hour}_{Minute}_{Second}_{PartitionId}_{Namespace}"
)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _touch(root: Path, names: ArchiveNameFormat, hub: str, minutes_ago: int) -> str:
    relative = names.render("ns", hub, "0", NOW - timedelta(minutes=minutes_ago))
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    (root / relative).write_bytes(b"")
    return relative


@pytest.mark.parametrize("template", [ArchiveNameFormat().template, SEED_FORMAT])
def test_recent_discovery_prunes_old_prefixes(tmp_path: Path, template: str) -> None:
    names = ArchiveNameFormat(template)
    old = [_touch(tmp_path, names, "orders", m) for m in (60 * 24 * 40, 60 * 30, 200)]
    recent = [_touch(tmp_path, names, "orders", m) for m in (90, 5)]
    found = discover_recent(pafs.LocalFileSystem(), str(tmp_path), names, NOW - timedelta(hours=2))
    assert [f.path for f in found] == sorted(recent)
    assert not set(old) & {f.path for f in found}


def test_poll_announces_each_file_once_and_resumes_after_restart(tmp_path: Path) -> None:
    names, fs = ArchiveNameFormat(), pafs.LocalFileSystem()
    first = _touch(tmp_path, names, "orders", 3)
    new, cursor = poll(
        fs, str(tmp_path), names, WatchCursor(), lateness=timedelta(hours=2), now=NOW
    )
    assert [f.path for f in new] == [first]
    late = _touch(tmp_path, names, "orders", 50)  # a slow partition closes an older window
    restored = WatchCursor.from_json(cursor.to_json())  # the daemon restarted
    new, cursor = poll(
        fs,
        str(tmp_path),
        names,
        restored,
        lateness=timedelta(hours=2),
        now=NOW + timedelta(minutes=1),
    )
    assert [f.path for f in new] == [late]
    new, _ = poll(
        fs,
        str(tmp_path),
        names,
        cursor,
        lateness=timedelta(hours=2),
        now=NOW + timedelta(minutes=2),
    )
    assert new == []
    assert set(json.loads(cursor.to_json())["seen"]) == {first, late}


def test_compaction_keeps_every_row_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: LakeLayout
) -> None:
    root = tmp_path / "container"
    synthetic_container(root, files=8, events_per_file=500)
    monkeypatch.setattr(bronze, "MAX_FILES_PER_COMMIT", 1)  # a small file per capture file
    ingest(layout, root)
    table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert table is not None
    before = tables.query(
        "SELECT count(*) AS n, sum(sequence_number) AS s FROM b", b=table
    ).to_pylist()
    files_before = len(table.file_uris())
    report = compact_bronze(layout)
    after_table = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert after_table is not None
    assert report.files_removed >= files_before - 1 > 0
    assert len(after_table.file_uris()) < files_before
    after = tables.query(
        "SELECT count(*) AS n, sum(sequence_number) AS s FROM b", b=after_table
    ).to_pylist()
    assert after == before
    # the version before compaction still reads the same rows (readers mid-compaction)
    older = tables.open_table(layout.bronze_uri, layout.storage_options)
    assert older is not None
    older.load_as_version(after_table.version() - 1)
    assert (
        tables.query("SELECT count(*) AS n FROM b", b=older).to_pylist()[0]["n"] == before[0]["n"]
    )


def test_default_policy_is_valid_and_safe_for_delta_tables() -> None:
    rules = lifecycle.validate(lifecycle.default_policy())
    by_name = {r.name: r for r in rules}
    assert by_name["capture-short-lived"].actions == {"delete": 7}
    assert "delete" not in by_name["bronze-tiering"].actions
    assert not any(r.prefixes[0].startswith("lake/gold") for r in rules)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: p["rules"][1]["definition"]["actions"]["baseBlob"].update(
                {"delete": {"daysAfterModificationGreaterThan": 400}}
            ),
            "corrupt",
        ),
        (
            lambda p: p["rules"][0]["definition"]["actions"]["baseBlob"].update(
                {"tierToCool": {"daysAfterModificationGreaterThan": 30}}
            ),
            "days must grow",
        ),
        (lambda p: p["rules"][0].update({"name": "bad name!"}), "name must be"),
        (lambda p: p["rules"].append(dict(p["rules"][0])), "unique"),
        (
            lambda p: p["rules"][0]["definition"]["filters"].update({"blobTypes": ["pageBlob"]}),
            "blobTypes",
        ),
        (  # a delete on silver's Parquet files, or on files beside the lake
            lambda p: p["rules"][0]["definition"]["filters"].update(
                {"prefixMatch": ["capture/../lake/silver"]}
            ),
            r"prefixMatch 'capture/\.\./lake/silver' leaves",
        ),
        (
            lambda p: p["rules"][0]["definition"]["filters"].update(
                {"prefixMatch": ["capture/%2E%2E/%2E%2E/home"]}
            ),
            "percent-encoded",
        ),
    ],
)
def test_invalid_policies_are_refused_with_the_rule_named(mutate, message: str) -> None:
    policy = lifecycle.default_policy()
    mutate(policy)
    with pytest.raises(lifecycle.LifecyclePolicyError, match=message):
        lifecycle.validate(policy)


def test_enforcement_deletes_expired_capture_and_records_tiers(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path / "lake")
    layout.create()
    old_capture = layout.capture / "ns/hub/0/2026/01/01/00/00/00.avro"
    old_capture.parent.mkdir(parents=True)
    old_capture.write_bytes(b"x")
    fresh_capture = layout.capture / "ns/hub/0/2026/11/27/00/00/00.avro"
    fresh_capture.parent.mkdir(parents=True)
    fresh_capture.write_bytes(b"x")
    bronze_file = layout.root / "bronze/hub=h/date=2026-01-01/part-0.parquet"
    bronze_file.parent.mkdir(parents=True)
    bronze_file.write_bytes(b"x")
    now = time.time()
    os.utime(old_capture, (now - 8 * 86400, now - 8 * 86400))
    os.utime(bronze_file, (now - 40 * 86400, now - 40 * 86400))
    rules = lifecycle.validate(lifecycle.default_policy())
    containers = lifecycle.local_containers(layout)
    report = lifecycle.enforce(layout, rules, containers, now=now)
    assert report.deleted == ["capture/ns/hub/0/2026/01/01/00/00/00.avro"]
    assert not old_capture.exists() and fresh_capture.exists() and bronze_file.exists()
    assert report.tier_moves == {"lake/bronze/hub=h/date=2026-01-01/part-0.parquet": "cool"}
    again = lifecycle.enforce(layout, rules, containers, now=now)
    assert again.tier_moves == {} and again.deleted == []


def test_enforcement_on_the_lake_areas(layout: LakeLayout) -> None:
    lake = "lake" if layout.local else layout.fs_root
    containers = lifecycle.local_containers(layout) if layout.local else {lake: lake}
    rules = lifecycle.validate(lifecycle.default_policy(lake=lake), lake=lake)
    files = {
        "bronze": layout.fs_path("bronze", "hub=h", "date=2026-01-01", "part-0.parquet"),
        "quarantine": layout.fs_path("quarantine", "capture", "ns", "x.avro"),
        "gold": layout.fs_path("gold", "funnel_daily", "part-0.parquet"),
    }
    for path in files.values():
        layout.fs.create_dir(path.rpartition("/")[0], recursive=True)
        with layout.fs.open_output_stream(path) as out:
            out.write(b"x")
    in_40_days = time.time() + 40 * 86400
    report = lifecycle.enforce(layout, rules, containers, now=in_40_days)
    assert sorted(report.tier_moves.values()) == ["cool", "cool"] and report.deleted == []
    report = lifecycle.enforce(layout, rules, containers, now=in_40_days + 400 * 86400)
    assert report.deleted == [f"{lake}/quarantine/capture/ns/x.avro"]
    assert list(report.tier_moves.values()) == ["cold"]  # bronze: online, never deleted
    assert layout.fs.get_file_info(files["gold"]).type == pafs.FileType.File  # gold is kept
