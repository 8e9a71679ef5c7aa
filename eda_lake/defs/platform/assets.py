"""Platform: the shared infrastructure, provisioned in a safe order and idempotently, on the
configured target (the embedded default, or Azure).

capture destination -> schema registry -> event hubs -> consumer groups: on Azure each part
needs what the parts before created (the resource group and storage; the namespace, which
holds the schema registry). Each asset reports what it changed and what the catalogue asks
to exist.
"""

from typing import Any

import dagster as dg

from eda_lake.defs.resources import EdaLakeResource
from eda_lake.provisioning.desired import DesiredState, desired_state
from eda_lake.provisioning.runtime import provision_part

GROUP = "platform"


def _result(eda_lake: EdaLakeResource, part: str, **metadata: Any) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = eda_lake.settings()
    changes = provision_part(settings, part, eda_lake.variables())
    return dg.MaterializeResult(
        metadata={
            "target": settings.target.value,
            "changed": dg.MetadataValue.json([str(c) for c in changes]),
            **metadata,
        }
    )


def _desired(eda_lake: EdaLakeResource) -> DesiredState:
    return desired_state(eda_lake.catalogue())


@dg.asset(
    group_name=GROUP,
    deps=["capture_destination"],
    kinds={"avro"},
)
def schema_registry(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The schema group (on Azure, in the Event Hubs namespace this creates) and every schema
    of the catalogue, registered (idempotent)."""
    desired = _desired(eda_lake)
    return _result(
        eda_lake,
        "schema_registry",
        schema_group=desired.schema_group,
        compatibility=desired.compatibility.value,
        schemas=dg.MetadataValue.json([s.full_name for s in desired.schemas]),
    )


@dg.asset(group_name=GROUP, kinds={"storage"})
def capture_destination(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Storage for the lake and Capture (on Azure also the resource group): it must exist
    before any hub captures into it."""
    return _result(
        eda_lake, "capture_destination", lake=dg.MetadataValue.path(eda_lake.layout().uri)
    )


@dg.asset(
    group_name=GROUP,
    deps=[schema_registry, capture_destination],
    kinds={"eventhubs"},
)
def event_hubs(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """One hub per event, with partitions, retention, Capture and hub-scoped access."""
    desired = _desired(eda_lake)
    capture = desired.capture
    return _result(
        eda_lake,
        "event_hubs",
        hubs=dg.MetadataValue.md(
            "| hub | owner | partitions | retention (days) |\n|---|---|---|---|\n"
            + "\n".join(
                f"| {h.name} | {desired.owners[h.name]} | {h.partitions} | {h.retention_days} |"
                for h in desired.hubs
            )
        ),
        capture=dg.MetadataValue.json(
            {
                "encoding": capture.encoding,
                "window_seconds": capture.window_seconds,
                "window_bytes": capture.window_bytes,
                "skip_empty_archives": capture.skip_empty_archives,
                "archive_name_format": capture.archive_name_format,
            }
        ),
    )


@dg.asset(group_name=GROUP, deps=[event_hubs], kinds={"eventhubs"})
def consumer_groups(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """A consumer group per subscribing team on each hub, plus `datalake`."""
    groups: dict[str, list[str]] = {}
    for group in _desired(eda_lake).consumer_groups:
        groups.setdefault(group.hub, []).append(f"{group.name} ({group.user_metadata})")
    return _result(eda_lake, "consumer_groups", consumer_groups=dg.MetadataValue.json(groups))


provision_platform_job = dg.define_asset_job(
    "provision_platform",
    selection=dg.AssetSelection.groups(GROUP),
    description="Provision the schema registry, capture destination, hubs and consumer groups.",
)

PLATFORM_ASSETS = [capture_destination, schema_registry, event_hubs, consumer_groups]
defs = dg.Definitions(
    assets=PLATFORM_ASSETS,
    jobs=[provision_platform_job],
)
