"""Dagster's instance holds no personal data and is readable by its owner alone.

The lake's jobs run through Dagster on customers whose emails and names are known (the
simulation's seeded people): `eda-lake demo`, bronze by Dagster's own CLI, an ingestion
launched in `make dev`, each started with a permissive umask and with DAGSTER_HOME outside
EDA_LAKE_HOME. Then every path's mode under DAGSTER_HOME is read, and every store there is
decoded (each SQLite database cell by cell, decompressed where Dagster compresses, JSON
unescaped; compute logs; every other file byte for byte) and searched for them.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

from eda_lake.demo import run_demo
from eda_lake.lake.silver.masking import DEMO_PII_KEY
from eda_lake.settings import REPO_ROOT, Settings
from eda_lake.simulation import world
from eda_lake_tests.defs.helpers import TEST_PII_KEY, make_dev
from eda_lake_tests.simulation.helpers import captured_chain

SEED, CUSTOMERS = 5, 30
RUN_S = 300
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _views(data: bytes) -> Iterator[bytes]:
    """`data` and what it decodes to: zlib and gzip streams, JSON with its escapes undone."""
    yield data
    if not data:
        return  # gzip "decompresses" nothing into nothing
    for decompress in (zlib.decompress, gzip.decompress):
        try:
            inflated = decompress(data)
        except (zlib.error, OSError, EOFError):
            continue
        yield from _views(inflated)
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return
    yield json.dumps(parsed, ensure_ascii=False).encode()


def _sqlite_cells(path: Path) -> Iterator[tuple[str, bytes]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        listed = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for table in [row[0] for row in listed]:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        yield table, value
                    elif value is not None:
                        yield table, str(value).encode()
    finally:
        connection.close()


def stores_holding(root: Path, needles: Iterable[str]) -> dict[str, set[str]]:
    """Where under `root` each needle is found, raw or decoded: file -> needles (a database
    table as `file:table`)."""
    wanted = {needle: needle.encode() for needle in needles}
    found: dict[str, set[str]] = {}

    def search(where: str, data: bytes) -> None:
        for view in _views(data):
            hits = {needle for needle, raw in wanted.items() if raw in view}
            if hits:
                found.setdefault(where, set()).update(hits)

    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        search(str(path.relative_to(root)), data)
        if data.startswith(b"SQLite format 3\x00"):
            for table, cell in _sqlite_cells(path):
                search(f"{path.relative_to(root)}:{table}", cell)
    return found


def not_owner_only(root: Path) -> dict[str, str]:
    """Paths under `root` (itself included) that are not 0700 directories or 0600 files."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong[str(path.relative_to(root))] = oct(mode)
    return wrong


def test_after_the_demo_dagster_home_holds_no_personal_data_and_is_owner_only(
    tmp_path: Path, permissive_umask: None
) -> None:
    home, dagster_home = tmp_path / "home", tmp_path / "elsewhere" / "dagster_home"
    _loose_instance(dagster_home)  # as an earlier `make demo` made it, before eda-lake runs
    settings = Settings(home=home, dagster_instance=dagster_home)
    report = run_demo(settings, customers=CUSTOMERS, seed=SEED)
    assert report.chain.customers == CUSTOMERS and report.bronze.rows > 0

    assert not_owner_only(dagster_home) == {}  # before the search opens its databases
    people = world.people(SEED, CUSTOMERS)
    personal = {p.email for p in people} | {p.full_name for p in people}
    secret = DEMO_PII_KEY  # the key that masks them: no secret in Dagster either
    # The search finds them where they are meant to be: raw in the hub's event bodies.
    in_hub = stores_holding(home / "hub", personal)
    assert {p.email for p in people} <= set().union(*in_hub.values())

    assert stores_holding(dagster_home, {*personal, secret}) == {}
    assert any(dagster_home.glob("storage/*/compute_logs/*")), "no compute log was searched"
    assert any(dagster_home.glob("history/runs/*.db")), "no event log was searched"


