"""Shared fixtures: every test gets its own EDA_LAKE_HOME and DAGSTER_HOME, telemetry off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.local import LocalSchemaRegistry
from eda_lake.settings import REPO_ROOT, Settings
from infra_scripts.azurite import BINARY as AZURITE_BINARY
from infra_scripts.azurite import Azurite, start_azurite

SHARED = REPO_ROOT.parent / "shared"
AZURE_CAPTURE = SHARED / "fixtures" / "azure-capture"


@pytest.fixture(scope="session", autouse=True)
def _dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        yield


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own state or Azure variables."""
    monkeypatch.setenv("EDA_LAKE_HOME", str(tmp_path / "eda_lake_home"))
    for var in (
        "EDA_LAKE_TARGET", "EDA_LAKE_SCHEMA_DIR", "EDA_LAKE_NAMESPACE", "EDA_LAKE_PII_KEY",
        "EDA_LAKE_CAPTURE_ACCOUNT", "EDA_LAKE_CAPTURE_ACCOUNT_KEY", "EDA_LAKE_CAPTURE_CONTAINER",
        "EDA_LAKE_BLOB_AUTHORITY", "EDA_LAKE_DISCOVERY_QUEUE", "EDA_LAKE_QUEUE_CONNECTION_STRING",
    ):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "eda_lake_home")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(REPO_ROOT / "schemas")


@pytest.fixture
def registry(settings: Settings, catalogue: Catalogue) -> Iterator[LocalSchemaRegistry]:
    reg = LocalSchemaRegistry(settings.registry_file)
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
