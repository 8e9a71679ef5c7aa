"""Platform: the shared infrastructure, provisioned in a safe order and idempotently.

schema registry -> capture destination -> event hubs -> consumer groups. Each asset's
metadata shows what exists after it ran.
"""

from contextlib import closing
from typing import Any

import dagster as dg

from eda_lake.defs.resources import EdaLakeResource
from eda_lake.provisioning import local as provisioning
from eda_lake.provisioning.desired import desired_state

GROUP = "platform"


def _closing(part: Any) -> Any:
    return closing(part) if hasattr(part, "close") else part


@dg.asset(group_name=GROUP, owners=["team:platform"], kinds={"azure", "avro"})
def schema_registry(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The schema group and every schema of the catalogue, registered (idempotent)."""
    desired = desired_state(eda_lake.catalogue())
    with _closing(eda_lake.registry()) as registry:
        ids = provisioning.apply_registry(desired, registry)
    return dg.MaterializeResult(
        metadata={
            "schema_group": desired.schema_group,
            "compatibility": desired.compatibility.value,
            "schemas": dg.MetadataValue.json(ids),
        }
    )


@dg.asset(group_name=GROUP, owners=["team:platform"], deps=[schema_registry], kinds={"storage"})
def capture_destination(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The lake's areas, capture first: it must exist before any hub captures into it."""
    lake = eda_lake.layout()
    provisioning.apply_capture_target(lake)
    return dg.MaterializeResult(metadata={"lake": dg.MetadataValue.path(lake.uri)})


@dg.asset(group_name=GROUP, owners=["team:platform"], deps=[capture_destination], kinds={"azure"})
def event_hubs(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """One hub per event, with partitions, retention and Capture settings."""
    desired = desired_state(eda_lake.catalogue())
    with _closing(eda_lake.hub_admin()) as admin:
        provisioning.apply_hubs(desired, admin)
        hubs, namespace = admin.hubs(), admin.namespace
    capture = desired.capture
    return dg.MaterializeResult(
        metadata={
            "namespace": namespace,
            "hubs": dg.MetadataValue.md(
                "| hub | owner | partitions | retention (days) |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {h.name} | {desired.owners.get(h.name, '?')} | {h.partitions} "
                    f"| {h.retention_days} |"
                    for h in hubs
                )
            ),
            "capture": dg.MetadataValue.json(
                {
                    "encoding": capture.encoding,
                    "window_seconds": capture.window_seconds,
                    "window_bytes": capture.window_bytes,
                    "skip_empty_archives": capture.skip_empty_archives,
                    "archive_name_format": capture.archive_name_format,
                }
            ),
        }
    )


@dg.asset(group_name=GROUP, owners=["team:platform"], deps=[event_hubs], kinds={"azure"})
def consumer_groups(eda_lake: EdaLakeResource) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """A consumer group per subscribing team on each hub, plus `datalake`."""
    desired = desired_state(eda_lake.catalogue())
    with _closing(eda_lake.hub_admin()) as admin:
        provisioning.apply_consumer_groups(desired, admin)
        groups = {
            h.name: [f"{g.name} ({g.user_metadata})" for g in admin.consumer_groups(h.name)]
            for h in admin.hubs()
        }
    return dg.MaterializeResult(metadata={"consumer_groups": dg.MetadataValue.json(groups)})


provision_platform_job = dg.define_asset_job(
    "provision_platform",
    selection=dg.AssetSelection.groups(GROUP),
    description="Provision the schema registry, capture destination, hubs and consumer groups.",
)

defs = dg.Definitions(
    assets=[schema_registry, capture_destination, event_hubs, consumer_groups],
    jobs=[provision_platform_job],
)
