"""What the Azure provisioning tests share: a provisioner on an in-memory ARM that knows the
built-in roles, and how to find what it wrote there."""

from __future__ import annotations

from typing import Any

from eda_lake.catalogue import Catalogue
from eda_lake.provisioning.azure import AzureClients, AzureDeployment, AzureProvisioner
from eda_lake.provisioning.desired import desired_state
from eda_lake_tests.provisioning.fake_arm import FakeArm, FakeCredential

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LAKE = "33333333-3333-3333-3333-333333333333"
BUILT_IN_ROLES = (
    "Azure Event Hubs Data Sender", "Azure Event Hubs Data Receiver",
    "Schema Registry Contributor (Preview)", "Schema Registry Reader (Preview)",
    "Storage Blob Data Reader", "Storage Blob Data Contributor",
    "Storage Queue Data Message Processor", "Storage Queue Data Message Sender",
    "Storage Blob Delegator", "Key Vault Secrets User",
)  # fmt: skip
# Where the deployment's resources are, as ARM keys them (lower case).
RESOURCE_GROUP = f"/subscriptions/{SUBSCRIPTION}/resourcegroups/dv-eda-rg-westeurope-x7k2"
PROVIDERS = f"{RESOURCE_GROUP}/providers"
LAKE_ACCOUNT = f"{PROVIDERS}/microsoft.storage/storageaccounts/dvedalakex7k2"
NAMESPACE = f"{PROVIDERS}/microsoft.eventhub/namespaces/dv-eda-evhns-westeurope-x7k2"
VAULT = f"{PROVIDERS}/microsoft.keyvault/vaults/dv-eda-kv-x7k2"
SYSTEM_TOPIC = f"{PROVIDERS}/microsoft.eventgrid/systemtopics/dv-eda-evgt-westeurope-x7k2"
ROLE_DEFINITIONS = (
    f"/subscriptions/{SUBSCRIPTION}/providers/microsoft.authorization/roledefinitions"
)


def teach_roles(arm: FakeArm) -> None:
    """Give `arm` the built-in roles' definitions, which role assignments name."""
    arm.resources[ROLE_DEFINITIONS] = {
        "value": [
            {"id": f"{ROLE_DEFINITIONS}/{i}", "name": str(i), "properties": {"roleName": role}}
            for i, role in enumerate(BUILT_IN_ROLES)
        ]
    }


def provisioner(catalogue: Catalogue, arm: FakeArm, **deployment: Any) -> AzureProvisioner:
    """A provisioner of the dv deployment in westeurope (with `deployment`'s fields of
    `AzureDeployment`), on `arm`, which it teaches the built-in roles."""
    teach_roles(arm)
    target = AzureDeployment(SUBSCRIPTION, "westeurope", "dv", "x7k2", **deployment)
    clients = AzureClients.create(FakeCredential(), SUBSCRIPTION, transport=arm)
    return AzureProvisioner(target, desired_state(catalogue), clients)


def role_id(role: str) -> str:
    """The id of a built-in role's definition in the ARM `provisioner` teaches."""
    return f"{ROLE_DEFINITIONS}/{BUILT_IN_ROLES.index(role)}"


def assignments(arm: FakeArm, principal: str) -> dict[str, str]:
    """The principal's role assignments in the ARM: scope (lower case, as ARM keys it) ->
    the id of the role's definition."""
    found = {}
    for key, resource in arm.resources.items():
        scope, assignment, _ = key.partition("/providers/microsoft.authorization/roleassignments/")
        if assignment and resource["properties"]["principalId"] == principal:
            found[scope] = resource["properties"]["roleDefinitionId"]
    return found
