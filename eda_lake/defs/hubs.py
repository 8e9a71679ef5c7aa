"""Each hub's events as an asset, and the capture files between the hubs and bronze.

The platform provisions the hubs (`event_hubs`); the owning team's publishing or reacting
runs materialize its hub's events (locally; on Azure the teams' own services publish, so
the assets are external), and Capture turns them into files that bronze ingests.
"""

from __future__ import annotations

import dagster as dg

from eda_lake.catalogue import Catalogue, EventSpec, Hub

EVENT_HUBS = dg.AssetKey("event_hubs")  # the platform asset that creates every hub
CAPTURE_DESTINATION = dg.AssetKey("capture_destination")  # where Capture writes
CAPTURE_FILES = dg.AssetKey(["capture", "files"])


def hub_key(hub: Hub) -> dg.AssetKey:
    return dg.AssetKey(["hub", hub.name.replace("-", "_")])


def _doc(spec: EventSpec) -> str:
    doc = spec.schema.parsed.get("doc")
    return str(doc) if doc else f"{spec.name} events"


def _carried(hub: Hub) -> str:
    """What the hub carries and who reads it: one sentence per event."""
    return " ".join(
        f"{_doc(e)} `{e.name}`; read by {', '.join(e.subscribers) or 'no team (the lake only)'}."
        for e in hub.events
    )


def hub_specs(catalogue: Catalogue) -> list[dg.AssetSpec]:
    """One asset per hub, whether it carries one event or an aggregate's several."""
    return [
        dg.AssetSpec(
            hub_key(hub),
            deps=[EVENT_HUBS],
            group_name="hubs",
            description=f"Hub `{hub.name}`, published by {hub.team}, keyed by "
            f"`{hub.partition_key}`. {_carried(hub)}",
            metadata={
                "hub": hub.name,
                "events": dg.MetadataValue.json({e.name: e.cloudevents_type() for e in hub.events}),
                "partitions": hub.partitions,
                "retention_days": hub.retention_days,
                "schemas": dg.MetadataValue.json({e.name: str(e.schema_path) for e in hub.events}),
            },
        )
        for hub in catalogue.hubs.values()
    ]


CAPTURE_DESCRIPTION = (
    "Avro files of every hub's events, one per partition and time window "
    "({Namespace}/{EventHub}/{PartitionId}/{Year}/.../{Second}.avro): what bronze ingests."
)


def capture_files_spec(catalogue: Catalogue) -> dg.AssetSpec:
    """On Azure, Event Hubs Capture writes them by itself: an external asset."""
    return dg.AssetSpec(
        CAPTURE_FILES,
        deps=[CAPTURE_DESTINATION, *(hub_key(hub) for hub in catalogue.hubs.values())],
        group_name="capture",
        description=CAPTURE_DESCRIPTION + " Written by Event Hubs Capture.",
        kinds={"azure"},
    )
