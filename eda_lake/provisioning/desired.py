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
    """Each hub once, whatever number of events it carries: its consumer groups are one per
    team subscribed to any of them, and the lake's."""
    hubs = list(catalogue.hubs.values())
    return DesiredState(
        schema_group=catalogue.schema_group,
        compatibility=Compatibility.parse(catalogue.compatibility),
        schemas=tuple(e.schema for e in catalogue.events.values()),
        hubs=tuple(HubSpec(h.name, h.partitions, h.retention_days) for h in hubs),
        consumer_groups=tuple(
            ConsumerGroupSpec(h.name, group, f"team: {group}")
            for h in hubs
            for group in h.consumer_groups
        ),
        capture=catalogue.capture,
        owners={h.name: h.team for h in hubs},
    )
