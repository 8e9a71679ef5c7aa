"""A lake made by a released eda-lake is read, extended and rebuilt by this one."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from eda_lake.capture.runtime import run_capture
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.lake.silver.evolution import pending_upgrades
from eda_lake.settings import Settings
from eda_lake.simulation.runtime import Simulation
from eda_lake_tests.lake.release_lake import (
    BAD_EVENT_ID,
    FIXTURES,
    PII_KEY,
    lake_tables,
    table_counts,
)

RELEASES = sorted(FIXTURES.glob("lake-made-by-*.tar.gz"))


@pytest.fixture(params=RELEASES, ids=[r.name.removesuffix(".tar.gz") for r in RELEASES])
def released(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Lake, dict[str, Any]]:
    with tarfile.open(request.param) as archive:
        archive.extractall(tmp_path / "released", filter="data")
    home = tmp_path / "released" / "home"
    manifest = json.loads((home / "manifest.json").read_text())
    return Lake(Settings(home=home), pii_key=PII_KEY), manifest


def _versions(lake: Lake) -> dict[str, int]:
    return {name: table.version() for name, table in lake_tables(lake).items()}


def _content(lake: Lake, area: str, name: str) -> list[str]:
    table = tables.open_table(lake.layout.table_uri(area, name), lake.layout.storage_options)
    assert table is not None, name
    return sorted(map(str, tables.query("SELECT * FROM t", t=table).to_pylist()))


DERIVED = [
    ("silver", "customer_created"),
    ("silver", "lead_generated"),
    ("silver", "sale_confirmed"),
    ("silver", "customers"),
    ("silver", "leads"),
    ("silver", "sales"),
    ("gold", "funnel_daily"),
    ("gold", "sales_daily"),
    ("gold", "abandoned_customers"),
]


def test_a_released_lake_is_read_as_it_was(released: tuple[Lake, dict[str, Any]]) -> None:
    lake, manifest = released
    assert table_counts(lake) == manifest["rows"]
    assert lake.quarantine.quarantined_files() and lake.quarantine.events().num_rows == 1
    upgraded = pending_upgrades(lake.layout, lake.catalogue)  # written with 32-bit columns
    before = _versions(lake)
    lake.ingest()
    lake.silver()
    lake.gold()
    assert not pending_upgrades(lake.layout, lake.catalogue)  # as this release writes them
    if not upgraded:
        assert _versions(lake) == before  # nothing new: nothing rewritten


def test_a_released_lake_is_extended_and_rebuilt(
    released: tuple[Lake, dict[str, Any]], tmp_path: Path
) -> None:
    lake, manifest = released
    simulation = Simulation(lake.settings)
    try:
        simulation.publish_customers(seed=manifest["seed"] + 1, count=5)
        simulation.subscriber("conversions").run()
    finally:
        simulation.close()
    run_capture(lake.settings, flush=True)
    lake.ingest()
    lake.silver()
    lake.gold()
    customers = manifest["customers"] + 5
    assert table_counts(lake)["silver.customers"] == customers
    extended = {(area, name): _content(lake, area, name) for area, name in DERIVED}

    lake.recovery.rebuild()
    assert {(a, n): _content(lake, a, n) for a, n in DERIVED} == extended
    [open_event] = lake.quarantine.events().to_pylist()  # still undecodable: still open
    assert open_event["ce_id"] == BAD_EVENT_ID

    # the same capture files through this release alone give the same tables
    fresh = Settings(home=tmp_path / "fresh")
    fresh.home.mkdir(mode=0o700)
    shutil.copytree(lake.settings.lake_dir / "capture", fresh.lake_dir / "capture")
    shutil.copy(lake.settings.registry_file, fresh.registry_file)
    alone = Lake(fresh, pii_key=PII_KEY)
    alone.ingest()
    alone.silver()
    alone.gold()
    assert {(a, n): _content(alone, a, n) for a, n in DERIVED} == extended
