"""What should exist, derived from the catalogue alone."""

from __future__ import annotations

from dataclasses import dataclass

from eda_lake.catalogue import CaptureSettings, Catalogue
from eda_lake.hub.base import ConsumerGroupSpec, HubSpec
from eda_lake.registry.compatibility import Compatibility
from eda_lake.registry.schema import AvroSchema


@dataclass(frozen=True)
class DesiredState:
    schema_group: str
    compatibility: Compatibility
    schemas: tuple[AvroSchema, ...]
    hubs: tuple[HubSpec, ...]
    consumer_groups: tuple[ConsumerGroupSpec, ...]
    capture: CaptureSettings
    owners: dict[str, str]  # hub -> owning team, for tags and metadata


def desired_state(catalogue: Catalogue) -> DesiredState:
    events = list(catalogue.events.values())
    return DesiredState(
        schema_group=catalogue.schema_group,
        compatibility=Compatibility.parse(catalogue.compatibility),
        schemas=tuple(e.schema for e in events),
        hubs=tuple(HubSpec(e.hub, e.partitions, e.retention_days) for e in events),
        consumer_groups=tuple(
            ConsumerGroupSpec(e.hub, group, f"team: {group}")
            for e in events
            for group in e.consumer_groups
        ),
        capture=catalogue.capture,
        owners={e.hub: e.team for e in events},
    )
