"""Shared fixtures: every test gets its own EDA_LAKE_HOME and DAGSTER_HOME, telemetry off."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.embedded import EmbeddedSchemaRegistry
from eda_lake.settings import (
    DAGSTER_HOME_VAR,
    HOME_VAR,
    REPO_ROOT,
    Broker,
    KafkaSettings,
    Settings,
    declared,
)
from infra_scripts.azurite import BINARY as AZURITE_BINARY
from infra_scripts.azurite import Azurite, start_azurite
from infra_scripts.kafka_broker import KafkaBroker, start_kafka_broker

# Points the Kafka tests at another cluster than the noida-db they start (one they may wipe:
# the tests create and delete the catalogue's topics).
TEST_KAFKA_VAR = "EDA_LAKE_TEST_KAFKA_BOOTSTRAP_SERVERS"

SHARED = REPO_ROOT.parent / "shared"
AZURE_CAPTURE = SHARED / "fixtures" / "azure-capture"


def remove_configured_variables(patch: pytest.MonkeyPatch) -> list[str]:
    """Removes every variable of the settings' table from the process environment (members
    of families included): the developer's own configuration, which no test reads. The
    names removed."""
    removed = [name for name in os.environ if declared(name)]
    for name in removed:
        patch.delenv(name)
    return removed


@pytest.fixture(scope="session", autouse=True)
def _dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DAGSTER_HOME_VAR, str(home))
        yield home


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _dagster_home: Path) -> None:
    """No test reads the developer's own state or Azure variables: each has its own home
    and the session's Dagster instance."""
    remove_configured_variables(monkeypatch)
    monkeypatch.setenv(HOME_VAR, str(tmp_path / "eda_lake_home"))
    monkeypatch.setenv(DAGSTER_HOME_VAR, str(_dagster_home))


@pytest.fixture(autouse=True)
def _kept_in_its_group(request: pytest.FixtureRequest) -> None:
    """On a worker under `--dist loadgroup`, a test of a group carries the group's name in its
    node id, which is how pytest-xdist keeps the group on one worker: without it, the test
    would run beside its group's shared state on another worker, silently."""
    item = request.node
    if (
        request.config.getoption("loadgroup", default=False)
        and item.get_closest_marker("xdist_group")
        and "@" not in item.nodeid
    ):
        pytest.fail("pytest-xdist ignored this test's xdist_group: is pytest newer than allowed?")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Group- and world-readable files by default, as many shells and desktops have."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "eda_lake_home")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(REPO_ROOT / "schemas")


@pytest.fixture
def registry(settings: Settings, catalogue: Catalogue) -> Iterator[EmbeddedSchemaRegistry]:
    reg = EmbeddedSchemaRegistry(settings.registry_file)
    reg.ensure_group(catalogue.schema_group, Compatibility.parse(catalogue.compatibility))
    yield reg
    reg.close()


@pytest.fixture
def azure_capture_dir() -> Path:
    if not AZURE_CAPTURE.is_dir():
        pytest.skip(f"real Azure Capture fixtures not found at {AZURE_CAPTURE} (../shared absent)")
    return AZURE_CAPTURE


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A real Azurite on free loopback ports for the session; `make test` installs it."""
    if not AZURITE_BINARY.exists():
        pytest.skip(f"Azurite is not installed at {AZURITE_BINARY}: run `make test`")
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of the test's own (noida-db, ~0.1 s to start), which the test may kill and
    restart; stopped by PID at the end."""
    broker = start_kafka_broker(tmp_path / "kafka-data")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """Where the Kafka tests' cluster is: EDA_LAKE_TEST_KAFKA_BOOTSTRAP_SERVERS, or a fresh
    noida-db of the test's own. On a given cluster the catalogue's topics are deleted first."""
    external = os.environ.get(TEST_KAFKA_VAR)
    if external:
        _delete_catalogue_topics(external)
        yield external
        return
    yield request.getfixturevalue("kafka_broker").bootstrap_servers


def _delete_catalogue_topics(servers: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": servers})
    hubs = [e.hub for e in load_catalogue(REPO_ROOT / "schemas").events.values()]
    existing = set(admin.list_topics(timeout=30).topics)
    doomed = [h for h in hubs if h in existing]
    for future in admin.delete_topics(doomed).values() if doomed else ():
        future.result(30)


@pytest.fixture
def kafka_settings(settings: Settings, kafka_bootstrap: str) -> Settings:
    return replace(settings, broker=Broker.KAFKA, kafka=KafkaSettings(kafka_bootstrap))


@pytest.fixture
def kafka_env(kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same settings through the environment, for `eda-lake` and spawned processes."""
    assert kafka_settings.kafka is not None
    monkeypatch.setenv("EDA_LAKE_HOME", str(kafka_settings.home))
    monkeypatch.setenv("EDA_LAKE_BROKER", "kafka")
    monkeypatch.setenv("EDA_LAKE_KAFKA_BOOTSTRAP_SERVERS", kafka_settings.kafka.bootstrap_servers)
    return kafka_settings


# What makes a test leave the fast tier (`make fast`): a server it starts (Azurite, a Kafka
# broker), a lake on Azurite, or whole processes (the CLI, Dagster's, a browser).
SERVER_FIXTURES = frozenset(
    {"azurite", "kafka_broker", "kafka_bootstrap", "kafka_settings", "kafka_env", "postgres_server"}
)
PROCESS_FOLDERS = ("cli", "defs", "kafka")
# Tests that SIGKILL spawned processes at chosen or random moments, each a whole process's
# imports and seconds of work: `make test` runs them, the fast tier their in-process
# counterparts (named beside each), which interrupt the same work where the kill lands.
KILLED_PROCESSES = frozenset(
    {
        # test_crash_after_publish_before_checkpoint_repeats_with_same_ids
        "simulation/test_kill_and_restart.py::test_sigkill_at_random_moments_then_restart",
        # test_an_interrupted_rebuild_leaves_old_or_new_tables_and_no_lock
        "lake/test_rebuild_beside_writers.py::test_a_killed_rebuild_leaves_old_or_new_tables_and_no_lock",
        # test_bronze_bookkeeping.py: test_a_group_that_fails_leaves_no_data_files_behind,
        # test_half_written_file_lands_once_complete_even_after_later_files
        "lake/test_bronze_exactly_once.py::test_killed_ingestion_then_rerun_gives_each_event_once",
    }
)


# tryfirst: pytest-xdist names each test's group in its node id in its own
# pytest_collection_modifyitems, which must see the groups these hooks give.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    # The tests run in parallel (pytest-xdist, `--dist loadgroup`); on a given Kafka cluster
    # they share its topics, so one worker runs them all, one after another.
    shared_kafka = bool(os.environ.get(TEST_KAFKA_VAR))
    for item in items:
        relative = item.path.relative_to(tests)
        folder = relative.parts[0]
        name = f"{relative.as_posix()}::{getattr(item, 'originalname', item.name)}"
        params = getattr(getattr(item, "callspec", None), "params", {})
        fixtures = set(getattr(item, "fixturenames", ()))
        if (
            SERVER_FIXTURES & fixtures
            or "azurite" in params.values()
            or folder in PROCESS_FOLDERS
            or item.path.name in ("test_cli.py", "test_cli_backbone.py")
            or name in KILLED_PROCESSES
        ):
            item.add_marker(pytest.mark.servers)
        if shared_kafka and "kafka_bootstrap" in fixtures:
            item.add_marker(pytest.mark.xdist_group("shared-kafka"))
