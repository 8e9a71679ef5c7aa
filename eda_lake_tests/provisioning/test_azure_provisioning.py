"""Azure provisioning through the real management clients, against an in-memory ARM at the
HTTP transport: plan on an empty subscription, apply, re-apply, half-failed apply."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.provisioning.azure import AzureClients, AzureDeployment, AzureProvisioner
from eda_lake.provisioning.azure_names import azure_names
from eda_lake.provisioning.desired import desired_state
from eda_lake.registry.compatibility import Compatibility
from eda_lake.settings import REPO_ROOT
from eda_lake.shared.names import InvalidNameError
from eda_lake_tests.provisioning.arm_setup import (
    LAKE,
    LAKE_ACCOUNT,
    NAMESPACE,
    SUBSCRIPTION,
    VAULT,
    assignments,
    provisioner,
    role_id,
    teach_roles,
)
from eda_lake_tests.provisioning.fake_arm import FakeArm, FakeCredential


def test_plan_on_an_empty_subscription_lists_every_resource(catalogue: Catalogue) -> None:
    arm = FakeArm()
    actions = provisioner(catalogue, arm).plan()
    kinds = Counter(a.kind for a in actions)
    assert all(a.change == "create" for a in actions)
    assert kinds["resource group"] == kinds["namespace"] == kinds["schema group"] == 1
    assert kinds["storage account"] == 2 and kinds["blob container"] == 4
    assert kinds["event hub"] == len(catalogue.events)
    assert kinds["consumer group"] == sum(len(e.consumer_groups) for e in catalogue.events.values())
    assert kinds["lifecycle policy"] == 1 and kinds["storage queue"] == 2  # and its poison queue
    assert kinds["event grid topic"] == kinds["event subscription"] == 1
    assert kinds["lock"] == 2  # the resource group and the lake's account
    assert kinds["key vault"] == kinds["log analytics workspace"] == kinds["action group"] == 1
    # the namespace, each account, and the services whose logs Storage keeps apart
    assert kinds["diagnostic setting"] == 6
    assert kinds["metric alert"] == 3 and kinds["log alert"] == 3
    assert kinds["managed identity role"] == 0  # shared keys: Capture and Event Grid use them
    rules = [a.name for a in actions if a.kind == "hub access rule"]
    assert (
        "customer-created/customer-send" in rules and "customer-created/conversions-listen" in rules
    )
    assert not any("datalake" in r for r in rules)
    assert arm.writes() == []  # plan touches nothing
    # the order is safe: the capture container exists before any hub captures into it
    order = [f"{a.kind}:{a.name}" for a in actions]
    assert order.index("blob container:dvedalakex7k2/capture") < order.index(
        "event hub:customer-created"
    )
    assert order.index("namespace:dv-eda-evhns-westeurope-x7k2") < order.index(
        "event hub:customer-created"
    )


def test_apply_then_apply_again_is_a_no_op(catalogue: Catalogue) -> None:
    arm = FakeArm()
    created = provisioner(catalogue, arm).apply()
    assert len(created) == len(provisioner(catalogue, FakeArm()).plan())
    hub = arm.resources[f"{NAMESPACE}/eventhubs/customer-created"]
    capture = hub["properties"]["captureDescription"]
    assert capture["destination"]["properties"]["blobContainer"] == "capture"
    policy = arm.resources[f"{LAKE_ACCOUNT}/managementpolicies/default"]
    rules = {r["name"]: r for r in policy["properties"]["policy"]["rules"]}
    step_logs = rules["step-logs-retention"]["definition"]  # Dagster's logs do not pile up
    assert step_logs["filters"]["prefixMatch"] == ["dagster-compute-logs/"]
    assert capture["encoding"] == "Avro" and hub["properties"]["partitionCount"] == 4
    writes_before = len(arm.writes())
    assert provisioner(catalogue, arm).apply() == []
    assert len(arm.writes()) == writes_before  # nothing written the second time
    assert provisioner(catalogue, arm).plan() == []


def test_partial_failure_then_rerun_completes(catalogue: Catalogue) -> None:
    arm = FakeArm()
    arm.fail_once = {"/eventhubs/lead-generated"}
    with pytest.raises(HttpResponseError, match="injected failure"):
        provisioner(catalogue, arm).apply()
    remaining = provisioner(catalogue, arm).plan()
    assert remaining and remaining[0].name == "lead-generated"  # resumes where it stopped
    assert all(a.change == "create" for a in remaining)
    assert len(provisioner(catalogue, arm).apply()) == len(remaining)
    assert provisioner(catalogue, arm).plan() == []


def test_drift_is_updated_and_immutable_changes_refused(catalogue: Catalogue) -> None:
    arm = FakeArm()
    deployment = provisioner(catalogue, arm)
    deployment.apply()
    prefix = f"{NAMESPACE}/eventhubs/"
    arm.resources[prefix + "sale-confirmed"]["properties"]["messageRetentionInDays"] = 1
    [action] = deployment.plan()
    assert (action.kind, action.name, action.change) == ("event hub", "sale-confirmed", "update")
    arm.resources[prefix + "sale-confirmed"]["properties"]["partitionCount"] = 2
    with pytest.raises(ValueError, match="partitionCount is 2 and cannot change to 4"):
        deployment.plan()


def test_full_compatibility_and_bad_names_are_refused(catalogue: Catalogue) -> None:
    desired = dataclasses.replace(desired_state(catalogue), compatibility=Compatibility.FULL)
    deployment = AzureDeployment(SUBSCRIPTION, "westeurope", "dv", "x7k2")
    with pytest.raises(ValueError, match="Full compatibility"):
        AzureProvisioner(
            deployment,
            desired,
            AzureClients.create(FakeCredential(), SUBSCRIPTION, transport=FakeArm()),
        )
    with pytest.raises(InvalidNameError, match="environment 'prod'"):
        azure_names("prod", "westeurope", "x7k2")
    with pytest.raises(InvalidNameError, match="unique suffix"):
        azure_names("dv", "westeurope", "Way-Too-Long")


def test_entra_role_assignments_for_teams_with_identities(catalogue: Catalogue) -> None:
    teams = provisioner(
        catalogue, FakeArm(),
        principals={"customer": "11111111-1111-1111-1111-111111111111",
                    "conversions": "22222222-2222-2222-2222-222222222222"},
    )  # fmt: skip
    roles = [a.name for a in teams.apply() if a.kind == "role assignment"]
    assert (
        "Azure Event Hubs Data Sender for 11111111-1111-1111-1111-111111111111 on customer-created"
        in roles
    )
    receiver = "Azure Event Hubs Data Receiver for 22222222-2222-2222-2222-222222222222"
    assert f"{receiver} on customer-created" in roles
    assert sum("Schema Registry Contributor" in r for r in roles) == 2  # both produce events
    assert teams.apply() == []


def test_the_lakes_identity_gets_its_data_roles_on_the_containers_queues_and_registry(
    catalogue: Catalogue,
) -> None:
    arm = FakeArm()
    lake = provisioner(catalogue, arm, lake_principal=LAKE)
    lake.apply()
    account, namespace = LAKE_ACCOUNT, NAMESPACE
    assert assignments(arm, LAKE) == {
        # capture read only; the lake's and the compute logs' containers, not the account
        f"{account}/blobservices/default/containers/capture": role_id("Storage Blob Data Reader"),
        f"{account}/blobservices/default/containers/lake": role_id("Storage Blob Data Contributor"),
        f"{account}/blobservices/default/containers/dagster-compute-logs": role_id(
            "Storage Blob Data Contributor"
        ),
        f"{account}/queueservices/default/queues/capture-events": role_id(
            "Storage Queue Data Message Processor"
        ),
        f"{account}/queueservices/default/queues/capture-events-poison": role_id(
            "Storage Queue Data Message Sender"
        ),
        # the lake reads the files Capture writes, so no Event Hubs role on any hub
        namespace: role_id("Schema Registry Reader (Preview)"),
        # on the account, no data role: only the delegation key that signs the UI's log links
        account: role_id("Storage Blob Delegator"),
        # the vault's secrets (the Postgres password, the PII key), none of its keys
        VAULT: role_id("Key Vault Secrets User"),
    }
    every_scope = set(assignments(arm, LAKE))
    for scope in every_scope:  # each assignment is on a resource apply created
        assert scope in arm.resources
    writes = len(arm.writes())
    assert lake.apply() == [] and len(arm.writes()) == writes  # a second apply: nothing


def test_no_lake_identity_given_assigns_it_no_role(catalogue: Catalogue) -> None:
    arm = FakeArm()
    team = "11111111-1111-1111-1111-111111111111"
    applied = provisioner(catalogue, arm, principals={"customer": team}).apply()
    assert not any(a.kind == "role assignment" and team not in a.name for a in applied)
    granted = {
        key for key in arm.resources if "/providers/microsoft.authorization/roleassignments/" in key
    }
    assert granted and granted == {
        key for key in granted if arm.resources[key]["properties"]["principalId"] == team
    }
    assert not any("/containers/" in key or "/queues/" in key for key in granted)


def test_platform_assets_in_order_provision_everything_on_azure(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The Dagster platform assets, in their dependency order, on an ARM that refuses a child
    before its parent: every part creates something, and together they leave nothing."""
    import dagster as dg

    from eda_lake.defs.platform.assets import PLATFORM_ASSETS
    from eda_lake.defs.resources import EdaLakeResource
    from eda_lake.provisioning import runtime
    from eda_lake.settings import Settings

    arm = FakeArm()
    teach_roles(arm)
    real_create = AzureClients.create

    def on_fake_arm(
        cls: Any, /, credential: object, subscription: str, **kw: object
    ) -> AzureClients:
        return real_create(FakeCredential(), subscription, transport=arm)

    monkeypatch.setattr(AzureClients, "create", classmethod(on_fake_arm))
    environment = {
        "EDA_LAKE_HOME": str(tmp_path),
        "EDA_LAKE_TARGET": "azure",
        "EDA_LAKE_EVENTHUB_NAMESPACE": "dv-eda-evhns-westeurope-x7k2.servicebus.windows.net",
        "EDA_LAKE_CHECKPOINT_ACCOUNT_URL": "https://dvedackptx7k2.blob.core.windows.net",
        # provisioning's own, which the resource hands to it as to the runtime its own
        "EDA_LAKE_AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        "EDA_LAKE_AZURE_LOCATION": "westeurope",
        "EDA_LAKE_ENVIRONMENT": "dv",
        "EDA_LAKE_NAME_SUFFIX": "x7k2",
        # the lake's identity: its roles, and shared keys off, so Capture's and Event Grid's
        # managed identities get theirs
        "EDA_LAKE_PRINCIPAL__LAKE": LAKE,
    }
    result = dg.materialize(
        PLATFORM_ASSETS, resources={"eda_lake": EdaLakeResource.of(environment)}
    )
    assert result.success
    for part in runtime.PARTS:
        [materialization] = result.asset_materializations_for_node(part)
        assert materialization.metadata["changed"].value  # every part had something to create
    assert (
        runtime.provision(Settings.from_env(environment), plan_only=True, environ=environment) == []
    )


