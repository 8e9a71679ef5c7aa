"""Provisioning assembled from settings: what the CLI, infra_scripts and the demo run."""

from __future__ import annotations

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.hub.factory import make_hub_admin
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import local as provisioning
from eda_lake.provisioning.azure import AzureClients, AzureDeployment, AzureProvisioner
from eda_lake.provisioning.azure_names import azure_names
from eda_lake.provisioning.desired import DesiredState, desired_state
from eda_lake.provisioning.local import Action
from eda_lake.registry.factory import make_registry
from eda_lake.settings import SUBSCRIPTION_VAR, Settings, SettingsError, Target


def provision(
    settings: Settings, *, plan_only: bool = False, catalogue: Catalogue | None = None
) -> list[Action]:
    """Plan (touching nothing) or apply the catalogue's desired state on the configured
    target; the changes, in the order they are (or would be) made."""
    desired = desired_state(catalogue or load_catalogue(settings.schema_dir))
    if settings.target is Target.AZURE:
        provisioner = azure_provisioner(settings, desired)
        return provisioner.plan() if plan_only else provisioner.apply()
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


def azure_provisioner(settings: Settings, desired: DesiredState) -> AzureProvisioner:
    from azure.identity import DefaultAzureCredential

    target = settings.deployment
    if target is None:
        raise SettingsError(
            f"provisioning Azure needs {SUBSCRIPTION_VAR} and the location, environment and "
            "name suffix variables (see README, 'Run it against Azure')"
        )
    names = azure_names(target.environment, target.location, target.suffix)
    deployment = AzureDeployment(
        target.subscription_id,
        target.location,
        target.environment,
        names,
        principals=target.principals,
    )
    clients = AzureClients.create(DefaultAzureCredential(), target.subscription_id)
    return AzureProvisioner(deployment, desired, clients)
