"""Keeping the lake small and within its policies, under the lake's lock: bronze compacted,
old files vacuumed, lifecycle rules enforced where no engine runs them."""

from __future__ import annotations

from pathlib import Path

from eda_lake.lake.maintenance.compaction import CompactionReport, compact_bronze
from eda_lake.lake.maintenance.lifecycle import (
    CAPTURE_CONTAINER,
    LAKE_CONTAINER,
    EnforcementReport,
    Rule,
    default_policy,
    enforce,
    load_policy,
    local_containers,
    validate,
)
from eda_lake.lake.maintenance.vacuum import VacuumReport, vacuum_lake
from eda_lake.lake.parts import LakeParts


class Upkeep:
    def __init__(self, parts: LakeParts) -> None:
        self.parts = parts

    def compact(self) -> CompactionReport:
        with self.parts.lock.shared("compaction"):
            return compact_bronze(self.parts.layout)

    def vacuum(self, retention_hours: int) -> VacuumReport:
        """Delete files no table version within `retention_hours` refers to."""
        with self.parts.lock.shared("vacuum"):
            return vacuum_lake(self.parts.layout, retention_hours)

    @property
    def azure_enforces_lifecycle(self) -> bool:
        """On Azure's own Blob endpoint the account's lifecycle management enforces the policy
        provisioning applied; enforcing it again would race it (and the lake's identity only
        reads the capture container)."""
        storage = self.parts.settings.storage
        return not self.parts.layout.local and storage is not None and not storage.blob_authority

    def lifecycle(self, policy_file: Path | None = None) -> tuple[list[Rule], EnforcementReport]:
        """Apply the lifecycle policy (the default, or an Azure policy document) where no
        lifecycle engine runs: the local directory or Azurite."""
        layout, storage = self.parts.layout, self.parts.settings.storage
        if layout.local or storage is None or not storage.lake_container:
            capture, lake = CAPTURE_CONTAINER, LAKE_CONTAINER
            containers = local_containers(layout)
        else:
            capture, lake = storage.capture_container or CAPTURE_CONTAINER, storage.lake_container
            containers = {lake: lake, capture: capture}
        rules = (
            load_policy(policy_file, lake)
            if policy_file
            else validate(default_policy(capture, lake), "default policy", lake)
        )
        return rules, enforce(layout, rules, containers)
