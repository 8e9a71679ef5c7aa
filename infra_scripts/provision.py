"""`python -m infra_scripts.provision plan|apply [--target local|azure]`.

`plan` prints what `apply` would create or change and touches nothing; `apply` brings the
target to the catalogue's desired state, in a safe order and idempotently.

- local: the embedded namespace, schema registry and lake (the Dagster `platform` assets
  call the same code).
- azure: resource group, Event Hubs namespace (Standard), lake storage account (hierarchical
  namespace, capture and lake containers, discovery queue, lifecycle policy), checkpoint
  storage account, schema group, hubs with Capture, consumer groups, hub-scoped Send and
  Listen rules, and the Event Grid subscription that feeds the discovery queue. It needs
  EDA_LAKE_AZURE_SUBSCRIPTION_ID, EDA_LAKE_AZURE_LOCATION, EDA_LAKE_ENVIRONMENT and
  EDA_LAKE_NAME_SUFFIX, and signs in with DefaultAzureCredential.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eda_lake.catalogue import CatalogueError, load_catalogue
from eda_lake.names import InvalidNameError
from eda_lake.provisioning.local import Action
from eda_lake.provisioning.runtime import provision
from eda_lake.settings import Settings, SettingsError


def azure_actions(settings: Settings, *, plan_only: bool) -> list[Action]:
    from azure.identity import DefaultAzureCredential

    from eda_lake.provisioning.azure import AzureClients, AzureDeployment, AzureProvisioner
    from eda_lake.provisioning.azure_names import azure_names
    from eda_lake.provisioning.desired import desired_state

    target = settings.deployment
    if target is None:
        raise SettingsError(
            "--target azure needs EDA_LAKE_AZURE_SUBSCRIPTION_ID (and the location, "
            "environment and name suffix variables)"
        )
    names = azure_names(target.environment, target.location, target.suffix)
    deployment = AzureDeployment(target.subscription_id, target.location, target.environment, names)
    clients = AzureClients.create(DefaultAzureCredential(), target.subscription_id)
    provisioner = AzureProvisioner(
        deployment, desired_state(load_catalogue(settings.schema_dir)), clients
    )
    return provisioner.plan() if plan_only else provisioner.apply()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra_scripts.provision", description=__doc__)
    parser.add_argument("action", choices=["plan", "apply"])
    parser.add_argument("--target", choices=["local", "azure"], default="local")
    args = parser.parse_args(argv)
    plan_only = args.action == "plan"
    try:
        settings = Settings.from_env()
        if args.target == "azure":
            actions = azure_actions(settings, plan_only=plan_only)
        else:
            actions = provision(settings, plan_only=plan_only)
    except (SettingsError, CatalogueError, InvalidNameError, ValueError) as exc:
        print(f"provision: error: {exc}", file=sys.stderr)
        return 2
    print(f"target {args.target}:")
    for action in actions:
        print(f"  {action}")
    verb = "would change" if plan_only else "changed"
    print(f"{len(actions)} resource(s) {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
