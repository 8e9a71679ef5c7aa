"""Every asset's shared properties, from two facts about it: its layer and the team that owns it.

An asset declares only its group (which is its layer: what the jobs select on) and the kinds
of its own technology; one pass over the specs of the whole code location (`apply`, in
`build.py`) adds what follows from those two facts: the `layer` and `domain` tags, the owner
(`team:<name>`), the kinds every asset of the layer shares, and the freshness policy of the
layers kept fresh by a sensor. The owning team comes from where it is declared once: the
catalogue for each hub and its silver event table, the declarations for each derived table;
everything else is the platform's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg

from eda_lake.catalogue import Catalogue
from eda_lake.defs.hubs import hub_key
from eda_lake.lake.derived import declarations

PLATFORM_TEAM = "platform"
# The capture sensor and the hourly full discovery keep bronze fresh, gold's automation keeps
# gold fresh: two hours without a materialization is a failure.
FRESH = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
)


@dataclass(frozen=True)
class Layer:
    tag: str  # the `layer` tag's value
    kinds: frozenset[str] = frozenset()  # what every asset of the layer is stored as
    freshness: dg.FreshnessPolicy | None = None


LAYERS: Mapping[str, Layer] = {  # by group
    "platform": Layer("platform"),
    "hubs": Layer("hub", frozenset({"eventhubs", "avro"})),
    "capture": Layer("capture", frozenset({"avro"})),
    "bronze": Layer("bronze", frozenset({"deltalake", "avro"}), FRESH),
    "silver": Layer("silver", frozenset({"deltalake"})),
    "gold": Layer("gold", frozenset({"deltalake"}), FRESH),
    "maintenance": Layer("maintenance"),
}


def owning_teams(catalogue: Catalogue) -> dict[dg.AssetKey, str]:
    """The team answering for each asset that is not the platform's."""
    teams: dict[dg.AssetKey, str] = {}
    for hub in catalogue.hubs.values():
        teams[hub_key(hub)] = hub.team
    for event in catalogue.events.values():
        teams[dg.AssetKey(["silver", declarations.event_table(event.name)])] = event.team
    for declared in (*declarations.ENTITY_TABLES, *declarations.GOLD_TABLES):
        teams[dg.AssetKey([declared.layer, declared.name])] = declared.owner
    return teams


def apply(defs: dg.Definitions, catalogue: Catalogue) -> dg.Definitions:
    """`defs` with every asset's layer and owner properties set, in one pass over the specs."""
    teams = owning_teams(catalogue)

    def place(spec: dg.AssetSpec) -> dg.AssetSpec:
        layer = LAYERS.get(spec.group_name or "")
        if layer is None:
            raise dg.DagsterInvalidDefinitionError(
                f"asset {spec.key.to_user_string()} is in group {spec.group_name!r}, which is "
                f"no layer: choose one of {', '.join(LAYERS)} (eda_lake/defs/properties.py)"
            )
        team = teams.get(spec.key, PLATFORM_TEAM)
        placed = spec.merge_attributes(
            owners=[f"team:{team}"],
            tags={"layer": layer.tag, "domain": team},
            kinds=set(layer.kinds),
        )
        if layer.freshness is None:
            return placed
        return placed.replace_attributes(freshness_policy=layer.freshness)

    # Dagster marks the mapping "preview" (it may change in a patch release); the snapshot test
    # sees any change it makes to the graph, so the warning on every load says nothing more.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=place)
