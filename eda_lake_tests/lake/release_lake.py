"""A home made by a released eda-lake, kept as a fixture so that later releases are tested on
a lake they did not write: `python -m eda_lake_tests.lake.release_lake` makes a new one.

The home holds every area: capture files (one damaged, so quarantined at bronze), bronze,
silver event tables and entities, gold, and an event quarantined at silver, plus the hub,
registry and team stores. `manifest.json` records what the releasing code counted, and the
commit that made it. The personal data in it is the simulation's synthetic people.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

from eda_lake.capture.runtime import run_capture
from eda_lake.events.cloudevents import CloudEvent
from eda_lake.hub.base import EventData
from eda_lake.hub.factory import make_local_hub
from eda_lake.lake.delta import tables
from eda_lake.lake.runtime import Lake
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation import world
from eda_lake_tests.simulation.helpers import captured_chain

FIXTURES = Path(__file__).parent / "fixtures"
# A test key, not a secret: it masks the synthetic people of this fixture only.
PII_KEY = "release-lake-fixture-key-not-a-secret"
SEED, CUSTOMERS = 11, 40
BAD_EVENT_ID = "release-lake-bad-body"
DAMAGED_FILE = "eda-lake-local/customer-created/3/2026/01/01/00/00/00.avro"


def lake_tables(lake: Lake) -> dict[str, DeltaTable]:
    """Every Delta table of a local lake, by `area.name` (bronze by its area alone)."""
    found = {}
    for area in ("bronze", "silver", "gold", "quarantine"):
        root = Path(lake.layout.fs_root) / area
        candidates = [root] if (root / "_delta_log").is_dir() else sorted(root.iterdir())
        for path in candidates:
            table = tables.open_table(str(path), lake.layout.storage_options)
            if table is not None:
                found[area if path == root else f"{area}.{path.name}"] = table
    return found


def table_counts(lake: Lake) -> dict[str, int]:
    return {name: table.count() for name, table in lake_tables(lake).items()}


def make_home(home: Path) -> dict[str, Any]:
    settings = Settings(home=home)
    captured_chain(settings, seed=SEED, customers=CUSTOMERS)
    lake = Lake(settings, pii_key=PII_KEY)
    spec = lake.catalogue.event("CustomerCreated")
    hub = make_local_hub(settings)
    try:
        [good] = hub.read(spec.hub, "0", None, 1)
        envelope = CloudEvent(BAD_EVENT_ID, "/release", spec.cloudevents_type(), world.EPOCH)
        hub.send(
            spec.hub,
            [EventData(b"\xff\xff\xff\xff", envelope.to_properties(), "k", good.content_type)],
        )
    finally:
        hub.close()
    run_capture(settings, flush=True)
    damaged = Path(lake.source.root) / DAMAGED_FILE
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"Obj\x01 not an avro container")
    lake.ingest()
    lake.silver()
    lake.gold()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {"made_by": commit, "seed": SEED, "customers": CUSTOMERS, "rows": table_counts(lake)}


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        manifest = make_home(home)
        (home / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        FIXTURES.mkdir(exist_ok=True)
        target = FIXTURES / f"lake-made-by-{manifest['made_by']}.tar.gz"
        with tarfile.open(target, "w:gz") as archive:
            archive.add(home, arcname="home")
    print(target, file=sys.stderr)


if __name__ == "__main__":
    main()
