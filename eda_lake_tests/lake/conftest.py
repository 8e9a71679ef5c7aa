"""Every lake test runs on the local directory and on Azurite (a container per test)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from eda_lake.demo import run_demo
from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import AzureStorage, Settings
from eda_lake_tests.conftest import DEVELOPER_VARS
from eda_lake_tests.lake.helpers import DEMO_CUSTOMERS, DEMO_SEED, DemoLake
from infra_scripts.azurite import ACCOUNT, ACCOUNT_KEY, Azurite


def azurite_storage(azurite: Azurite, **containers: str) -> AzureStorage:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    for name in containers.values():
        blobs.create_container(name)
    return AzureStorage(
        account=ACCOUNT,
        account_key=ACCOUNT_KEY,
        blob_authority=f"127.0.0.1:{azurite.blob_port}",
        **containers,
    )


@pytest.fixture(params=["local", "azurite"])
def lake_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    home = tmp_path / "eda_lake_home"
    if request.param == "local":
        return Settings(home=home)
    azurite: Azurite = request.getfixturevalue("azurite")
    storage = azurite_storage(azurite, lake_container=f"lake-{uuid.uuid4().hex[:12]}")
    return Settings(home=home, storage=storage)


@pytest.fixture
def layout(lake_settings: Settings) -> LakeLayout:
    return LakeLayout.from_settings(lake_settings)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """One local demo lake for the session (a demo takes ~20 s): tests take a copy."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with pytest.MonkeyPatch.context() as patch:  # before any test's own isolation
        for var in DEVELOPER_VARS:
            patch.delenv(var, raising=False)
        report = run_demo(Settings(home=home), customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    return DemoLake(home, report)


# Schema evolution on Azurite: these promotions represent the storage's part (a free one, a
# rewrite, an added column); the others run on Azurite in the slow tier.
AZURITE_EVOLUTIONS = frozenset({"int to long", "int to double", "field added with a default"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("lake_settings") != "azurite" or "evolution" not in params:
            continue
        if item.callspec.id.split("-", 1)[1] not in AZURITE_EVOLUTIONS:  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.slow)
