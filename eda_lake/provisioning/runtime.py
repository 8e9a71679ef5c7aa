"""Provisioning assembled from settings: what the CLI, infra_scripts and the demo run.

The runtime's `Settings` say which target and where the embedded default keeps its state;
on Azure, where to create the resources and how to name them are provisioning's own
settings (`AzureDeploymentSettings`), read here from the same variable table.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.hub.base import EventHubAdmin
from eda_lake.hub.factory import make_hub_admin
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import embedded as provisioning
from eda_lake.provisioning.azure import AzureClients, AzureDeployment, AzureProvisioner
from eda_lake.provisioning.azure_names import AzureNames
from eda_lake.provisioning.desired import DesiredState, desired_state
from eda_lake.provisioning.embedded import Action
from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.factory import make_registry
from eda_lake.settings import (
    AzureEventHubs,
    AzureStorage,
    Broker,
    DiscoveryQueue,
    Settings,
    Target,
    settings_variables,
)
from eda_lake.shared import key_vault
from eda_lake.shared.azure_identity import azure_credential
from eda_lake.shared.closing import close_all


def provision(
    settings: Settings,
    *,
    plan_only: bool = False,
    catalogue: Catalogue | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Action]:
    """Plan (touching nothing) or apply the catalogue's desired state on the configured
    target; the changes, in the order they are (or would be) made. `environ`: where
    provisioning's own variables are read on Azure (default: this process's environment)."""
    catalogue = catalogue or load_catalogue(settings.schema_dir, settings.catalogue_file)
    if settings.target is Target.AZURE:
        mode = Mode.PLAN if plan_only else Mode.APPLY
        return provision_azure(catalogue, mode, environ).actions
    desired = desired_state(catalogue)
    layout = LakeLayout.from_settings(settings)
    if not plan_only:
        admin, registry = make_hub_admin(settings), make_registry(settings)
        try:
            return provisioning.apply(desired, admin, registry, layout)
        finally:
            close_all(admin, registry)
    # A plan touches nothing: state not created yet is planned against an empty throwaway
    # copy, since opening the embedded hub or registry would create its files.
    with tempfile.TemporaryDirectory(prefix="eda-lake-plan-") as empty:
        blank = replace(settings, home=Path(empty))
        admin = make_hub_admin(settings if settings.hub_dir.is_dir() else blank)
        registry = make_registry(settings if settings.registry_file.is_file() else blank)
        try:
            return provisioning.plan(desired, admin, registry, layout)
        finally:
            close_all(admin, registry)


def azure_provisioner(
    desired: DesiredState, environ: Mapping[str, str] | None = None, *, offline: bool = False
) -> AzureProvisioner:
    """`offline`: one that lists the desired state and neither signs in nor reads Azure."""
    deployment = AzureDeployment.from_env(environ, offline=offline)
    if offline:
        return AzureProvisioner(deployment, desired, None)
    clients = AzureClients.create(azure_credential(), deployment.subscription_id)
    return AzureProvisioner(deployment, desired, clients)


# The Key Vault secret that holds the PII key on Azure, named in the handover.
PII_KEY_SECRET = "eda-lake-pii-key"


def handover(names: AzureNames) -> dict[str, str]:
    """The runtime's variables for the resources `apply` made, as `Settings.from_env` reads
    them (by the variable table), with Entra ID throughout and the PII key by its Key Vault
    reference: no secret value."""
    runtime = Settings(
        home=Path(),
        target=Target.AZURE,
        broker=Broker.EVENTHUBS,
        storage=AzureStorage(
            names.lake_account,
            capture_container=names.capture_container,
            lake_container=names.lake_container,
        ),
        eventhubs=AzureEventHubs(
            f"{names.namespace}.servicebus.windows.net",
            checkpoint_account_url=f"https://{names.checkpoint_account}.blob.core.windows.net",
            checkpoint_container=names.checkpoint_container,
        ),
        discovery_queue=DiscoveryQueue(names.discovery_queue),
        pii_key=key_vault.reference(names.key_vault, PII_KEY_SECRET),
    )
    local = settings_variables(Settings(home=runtime.home))
    return {k: v for k, v in settings_variables(runtime).items() if local.get(k) != v}


class Mode(StrEnum):
    PLAN = "plan"
    OFFLINE_PLAN = "offline plan"
    APPLY = "apply"
    VERIFY = "verify"


@dataclass(frozen=True)
class AzureProvisioning:
    """What one provisioning command did on Azure: its `actions` (for `verify`, the drift),
    and after `apply` the runtime's variables to hand over."""

    mode: Mode
    names: AzureNames
    subscription_id: str
    actions: list[Action]
    exports: dict[str, str] = field(default_factory=dict)