def test_the_fake_arm_refuses_a_child_before_its_parent(catalogue: Catalogue) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    arm = FakeArm()
    steps = {f"{step.kind}:{step.name}": step for step in provisioner(catalogue, arm).steps()}

    def write(step: str) -> None:
        steps[step].write(steps[step].desired)

    with pytest.raises(ResourceNotFoundError, match="ParentResourceNotFound"):
        write("namespace:dv-eda-evhns-westeurope-x7k2")  # no resource group yet
    write("resource group:dv-eda-rg-westeurope-x7k2")
    with pytest.raises(ResourceNotFoundError, match="namespaces/dv-eda-evhns-westeurope-x7k2 does"):
        write("schema group:dv-eda-evhns-westeurope-x7k2/eda-lake")  # no namespace yet
    with pytest.raises(ResourceNotFoundError, match="ParentResourceNotFound"):
        write("event grid topic:dv-eda-evgt-westeurope-x7k2")  # no source yet
    with pytest.raises(ResourceNotFoundError, match="storageaccounts/dvedalakex7k2 does"):
        write("lock:do-not-delete on storage account dvedalakex7k2")  # nothing to lock yet
    write("namespace:dv-eda-evhns-westeurope-x7k2")
    write("schema group:dv-eda-evhns-westeurope-x7k2/eda-lake")
    assert any(path.endswith("/schemagroups/eda-lake") for path in arm.writes())
    # ids in bodies: a diagnostic setting's workspace, an alert's action group
    with pytest.raises(ResourceNotFoundError, match="workspaces/dv-eda-log-westeurope-x7k2 does"):
        write("diagnostic setting:to-log-analytics on namespace dv-eda-evhns-westeurope-x7k2")
    with pytest.raises(ResourceNotFoundError, match="actiongroups/dv-eda-ag-westeurope-x7k2 does"):
        write("metric alert:server-errors")
    write("action group:dv-eda-ag-westeurope-x7k2 (no receivers: alerts reach nobody)")
    write("metric alert:server-errors")


def test_a_hub_per_aggregate_is_provisioned_once_with_a_group_per_reading_team() -> None:
    aggregates = load_catalogue(REPO_ROOT / "schemas", "catalogue-per-aggregate.toml")
    arm = FakeArm()
    actions = provisioner(aggregates, arm).plan()
    hubs = [a.name for a in actions if a.kind == "event hub"]
    assert hubs == ["product", "customer", "lead", "sale"]
    groups = sorted(a.name for a in actions if a.kind == "consumer group")
    assert groups == [
        "customer/conversions", "customer/datalake", "lead/customer", "lead/datalake",
        "product/conversions", "product/datalake", "sale/conversions", "sale/datalake",
    ]  # fmt: skip
    rules = {a.name for a in actions if a.kind == "hub access rule"}
    assert {"lead/conversions-send", "lead/customer-listen"} <= rules
    assert not any(r.startswith("lead/customer-send") for r in rules)  # one owner sends
    provisioner(aggregates, arm).apply()
    assert provisioner(aggregates, arm).plan() == []