def _loose_instance(dagster_home: Path) -> None:
    """An instance directory made by someone else, open to all, with its configuration."""
    dagster_home.mkdir(parents=True)
    dagster_home.chmod(0o755)
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    (dagster_home / "dagster.yaml").chmod(0o644)


def test_a_run_by_dagsters_own_process_keeps_its_instance_owner_only(tmp_path: Path) -> None:
    """Dagster's CLI, started with a permissive umask, loads the code location and runs
    bronze there: its databases and logs are created owner-only, without personal data."""
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    captured_chain(Settings(home=home), seed=SEED, customers=CUSTOMERS)
    _loose_instance(dagster_home)
    env = {
        **os.environ,
        "EDA_LAKE_HOME": str(home),
        "EDA_LAKE_PII_KEY": TEST_PII_KEY,
        "DAGSTER_HOME": str(dagster_home),
    }
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "asset", "materialize", "-m", "eda_lake.definitions"]
    done = subprocess.run(
        [*command, "--select", "bronze/events"],
        env=env, cwd=REPO_ROOT, umask=0o022, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

    assert not_owner_only(dagster_home) == {}
    assert any(dagster_home.glob("storage/*/compute_logs/*")), "no compute log was searched"
    people = world.people(SEED, CUSTOMERS)
    personal = {p.email for p in people} | {p.full_name for p in people}
    assert stores_holding(dagster_home, {*personal, TEST_PII_KEY}) == {}


@pytest.mark.slow
def test_a_run_launched_in_make_dev_keeps_its_instance_owner_only(tmp_path: Path) -> None:
    """`make dev` (webserver, daemon, code server) started from a permissive shell; an
    ingestion run submitted as the UI submits it, queued by the daemon and executed by a run
    worker: the instance it makes is owner-only and holds no personal data."""
    home, dagster_home = tmp_path / "home", tmp_path / "elsewhere" / "dagster_home"
    captured_chain(Settings(home=home), seed=SEED, customers=CUSTOMERS)
    log = tmp_path / "dev.log"
    with make_dev(home, dagster_home, log, EDA_LAKE_PII_KEY=TEST_PII_KEY) as url:
        client = DagsterGraphQLClient("127.0.0.1", port_number=urlsplit(url).port)
        run_id = client.submit_job_execution("ingest_job", repository_location_name="eda_lake")
        deadline = time.monotonic() + RUN_S
        while (status := client.get_run_status(run_id)) not in FINISHED:
            assert time.monotonic() < deadline, f"ingest_job still {status} after {RUN_S} s"
            time.sleep(1)
        assert status is DagsterRunStatus.SUCCESS, log.read_text()[-3000:]

    assert not_owner_only(dagster_home) == {}
    assert any(dagster_home.glob("storage/*/compute_logs/*")), "no compute log was searched"
    people = world.people(SEED, CUSTOMERS)
    personal = {p.email for p in people} | {p.full_name for p in people}
    assert stores_holding(dagster_home, {*personal, TEST_PII_KEY}) == {}


def test_the_search_decodes_what_dagster_compresses_and_escapes(tmp_path: Path) -> None:
    """A needle in a zlib-compressed JSON cell, escaped as \\u, is found; so is one in a
    gzip file; a store without it is not reported."""
    database = tmp_path / "store.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE snapshots (body BLOB, other TEXT)")
        compressed = zlib.compress(json.dumps({"value": "Zoë Weber"}).encode())
        connection.execute("INSERT INTO snapshots VALUES (?, ?)", (compressed, "nothing"))
    connection.close()
    (tmp_path / "log.gz").write_bytes(gzip.compress(b"ada.weber.1@example.com"))
    (tmp_path / "clean.txt").write_text("nobody here")
    found = stores_holding(tmp_path, {"Zoë Weber", "ada.weber.1@example.com", "Uma Urban"})
    assert found == {
        "store.db:snapshots": {"Zoë Weber"},
        "log.gz": {"ada.weber.1@example.com"},
    }
