"""Every lake test runs on the local directory and on Azurite (a container per test)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from eda_lake.demo import run_demo
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.runtime import Lake
from eda_lake.settings import DAGSTER_HOME_VAR, AzureStorage, Settings
from eda_lake.simulation.runtime import ChainReport, Simulation
from eda_lake_tests.conftest import remove_configured_variables
from eda_lake_tests.lake.helpers import DEMO_CUSTOMERS, DEMO_SEED, DemoLake, LakeAfterChain
from eda_lake_tests.lake.test_silver_and_gold import KEY, _lake_after_chain
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
def demo(tmp_path_factory: pytest.TempPathFactory, _dagster_home: Path) -> DemoLake:
    """One local demo lake for the session (a demo takes ~20 s): tests take a copy."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with pytest.MonkeyPatch.context() as patch:  # before any test's own isolation
        remove_configured_variables(patch)
        patch.setenv(DAGSTER_HOME_VAR, str(_dagster_home))
        report = run_demo(Settings(home=home), customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    return DemoLake(home, report)


@pytest.fixture(scope="session")
def _chain_homes() -> dict[tuple[int, int], tuple[Path, ChainReport]]:
    """The homes `lake_after_chain` built on this worker, by (customers, seed)."""
    return {}


@pytest.fixture
def lake_after_chain(
    _chain_homes: dict[tuple[int, int], tuple[Path, ChainReport]],
    tmp_path_factory: pytest.TempPathFactory,
) -> LakeAfterChain:
    """`_lake_after_chain` for tests that start from the same small lake: a local one is
    built once per worker for each (customers, seed) and copied into the test's home (its
    state holds relative paths only), as a chain, a capture and three layers cost seconds
    where a copy costs milliseconds. A lake on Azurite is built as asked."""

    def build(
        settings: Settings, customers: int = 300, seed: int = 5
    ) -> tuple[Simulation, ChainReport, Lake]:
        if settings.storage is not None:
            return _lake_after_chain(settings, customers, seed)
        if (customers, seed) not in _chain_homes:
            home = tmp_path_factory.mktemp("chain") / "home"
            simulation, report, _ = _lake_after_chain(Settings(home=home), customers, seed)
            simulation.close()
            _chain_homes[customers, seed] = (home, report)
        home, report = _chain_homes[customers, seed]
        shutil.copytree(home, settings.home)
        simulation = Simulation(settings)
        return simulation, report, Lake(settings, simulation.catalogue, pii_key=KEY)

    return build


# On Azurite, `make test` keeps the lake tests whose storage part a local directory does not
# show: commits racing and killed (bronze, silver, the lock), a table rewrite (a rebuild, a
# promotion), the change feed, maintenance, quarantine, `eda-lake sql` on Azure Storage. These
# others repeat that storage part over other lake logic: their Azurite variants run in the slow
# tier, their local ones in `make test` and `make fast`.
SLOW_ON_AZURITE = frozenset(
    {
        "test_schema_evolution.py::test_a_lake_written_with_32_bit_columns_upgrades_on_its_first_run",
        "test_schema_evolution.py::test_an_entity_follows_a_promoted_column_of_its_source",
        "test_schema_evolution.py::test_a_quarantine_retry_first_after_the_change_lands_in_the_promoted_type",
        "test_schema_evolution.py::test_bytes_that_are_no_text_fail_their_table_in_one_line_and_change_nothing",
        "test_schema_evolution.py::test_an_added_field_a_producer_sent_before_the_catalogue_knew_it_is_never_defaulted",
        "test_sql_views.py::test_every_table_by_layer_and_name_on_its_current_snapshot",
        "test_sql_views.py::test_a_rebuild_replaces_files_and_the_views_count_once",
        "test_silver_and_gold.py::test_a_partial_recompute_leaves_the_other_touched_days_pending",
        "test_silver_and_gold.py::test_gold_recomputes_only_the_days_new_events_touch",
        "test_silver_and_gold.py::test_personal_data_is_masked_past_bronze",
        "test_silver_and_gold.py::test_duplicates_unknown_schemas_and_bad_bodies",
        "test_rebuild_beside_writers.py::test_a_silver_run_started_inside_the_rebuild_waits_for_it",
        "test_rebuild_beside_writers.py::test_a_silver_run_straddling_the_rebuilds_window_loses_nothing",
        "test_incremental_layers.py::test_a_rebuild_that_lands_quarantined_events_resolves_them",
        "test_incremental_layers.py::test_gold_run_between_event_tables_and_entities_never_falls_behind",
        "test_incremental_layers.py::test_entities_replace_only_the_keys_new_events_touch",
        "test_incremental_layers.py::test_progress_is_recorded_when_a_run_lands_nothing",
        "test_incremental_layers.py::test_unknown_schema_events_land_once_the_schema_is_registered",
        "test_incremental_layers.py::test_values_later_layers_cannot_hold_are_quarantined_once_per_event",
        "test_incremental_layers.py::test_rebuild_refuses_a_schema_the_registry_rejects_and_touches_nothing",
    }
)
# Schema evolution on Azurite in `make test`: a promotion that rewrites the table.
AZURITE_EVOLUTIONS = frozenset({"int to double"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (../conftest.py)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == Path(__file__).parent and uses_demo(item):
            # One worker runs the tests that copy the demo lake, so it is built once.
            item.add_marker(pytest.mark.xdist_group("demo-lake"))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("lake_settings") != "azurite":
            continue
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        evolution = item.callspec.id.split("-", 1)[1] if "evolution" in params else None  # type: ignore[attr-defined]
        if name in SLOW_ON_AZURITE or evolution not in (None, *AZURITE_EVOLUTIONS):
            item.add_marker(pytest.mark.slow)


def uses_demo(item: pytest.Item) -> bool:
    """Whether the test copies the session's demo lake (the local variant of demo_lake)."""
    fixtures = set(getattr(item, "fixturenames", ()))
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "demo" in fixtures or (
        "demo_lake" in fixtures and params.get("lake_settings") == "local"
    )
