"""Plan and apply the desired state on the embedded default, idempotently and in order.

Order matters, as each step needs the one before: the schema group and its schemas first, then
the capture destination, then the hubs that capture into it, then their consumer groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eda_lake.hub.base import EventHubAdmin
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning.desired import DesiredState
from eda_lake.registry.base import SchemaGroupNotFoundError, SchemaRegistry


@dataclass(frozen=True)
class Action:
    """One change: `kind` of resource, its `name`, and what would be done; for an update,
    the `differences` found (each a property, what it is and what it should be); in a plan
    made offline, the `desired` body."""

    kind: str
    name: str
    change: str
    differences: tuple[str, ...] = ()
    desired: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.change:<7} {self.kind:<15} {self.name}"

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": self.kind, "name": self.name, "change": self.change}
        if self.differences:
            shown["differences"] = list(self.differences)
        if self.desired is not None:
            shown["desired"] = self.desired
        return shown


def plan(
    desired: DesiredState, hub: EventHubAdmin, registry: SchemaRegistry, lake: LakeLayout
) -> list[Action]:
    """What `apply` would change, in the order it would change it; touches nothing."""
    actions: list[Action] = []
    try:
        mode = registry.group_compatibility(desired.schema_group)
        if mode is not desired.compatibility:
            actions.append(Action("schema group", desired.schema_group, "update"))
    except SchemaGroupNotFoundError:
        actions.append(Action("schema group", desired.schema_group, "create"))
        mode = None
    for schema in desired.schemas:
        if mode is None or registry.find(desired.schema_group, schema) is None:
            actions.append(Action("schema", schema.full_name, "register"))
    if lake.local and not lake.capture.is_dir():
        actions.append(Action("capture target", str(lake.capture), "create"))
    existing_hubs = {h.name: h for h in hub.hubs()}
    for spec in desired.hubs:
        current = existing_hubs.get(spec.name)
        if current is None:
            actions.append(Action("event hub", spec.name, "create"))
        elif current != spec:
            actions.append(Action("event hub", spec.name, "update"))
    for group in desired.consumer_groups:
        present = (
            {(g.name, g.user_metadata) for g in hub.consumer_groups(group.hub)}
            if group.hub in existing_hubs
            else set()
        )
        if (group.name, group.user_metadata) not in present:
            actions.append(Action("consumer group", f"{group.hub}/{group.name}", "create"))
    return actions


def apply_registry(desired: DesiredState, registry: SchemaRegistry) -> dict[str, str]:
    """The schema group and every catalogue schema; returns schema ids by full name."""
    registry.ensure_group(desired.schema_group, desired.compatibility)
    return {s.full_name: registry.register(desired.schema_group, s).id for s in desired.schemas}


def apply_capture_target(lake: LakeLayout) -> None:
    """The capture destination must exist before any hub captures into it."""
    lake.create()


def apply_hubs(desired: DesiredState, hub: EventHubAdmin) -> None:
    for spec in desired.hubs:
        hub.ensure_hub(spec)


def apply_consumer_groups(desired: DesiredState, hub: EventHubAdmin) -> None:
    for group in desired.consumer_groups:
        hub.ensure_consumer_group(group)


def apply(
    desired: DesiredState, hub: EventHubAdmin, registry: SchemaRegistry, lake: LakeLayout
) -> list[Action]:
    """Bring the namespace and registry to the desired state; returns what changed."""
    changes = plan(desired, hub, registry, lake)
    apply_registry(desired, registry)
    apply_capture_target(lake)
    apply_hubs(desired, hub)
    apply_consumer_groups(desired, hub)
    return changes
