"""A home or lake that cannot be used, storage that refuses the key, a full disk, a folder
that cannot be written: one line naming the thing and the fix, and nothing created or lost."""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eda_lake.settings import REPO_ROOT
from eda_lake_tests.cli.test_faults import EDA_LAKE, assert_one_line, run, tmpfs
from eda_lake_tests.lake.conftest import azurite_storage
from infra_scripts.azurite import ACCOUNT, Azurite

PII = {"EDA_LAKE_PII_KEY": "a-test-key-of-32-characters-long"}


def home_env(home: Path) -> dict[str, str]:
    return {"EDA_LAKE_HOME": str(home), **PII}


def succeeds(*args: str, env: dict[str, str]) -> None:
    result = run(EDA_LAKE, *args, env=env)
    assert result.returncode == 0, (args, result.stderr)


def small_lake(env: dict[str, str], customers: int = 50) -> None:
    """Events published, captured and in bronze."""
    for command in ("provision",), ("publish", "--customers", str(customers)):
        succeeds(*command, env=env)
    succeeds("capture", "run", "--flush", env=env)
    succeeds("ingest", env=env)


def fill(directory: Path) -> Path:
    """Write zeros into `directory` until its file system has no byte left."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, bytes(1 << 16))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


def test_a_home_that_is_a_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a home\n")
    a_file.chmod(0o644)
    for home in (a_file, a_file / "home"):
        for command in (("provision",), ("capture", "run"), ("silver",), ("sql", "SELECT 1")):
            result = run(EDA_LAKE, *command, env=home_env(home))
            assert_one_line(result, f"EDA_LAKE_HOME={home}", "a file, not a directory")
    assert a_file.read_text() == "not a home\n"
    assert a_file.stat().st_mode & 0o777 == 0o644  # not made "owner-only"


def test_a_home_where_no_directory_can_be_made(tmp_path: Path) -> None:
    captured = tmp_path / "captured"
    captured.mkdir()
    env = home_env(Path("/proc/eda-lake-home"))
    for command in (
        ("provision",),
        ("capture", "run"),
        ("ingest", "--capture-root", str(captured)),
    ):
        result = run(EDA_LAKE, *command, env=env)
        assert_one_line(result, "cannot create /proc/eda-lake-home", "EDA_LAKE_HOME")


def test_readers_refuse_a_home_without_a_lake(tmp_path: Path) -> None:
    mistyped = tmp_path / "eda_lake_hoem"
    for command in (("silver",), ("gold",), ("sql", "SELECT 1"), ("quarantine", "list")):
        result = run(EDA_LAKE, *command, env=home_env(mistyped))
        assert_one_line(result, f"no lake at {mistyped / 'lake'}", "EDA_LAKE_HOME")
    result = run(EDA_LAKE, "dead-letters", env=home_env(mistyped))
    assert_one_line(result, f"no home at {mistyped}", "EDA_LAKE_HOME")
    assert not mistyped.exists()  # no new empty home

    # A fresh home takes capture files from elsewhere; then it holds a lake.
    captured = tmp_path / "captured"
    captured.mkdir()
    fresh = home_env(tmp_path / "fresh")
    succeeds("ingest", "--capture-root", str(captured), env=fresh)
    succeeds("gold", env=fresh)
    succeeds("sql", "SELECT 1", env=fresh)


def azurite_env(azurite: Azurite, key: str, container: str) -> dict[str, str]:
    return {
        "EDA_LAKE_STORAGE_ACCOUNT": ACCOUNT,
        "EDA_LAKE_STORAGE_ACCOUNT_KEY": key,
        "EDA_LAKE_BLOB_AUTHORITY": f"127.0.0.1:{azurite.blob_port}",
        "EDA_LAKE_LAKE_CONTAINER": container,
        **PII,
    }


def test_readers_refuse_a_container_without_tables(azurite: Azurite) -> None:
    storage = azurite_storage(azurite, lake_container="empty-lake")
    assert storage.account_key is not None
    empty = azurite_env(azurite, storage.account_key, "empty-lake")
    for command in (("silver",), ("gold",), ("sql", "SELECT 1")):
        result = run(EDA_LAKE, *command, env=empty)
        assert_one_line(result, "empty-lake holds no lake tables", "EDA_LAKE_LAKE_CONTAINER")


def test_a_wrong_storage_key(azurite: Azurite, tmp_path: Path) -> None:
    # Azurite checks the Shared Key signature as Azure does: a wrong key is a 403.
    azurite_storage(azurite, lake_container="keyed-lake")
    wrong = azurite_env(azurite, base64.b64encode(b"not the key" * 6).decode(), "keyed-lake")
    captured = tmp_path / "captured"
    captured.mkdir()
    for command in (("sql", "SELECT 1"), ("silver",), ("ingest", "--capture-root", str(captured))):
        result = run(EDA_LAKE, *command, env=wrong)
        line = assert_one_line(result, "Azure Storage", "refused", "EDA_LAKE_STORAGE_ACCOUNT_KEY")
        assert f"127.0.0.1:{azurite.blob_port}" in line or "AuthorizationFailure" in line


def test_a_full_disk_when_the_hub_opens_its_database(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        env = home_env(disk / "home")
        succeeds("provision", env=env)
        succeeds("publish", "--customers", "20", env=env)
        filler = fill(disk)
        for command in (("capture", "run", "--flush"), ("dead-letters",)):
            full = run(EDA_LAKE, *command, env=env)
            assert_one_line(full, "no space left", str(disk / "home"))
        filler.unlink()
        succeeds("capture", "run", "--flush", env=env)


def test_a_full_disk_names_the_area_silver_or_gold_writes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = home_env(home)
    with tmpfs(home / "lake", "16m") as lake:
        small_lake(env)
        for command in ("silver", "gold"):
            filler = fill(lake)
            full = run(EDA_LAKE, command, env=env)
            line = assert_one_line(full, "no space left", str(lake / command))
            assert "capture" not in line, line
            filler.unlink()
            succeeds(command, env=env)


def test_a_full_temporary_disk_names_the_folder_silver_spills_to(tmp_path: Path) -> None:
    env = home_env(tmp_path / "home")
    small_lake(env)
    succeeds("silver", env=env)
    # New customers: the entities recompute theirs, spilling the rows to a temporary file
    # before they replace them (a whole build streams into the table's own files instead).
    succeeds("publish", "--customers", "300", "--seed", "7", env=env)
    succeeds("capture", "run", "--flush", env=env)
    succeeds("ingest", env=env)
    with tmpfs(tmp_path / "tmp", "1m") as temporary:
        filler = fill(temporary)
        # A page left: the folder passes Python's check that it is writable (a full one is
        # passed over for /tmp), and the disk fills while silver spills.
        os.truncate(filler, filler.stat().st_size - 4096)
        full = run(EDA_LAKE, "silver", env={**env, "TMPDIR": str(temporary)})
        assert_one_line(full, "no space left", str(temporary))
        filler.unlink()
        succeeds("silver", env={**env, "TMPDIR": str(temporary)})


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    """A folder that no one may write into, root included (tests run as root, whom
    permission bits do not stop): the immutable attribute answers EPERM."""
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("chattr is not installed")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"this file system keeps no immutable attribute: {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_a_folder_that_cannot_be_written_or_is_a_file(tmp_path: Path) -> None:
    env = home_env(tmp_path / "home")
    small_lake(env, customers=5)
    succeeds("silver", env=env)
    lake = tmp_path / "home" / "lake"
    succeeds("publish", "--customers", "5", "--seed", "7", env=env)
    succeeds("capture", "run", "--flush", env=env)
    succeeds("ingest", env=env)

    log = lake / "silver" / "customer_created" / "_delta_log"
    with immutable(log):
        denied = run(EDA_LAKE, "silver", env=env)
        assert_one_line(denied, "permission denied", f"writing {log}/", "writable")
    with immutable(lake / "gold"):
        denied = run(EDA_LAKE, "gold", env=env)
        assert_one_line(denied, "permission denied", f"writing {lake / 'gold'}/")
    gold = lake / "gold"
    gold.rename(lake / "gold-aside")
    gold.write_text("a file where the gold folder belongs\n")
    misplaced = run(EDA_LAKE, "gold", env=env)
    assert_one_line(misplaced, "a file stands where a folder is expected", str(gold))
    gold.unlink()
    (lake / "gold-aside").rename(gold)
    succeeds("silver", env=env)
    succeeds("gold", env=env)
    query = "SELECT count(*) FROM silver.customer_created"
    counted = run(EDA_LAKE, "sql", "--format", "csv", query, env=env)
    assert counted.stdout.splitlines()[1] == "10"  # nothing lost


def test_azure_storage_refusals_are_named_by_their_codes() -> None:
    """Azure answers a wrong key with AuthenticationFailed (Azurite: AuthorizationFailure), a
    missing role with AuthorizationPermissionMismatch; delta-rs nests the body in its text."""
    from eda_lake.console.faults import describe

    for code in ("AuthenticationFailed", "AuthorizationPermissionMismatch"):
        refused = OSError(
            "Kernel error -> Error performing GET https://acct.blob.core.windows.net/lake/"
            f"bronze/_delta_log/_last_checkpoint\n 403 Forbidden\n <Error><Code>{code}</Code>"
        )
        line = str(describe(refused))
        assert line.startswith("Azure Storage at acct.blob.core.windows.net refused"), line
        assert f"({code})" in line and "EDA_LAKE_STORAGE_ACCOUNT_KEY" in line
    assert describe(ValueError("AuthenticationFailed")) is None  # our own: a bug


def test_a_silver_run_says_which_tables_it_upgrades(tmp_path: Path) -> None:
    env = home_env(tmp_path / "home")
    small_lake(env)
    succeeds("silver", env=env)
    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    avsc = schemas / "customer" / "CustomerCreated.avsc"
    definition = json.loads(avsc.read_text())
    definition["fields"].append({"name": "visits", "type": "long", "default": 0})
    avsc.write_text(json.dumps(definition))
    result = run(EDA_LAKE, "silver", env={**env, "EDA_LAKE_SCHEMA_DIR": str(schemas)})
    assert result.returncode == 0, result.stderr
    assert "eda-lake: upgrading silver.customer_created: visits added" in result.stderr
