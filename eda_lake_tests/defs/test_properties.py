"""Every asset's layer and owner properties come from one rule applied once over the specs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from eda_lake.catalogue import load_catalogue
from eda_lake.defs import properties
from eda_lake.defs.build import build_definitions
from eda_lake.settings import HOME_VAR, PII_KEY_VAR, Settings
from eda_lake_tests.defs.helpers import TEST_PII_KEY


def test_each_asset_has_its_layers_properties_and_its_teams_owner(tmp_path: Path) -> None:
    defs = build_definitions({HOME_VAR: str(tmp_path), PII_KEY_VAR: TEST_PII_KEY})
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        layer = properties.LAYERS[node.group_name]
        team = node.tags["domain"]
        assert node.tags["layer"] == layer.tag, key
        assert node.owners == [f"team:{team}"], key
        assert layer.kinds <= node.kinds, key
        assert node.freshness_policy == layer.freshness, key
    fresh = {
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy
    }
    assert "bronze/events" in fresh and "gold/funnel_daily" in fresh
    assert "silver/customers" not in fresh
    assert graph.get(dg.AssetKey(["event_hubs"])).tags["domain"] == "platform"
    assert graph.get(dg.AssetKey(["hub", "lead_generated"])).owners == ["team:conversions"]


def test_an_asset_outside_every_layer_is_refused_by_name(tmp_path: Path) -> None:
    stray = dg.Definitions(assets=[dg.AssetSpec("stray", group_name="misc")])
    catalogue = load_catalogue(Settings(home=tmp_path).schema_dir)
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="asset stray is in group 'misc'"):
        properties.apply(stray, catalogue)
