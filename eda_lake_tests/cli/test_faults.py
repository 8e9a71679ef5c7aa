"""Every mistake or fault ends in one line naming the thing and the fix, a non-zero exit and
no traceback; a bug keeps its traceback; after the fix a re-run completes with nothing lost."""

from __future__ import annotations

import errno
import importlib
import os
import pkgutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import eda_lake
from eda_lake.cli import main
from eda_lake.console.faults import describe
from eda_lake.settings import REPO_ROOT
from eda_lake.shared.errors import UserError
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY

EDA_LAKE = str(Path(sys.executable).parent / "eda-lake")


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """The command as a user runs it: its own process, from the repository."""
    return subprocess.run(
        args,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line(result, *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last: str = result.stderr.strip().splitlines()[-1]
    assert "error: " in last, result.stderr
    for word in words:
        assert word in last, (word, last)
    return last


@contextmanager
def tmpfs(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A small real file system: a full disk, or a read-only one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs (a real full or read-only disk) needs root")
    path.mkdir(parents=True, exist_ok=True)
    # mode: a disk's root as mkfs makes it (a tmpfs root is otherwise sticky and open to all,
    # as /tmp is, which eda-lake refuses to make its state's folder).
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def grow(path: Path) -> None:
    """Space comes back."""
    subprocess.run(["mount", "-o", "remount,size=64m", str(path)], check=True)


def test_a_missing_capture_root(tmp_path: Path) -> None:
    result = run(EDA_LAKE, "ingest", "--capture-root", "/does/not/exist")
    assert_one_line(result, "/does/not/exist", "no such folder")


def test_an_unknown_team_is_refused_with_the_valid_names(capsys) -> None:
    for argv in (
        ["dead-letters", "nosuchteam"],
        ["dead-letters", "--team", "nosuchteam"],
        ["subscribe", "nosuchteam"],
    ):
        assert main(argv) == 2
        *_, last = capsys.readouterr().err.strip().splitlines()
        assert last.startswith("eda-lake: error: ") and "Traceback" not in last
        assert "'nosuchteam' is not one of 'conversions', 'customer'" in last


def test_missing_schema_dir_and_capture_file(tmp_path: Path) -> None:
    result = run(EDA_LAKE, "provision", env={"EDA_LAKE_SCHEMA_DIR": str(tmp_path / "none")})
    assert_one_line(result, "EDA_LAKE_SCHEMA_DIR")
    result = run(EDA_LAKE, "capture", "inspect", str(tmp_path / "nothing.avro"))
    assert result.returncode == 2 and "no such capture file" in result.stderr


def test_a_programming_error_keeps_its_traceback(monkeypatch) -> None:
    from eda_lake.simulation.runtime import Simulation

    def broken(self, seed, progress):
        missing: dict[str, int] = {}
        return missing["product"]

    monkeypatch.setattr(Simulation, "publish_products", broken)
    assert main(["provision"]) == 0
    with pytest.raises(KeyError):
        main(["publish"])
    for bug in (KeyError("x"), LookupError("x"), ValueError("x"), TypeError("x")):
        assert describe(bug) is None
    assert describe(ValueError("no space left on device")) is None  # our own, whatever it says


def test_disk_and_permission_faults_are_named() -> None:
    full = OSError(errno.ENOSPC, "No space left on device", "/lake/capture/x.avro")
    assert describe(full) == (
        "no space left on the disk writing /lake/capture/x.avro: free some space; nothing was "
        "lost: run the command again once fixed and it resumes where it stopped"
    )
    assert "no space left" in str(describe(sqlite3.OperationalError("database or disk is full")))
    read_only = OSError(errno.EROFS, "Read-only file system", "/ro/home")
    assert "read-only" in str(describe(read_only))
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = full
    assert "no space left" in str(describe(wrapped))


def test_output_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    (tmp_path / "eda_lake_home" / "lake").mkdir(parents=True)  # a lake, with no table yet
    query = "SELECT range AS n FROM range(200000)"
    result = run("sh", "-c", f'"{EDA_LAKE}" sql --format csv "{query}" | head -2; exit 0')
    assert result.stdout.splitlines() == ["n", "0"]
    assert result.stderr == ""
    status = run("bash", "-c", f'"{EDA_LAKE}" sql --format csv "{query}" | head -1; '
                 'echo "${PIPESTATUS[0]}" >&2')  # fmt: skip
    assert status.stderr.strip() in ("0", "141")


def test_network_unreachable(tmp_path: Path) -> None:
    closed = {
        "EDA_LAKE_STORAGE_ACCOUNT": ACCOUNT,
        "EDA_LAKE_STORAGE_ACCOUNT_KEY": ACCOUNT_KEY,
        "EDA_LAKE_BLOB_AUTHORITY": "127.0.0.1:9",  # the discard port: nothing listens
        "EDA_LAKE_LAKE_CONTAINER": "lake",
    }
    result = run(EDA_LAKE, "sql", "SELECT 1", env=closed)  # listing the container's tables
    assert_one_line(result, "cannot reach 127.0.0.1:9", "Could not connect to server")


AZURE_DEPLOYMENT = {
    "EDA_LAKE_AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "EDA_LAKE_AZURE_LOCATION": "westeurope",
    "EDA_LAKE_ENVIRONMENT": "dv",
    "EDA_LAKE_NAME_SUFFIX": "x7k2",
    # Only the developer sign-ins (Azure CLI, PowerShell, azd...), none present here: no
    # managed-identity probe of a non-loopback address.
    "AZURE_TOKEN_CREDENTIALS": "dev",
}
AZURE_HUBS = {
    "EDA_LAKE_TARGET": "azure",
    "EDA_LAKE_EVENTHUB_NAMESPACE": "dv-eda-evhns-westeurope-x7k2.servicebus.windows.net",
    "EDA_LAKE_CHECKPOINT_CONNECTION_STRING": (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://127.0.0.1:9/{ACCOUNT};"
    ),
    "EDA_LAKE_EVENTHUB_CONNECTION_STRING__PRODUCT_UPDATED": (
        "Endpoint=sb://dv-eda-evhns-westeurope-x7k2.servicebus.windows.net/;"
        "SharedAccessKeyName=product-send;SharedAccessKey=not-a-key;EntityPath=product-updated"
    ),
}


def test_the_azure_plan_without_a_sign_in(tmp_path: Path) -> None:
    """A plan against Azure signs in; it needs provisioning's variables alone, never the
    runtime's (which name resources the plan has not made yet)."""
    env = {**AZURE_DEPLOYMENT, "EDA_LAKE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    for command, extra in (
        ((EDA_LAKE, "provision", "--target", "azure", "--plan"), {}),
        ((EDA_LAKE, "provision", "--plan"), {"EDA_LAKE_TARGET": "azure"}),
        ((EDA_LAKE, "provision", "--verify"), {"EDA_LAKE_TARGET": "azure"}),
    ):
        result = run(*command, env={**env, **extra})
        assert_one_line(result, "no Azure sign-in", "az login")
        assert result.stderr.count("\n") == 1, result.stderr  # not the SDK's warning too
    assert not (tmp_path / "home").exists()  # a plan touches nothing


def test_every_missing_provisioning_variable_is_named_at_once(tmp_path: Path) -> None:
    env = {"EDA_LAKE_HOME": str(tmp_path / "home"), "EDA_LAKE_ENVIRONMENT": "dv"}
    result = run(EDA_LAKE, "provision", "--target", "azure", "--plan", env=env)
    line = assert_one_line(
        result, "EDA_LAKE_AZURE_SUBSCRIPTION_ID (its id), EDA_LAKE_AZURE_LOCATION (like "
    )
    assert "EDA_LAKE_NAME_SUFFIX (2-8" in line and "EDA_LAKE_ENVIRONMENT" not in line
    result = run(EDA_LAKE, "provision", "--target", "azure", "--plan", "--offline", env=env)
    line = assert_one_line(result, "needs EDA_LAKE_AZURE_LOCATION (like westeurope), ")
    assert "SUBSCRIPTION" not in line
    result = run(EDA_LAKE, "provision", "--plan", "--offline", env=env)  # local: no such plan
    assert result.returncode == 2 and "add --target azure" in result.stderr


def test_the_schema_registry_needs_entra_id_even_with_connection_strings(tmp_path: Path) -> None:
    env = {**AZURE_HUBS, "AZURE_TOKEN_CREDENTIALS": "dev", "PATH": "/usr/bin:/bin"}
    result = run(EDA_LAKE, "publish", "--customers", "1", env=env)
    assert_one_line(result, "Schema Registry accepts Entra ID only")


def test_a_read_only_home(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        result = run(EDA_LAKE, "provision", env={"EDA_LAKE_HOME": str(read_only / "home")})
    assert_one_line(result, "read-only", "EDA_LAKE_HOME")


def _captured_events(capture: Path) -> int:
    from eda_lake.capture.reader import read_capture

    total = 0
    for path in capture.rglob("*.avro"):
        with path.open("rb") as stream:
            total += sum(1 for _ in read_capture(stream, str(path)))
    return total


def test_a_full_disk_during_capture_and_ingest_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"EDA_LAKE_HOME": str(home)}
    assert run(EDA_LAKE, "provision", env=env).returncode == 0
    assert run(EDA_LAKE, "publish", "--customers", "5000", env=env).returncode == 0
    published = 5008  # the 8 products and the customers
    with tmpfs(home / "lake", "1m") as lake:
        (lake / "capture").mkdir()
        full = run(EDA_LAKE, "capture", "run", "--flush", env=env)
        assert_one_line(full, "no space left", str(lake))
        grow(lake)
        again = run(EDA_LAKE, "capture", "run", "--flush", env=env)
        assert again.returncode == 0, again.stderr
        assert _captured_events(lake / "capture") == published
        assert not list((lake / "capture").rglob(".*.tmp"))
        captured = tmp_path / "captured"
        subprocess.run(["cp", "-r", str(lake / "capture"), str(captured)], check=True)

    other = {"EDA_LAKE_HOME": str(tmp_path / "other")}
    with tmpfs(tmp_path / "other" / "lake", "600k") as lake:
        full = run(EDA_LAKE, "ingest", "--capture-root", str(captured), env=other)
        assert_one_line(full, "no space left", str(lake))
        grow(lake)
        again = run(EDA_LAKE, "ingest", "--capture-root", str(captured), env=other)
        assert again.returncode == 0, again.stderr
        query = "SELECT count(*), count(DISTINCT (hub, partition_id, sequence_number)) "
        counted = run(EDA_LAKE, "sql", "--format", "csv", query + "FROM bronze.events", env=other)
        assert counted.stdout.splitlines()[1] == f"{published},{published}"


def test_event_hubs_unreachable(tmp_path: Path) -> None:
    from eda_lake.catalogue import load_catalogue

    refused = {  # every hub on 127.0.0.1's AMQP port, where nothing listens
        f"EDA_LAKE_EVENTHUB_CONNECTION_STRING__{spec.hub.upper().replace('-', '_')}": (
            f"Endpoint=sb://127.0.0.1/;SharedAccessKeyName=listen;SharedAccessKey=not-a-key;"
            f"EntityPath={spec.hub}"
        )
        for spec in load_catalogue(REPO_ROOT / "schemas").events.values()
    }
    env = {**AZURE_HUBS, **refused, "EDA_LAKE_EVENTHUB_NAMESPACE": "127.0.0.1"}
    result = run(
        EDA_LAKE, "subscribe", "conversions", env={**env, "AZURE_TOKEN_CREDENTIALS": "dev"}
    )
    assert_one_line(result, "cannot reach Event Hubs", "Connection refused")
    assert result.stderr.count("\n") == 1, result.stderr


def _kinds(base: type[UserError]) -> set[type[UserError]]:
    return {base} | {k for sub in base.__subclasses__() for k in _kinds(sub)}


def test_every_user_error_is_one_line_and_any_other_error_keeps_its_traceback() -> None:
    for found in pkgutil.walk_packages(eda_lake.__path__, "eda_lake."):
        if not found.name.startswith(("eda_lake.defs", "eda_lake.definitions")):
            importlib.import_module(found.name)  # every error type the package declares

    class LaterDeclaredError(UserError):
        """One no list names: recognised by its base alone."""

    kinds = _kinds(UserError)
    assert len(kinds) > 20, sorted(k.__name__ for k in kinds)
    for kind in kinds:
        error = kind.__new__(kind)
        Exception.__init__(error, f"{kind.__name__}: the thing and its fix")
        assert describe(error) == f"{kind.__name__}: the thing and its fix"
    for bug in (ValueError("a bug"), LookupError("a bug"), RuntimeError("a bug")):
        assert describe(bug) is None