def provision_azure(
    catalogue: Catalogue, mode: Mode, environ: Mapping[str, str] | None = None
) -> AzureProvisioning:
    """Plan (offline, or against Azure), apply, or verify the catalogue's desired state on
    Azure; reads provisioning's variables alone, never the runtime's."""
    desired = desired_state(catalogue)
    provisioner = azure_provisioner(desired, environ, offline=mode is Mode.OFFLINE_PLAN)
    d = provisioner.deployment
    if mode is Mode.OFFLINE_PLAN:
        return AzureProvisioning(mode, d.names, d.subscription_id, provisioner.offline_plan())
    if mode is Mode.APPLY:
        actions = provisioner.apply()
        return AzureProvisioning(mode, d.names, d.subscription_id, actions, handover(d.names))
    return AzureProvisioning(mode, d.names, d.subscription_id, provisioner.plan())


LocalPart = Callable[[DesiredState, EventHubAdmin, SchemaRegistry, LakeLayout], object]
# The platform's parts, in the order the Dagster `platform` assets provision them: on Azure
# each part's resources have their parents from the parts before (the resource group from
# the capture destination, the namespace, which holds the schema registry, before its hubs).
# Per part: the kinds of resource it changes on Azure and on the embedded default (on Azure,
# the monitoring comes last, once everything it watches exists).
PARTS: dict[str, tuple[set[str], set[str], LocalPart]] = {
    "capture_destination": (
        {"resource group", "storage account", "blob container", "storage queue",
         "lifecycle policy", "blob service", "lock", "key vault", "log analytics workspace"},
        {"capture target"},
        lambda desired, admin, registry, layout: provisioning.apply_capture_target(layout),
    ),
    "schema_registry": (
        {"namespace", "schema group"},
        {"schema group", "schema"},
        lambda desired, admin, registry, layout: provisioning.apply_registry(desired, registry),
    ),
    "event_hubs": (
        {"managed identity role", "event hub", "hub access rule", "role assignment",
         "event grid topic"},
        {"event hub"},
        lambda desired, admin, registry, layout: provisioning.apply_hubs(desired, admin),
    ),
    "consumer_groups": (
        {"consumer group", "event subscription", "diagnostic setting", "action group",
         "metric alert", "log alert"},
        {"consumer group"},
        lambda desired, admin, registry, layout: provisioning.apply_consumer_groups(desired, admin),
    ),
}  # fmt: skip


def provision_part(
    settings: Settings, part: str, environ: Mapping[str, str] | None = None
) -> list[Action]:
    """Apply one part of the desired state on the configured target; what it changed.
    `environ`: as for `provision`."""
    desired = desired_state(load_catalogue(settings.schema_dir, settings.catalogue_file))
    azure_kinds, local_kinds, apply_locally = PARTS[part]
    if settings.target is Target.AZURE:
        return azure_provisioner(desired, environ).apply(azure_kinds)
    layout = LakeLayout.from_settings(settings)
    admin, registry = make_hub_admin(settings), make_registry(settings)
    try:
        changes = provisioning.plan(desired, admin, registry, layout)
        apply_locally(desired, admin, registry, layout)
    finally:
        close_all(admin, registry)
    return [a for a in changes if a.kind in local_kinds]
