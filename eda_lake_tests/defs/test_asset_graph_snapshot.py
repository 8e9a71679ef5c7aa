"""The asset graph as a reviewer reads it: every asset's key, dependencies, owners, kinds, tags,
partitions, group and checks, and every job, sensor and schedule, on both targets, held in
`__snapshots__/test_asset_graph_snapshot.ambr`.

Dagster's history and existing lakes are keyed on the asset keys, so a change to the graph
must be one a person chose: `pytest --snapshot-update` rewrites the file, and the change shows
in review as a diff of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber.serializer import AmberDataSerializer

from eda_lake.defs.build import build_definitions
from eda_lake.settings import (
    CHECKPOINT_ACCOUNT_URL_VAR,
    EVENTHUB_NAMESPACE_VAR,
    HOME_VAR,
    PII_KEY_VAR,
    TARGET_VAR,
)
from eda_lake_tests.defs.helpers import TEST_PII_KEY

# What each target needs beyond the home and the key; everything else takes its default, so the
# snapshot is the graph `make dev` shows, whatever the developer's environment holds.
TARGETS: dict[str, dict[str, str]] = {
    "local": {},
    "azure": {
        TARGET_VAR: "azure",
        EVENTHUB_NAMESPACE_VAR: "dv-eda-evhns-westeurope-x7k2.servicebus.windows.net",
        CHECKPOINT_ACCOUNT_URL_VAR: "https://dvedacheckpoints.blob.core.windows.net",
    },
}

# Dagster keeps an asset's kinds among its tags too: the outline shows them once, as kinds.
KIND_TAG_PREFIX = "dagster/kind/"

FUNNEL = dg.AssetKey(["gold", "funnel_daily"])
PRODUCTS = dg.AssetKey(["silver", "products"])


def definitions(home: Path, target: str) -> dg.Definitions:
    return build_definitions({HOME_VAR: str(home), PII_KEY_VAR: TEST_PII_KEY, **TARGETS[target]})


def graph_outline(defs: dg.Definitions) -> dict[str, Any]:
    """The definitions as plain, sorted data: what the snapshot holds."""
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {
            key.to_user_string(): _asset_outline(graph, key)
            for key in sorted(graph.get_all_asset_keys(), key=dg.AssetKey.to_user_string)
        },
        # Names starting with "__" are the jobs Dagster makes for itself from asset selections.
        "jobs": sorted(j.name for j in repository.get_all_jobs() if not j.name.startswith("__")),
        "sensors": sorted(sensor.name for sensor in repository.sensor_defs),
        "schedules": sorted(schedule.name for schedule in repository.schedule_defs),
    }


def _asset_outline(graph: Any, key: dg.AssetKey) -> dict[str, Any]:
    node = graph.get(key)
    checks = [graph.get_check_spec(check) for check in node.check_keys]
    return {
        "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
        "group": node.group_name,
        "owners": sorted(node.owners),
        "kinds": sorted(node.kinds),
        "tags": {
            name: value for name, value in node.tags.items() if not name.startswith(KIND_TAG_PREFIX)
        },
        "partitions": _partitions_outline(node.partitions_def),
        "checks": {
            check.name: {
                "blocking": check.blocking,
                "partitions": _partitions_outline(check.partitions_def),
            }
            for check in checks
        },
    }


def _partitions_outline(partitions: dg.PartitionsDefinition | None) -> dict[str, Any] | None:
    """A partitions definition by its type and what fixes its keys: a time window's start and
    cadence (its keys grow with the clock), a dynamic one's name, a static one's keys."""
    if partitions is None:
        return None
    outline: dict[str, Any] = {"type": type(partitions).__name__}
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        outline |= {
            "start": partitions.start.isoformat(),
            "cron": partitions.cron_schedule,
            "timezone": partitions.timezone,
            "end_offset": partitions.end_offset,
        }
    elif isinstance(partitions, dg.DynamicPartitionsDefinition):
        outline["name"] = partitions.name
    elif isinstance(partitions, dg.MultiPartitionsDefinition):
        outline["dimensions"] = {
            dimension.name: _partitions_outline(dimension.partitions_def)
            for dimension in partitions.partitions_defs
        }
    else:
        outline["keys"] = list(partitions.get_partition_keys())
    return outline


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_asset_graph_matches_its_snapshot(
    target: str, tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    assert graph_outline(definitions(tmp_path, target)) == snapshot


def test_a_changed_dependency_changes_the_snapshot(tmp_path: Path) -> None:
    specs = definitions(tmp_path, "local").resolve_all_asset_specs()
    changed = [
        spec.replace_attributes(deps=[*spec.deps, PRODUCTS]) if spec.key == FUNNEL else spec
        for spec in specs
    ]
    before, after = (graph_outline(dg.Definitions(assets=s)) for s in (specs, changed))
    funnel, products = FUNNEL.to_user_string(), PRODUCTS.to_user_string()
    assert products not in before["assets"][funnel]["deps"]

    assert AmberDataSerializer.serialize(after) != AmberDataSerializer.serialize(before)
    assert after["assets"][funnel]["deps"] == sorted([*before["assets"][funnel]["deps"], products])
    after["assets"][funnel]["deps"] = before["assets"][funnel]["deps"]
    assert after == before  # the dependency, and nothing else, is what changed


def test_a_hub_per_aggregate_is_one_hub_asset_carrying_its_events(tmp_path: Path) -> None:
    defs = build_definitions(
        {HOME_VAR: str(tmp_path), PII_KEY_VAR: TEST_PII_KEY,
         "EDA_LAKE_CATALOGUE_FILE": "catalogue-per-aggregate.toml"}
    )  # fmt: skip
    graph = defs.resolve_asset_graph()
    hubs = {k for k in graph.get_all_asset_keys() if k.path[0] == "hub"}
    assert hubs == {dg.AssetKey(["hub", name]) for name in ("product", "customer", "lead", "sale")}
    key = dg.AssetKey(["hub", "lead"])
    lead = defs.resolve_assets_def(key).specs_by_key[key]
    assert lead.metadata["events"].data == {
        "LeadGenerated": "eda_lake.conversions.LeadGenerated",
        "LeadAbandoned": "eda_lake.conversions.LeadAbandoned",
        "LeadPurchased": "eda_lake.conversions.LeadPurchased",
    }
    assert lead.owners == ["team:conversions"]
    capture = graph.get(dg.AssetKey(["capture", "files"]))
    assert hubs <= set(capture.parent_keys)
