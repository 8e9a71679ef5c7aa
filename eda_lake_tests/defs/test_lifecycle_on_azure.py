"""The nightly lifecycle enforcement leaves Azure's own lake to the account's lifecycle
management, and enforces the policy itself where none runs (a local lake, Azurite)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from eda_lake.defs.lake.maintenance import AZURE_LIFECYCLE, lifecycle_enforcement
from eda_lake_tests.defs.helpers import resource

AZURE_LAKE = {"EDA_LAKE_STORAGE_ACCOUNT": "dvedalakex7k2", "EDA_LAKE_LAKE_CONTAINER": "lake"}


def _metadata(eda_lake: object) -> Mapping[str, dg.MetadataValue]:
    result = dg.materialize([lifecycle_enforcement], resources={"eda_lake": eda_lake})
    assert result.success
    [event] = result.get_asset_materialization_events()
    return event.materialization.metadata


def test_on_azures_endpoint_the_accounts_lifecycle_management_enforces_it(tmp_path: Path) -> None:
    lake = resource(tmp_path, **AZURE_LAKE)
    metadata = _metadata(lake)
    assert metadata["enforced_by"] == dg.TextMetadataValue(AZURE_LIFECYCLE)  # no blob touched


def test_a_policy_file_for_azures_own_lake_is_refused_naming_where_it_goes(
    tmp_path: Path,
) -> None:
    result = dg.materialize(
        [lifecycle_enforcement],
        resources={"eda_lake": resource(tmp_path, **AZURE_LAKE)},
        run_config={"ops": {"lifecycle_enforcement": {"config": {"policy_file": "mine.json"}}}},
        raise_on_error=False,
    )
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "az storage account management-policy create" in str(failure.step_failure_data.error)


def test_on_azurite_or_a_local_lake_it_enforces_the_policy_itself(tmp_path: Path) -> None:
    emulated = resource(tmp_path, **AZURE_LAKE, EDA_LAKE_BLOB_AUTHORITY="127.0.0.1:1")
    assert resource(tmp_path).lake().upkeep.azure_enforces_lifecycle is False
    assert emulated.lake().upkeep.azure_enforces_lifecycle is False
    metadata = _metadata(resource(tmp_path))
    assert "enforced_by" not in metadata and "rules" in metadata
