"""Provisioning assembled from settings: what the CLI, infra_scripts and the demo run."""

from __future__ import annotations

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.hub.factory import make_hub_admin
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import local as provisioning
from eda_lake.provisioning.desired import desired_state
from eda_lake.provisioning.local import Action
from eda_lake.registry.factory import make_registry
from eda_lake.settings import Settings


def provision(
    settings: Settings, *, plan_only: bool = False, catalogue: Catalogue | None = None
) -> list[Action]:
    """Plan (touching nothing) or apply the catalogue's desired state; the changes, in order."""
    desired = desired_state(catalogue or load_catalogue(settings.schema_dir))
    admin = make_hub_admin(settings)
    registry = make_registry(settings)
    try:
        step = provisioning.plan if plan_only else provisioning.apply
        return step(desired, admin, registry, LakeLayout.from_settings(settings))
    finally:
        for part in (admin, registry):
            close = getattr(part, "close", None)
            if close is not None:
                close()
