"""Each hub's events as an asset, and the capture files between the hubs and bronze.

The platform provisions the hubs (`event_hubs`); the owning team's publishing or reacting
runs materialize its hub's events (locally; on Azure the teams' own services publish, so
the assets are external), and Capture turns them into files that bronze ingests.
"""

from __future__ import annotations

import dagster as dg

from eda_lake.catalogue import Catalogue, EventSpec

EVENT_HUBS = dg.AssetKey("event_hubs")  # the platform asset that creates every hub
CAPTURE_DESTINATION = dg.AssetKey("capture_destination")  # where Capture writes
CAPTURE_FILES = dg.AssetKey(["capture", "files"])


def hub_key(spec: EventSpec) -> dg.AssetKey:
    return dg.AssetKey(["hub", spec.hub.replace("-", "_")])


def _doc(spec: EventSpec) -> str:
    doc = spec.schema.parsed.get("doc")
    return str(doc) if doc else f"{spec.name} events"


def hub_specs(catalogue: Catalogue) -> list[dg.AssetSpec]:
    specs = []
    for spec in catalogue.events.values():
        readers = ", ".join(spec.subscribers) or "no team (the lake only)"
        specs.append(
            dg.AssetSpec(
                hub_key(spec),
                deps=[EVENT_HUBS],
                group_name="hubs",
                description=f"{_doc(spec)} `{spec.name}` on hub `{spec.hub}`, published by "
                f"{spec.team}, keyed by `{spec.partition_key}`; read by {readers}.",
                metadata={
                    "hub": spec.hub,
                    "partitions": spec.partitions,
                    "retention_days": spec.retention_days,
                    "schema": dg.MetadataValue.path(str(spec.schema_path)),
                },
            )
        )
    return specs


CAPTURE_DESCRIPTION = (
    "Avro files of every hub's events, one per partition and time window "
    "({Namespace}/{EventHub}/{PartitionId}/{Year}/.../{Second}.avro): what bronze ingests."
)


def capture_files_spec(catalogue: Catalogue) -> dg.AssetSpec:
    """On Azure, Event Hubs Capture writes them by itself: an external asset."""
    return dg.AssetSpec(
        CAPTURE_FILES,
        deps=[CAPTURE_DESTINATION, *(hub_key(spec) for spec in catalogue.events.values())],
        group_name="capture",
        description=CAPTURE_DESCRIPTION + " Written by Event Hubs Capture.",
        kinds={"azure"},
    )
