"""The operations baseline of Azure provisioning, through the real management clients against
the in-memory ARM: locks that refuse a delete, the Key Vault, the workspace, diagnostic
settings and alerts, storage redundancy, and shared keys off with managed identities."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.fs as pafs
import pytest
from azure.core.exceptions import HttpResponseError

from eda_lake.catalogue import Catalogue
from eda_lake.lake.layout import LakeLayout
from eda_lake.provisioning import operations
from eda_lake.provisioning.azure import AzureDeployment, AzureProvisioner
from eda_lake.provisioning.azure_names import azure_names, check
from eda_lake.provisioning.desired import desired_state
from eda_lake.shared.names import InvalidNameError
from eda_lake_tests.provisioning.arm_setup import (
    LAKE,
    LAKE_ACCOUNT,
    NAMESPACE,
    PROVIDERS,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    SYSTEM_TOPIC,
    VAULT,
    assignments,
    provisioner,
    role_id,
)
from eda_lake_tests.provisioning.fake_arm import TENANT, FakeArm

INSIGHTS = f"{PROVIDERS}/microsoft.insights"
WORKSPACE = f"{PROVIDERS}/microsoft.operationalinsights/workspaces/dv-eda-log-westeurope-x7k2"
ACTION_GROUP = f"{INSIGHTS}/actiongroups/dv-eda-ag-westeurope-x7k2"


def test_apply_creates_the_baseline_after_what_it_depends_on(catalogue: Catalogue) -> None:
    """On an ARM that refuses anything before its parent, its target or what its body names,
    apply creates every resource; a second apply writes nothing and plans nothing."""
    arm = FakeArm()
    deployment = provisioner(catalogue, arm, alert_emails=("ops@example.com",))
    created = Counter(a.kind for a in deployment.apply())
    assert created["lock"] == 2 and created["diagnostic setting"] == 6
    assert created["metric alert"] == created["log alert"] == 3
    lock = arm.resources[f"{RESOURCE_GROUP}/providers/microsoft.authorization/locks/do-not-delete"]
    assert lock["properties"]["level"] == "CanNotDelete"
    vault = arm.resources[VAULT]["properties"]
    assert vault["tenantId"] == TENANT  # the subscription's, configured nowhere
    assert vault["enableRbacAuthorization"] and vault["enablePurgeProtection"]
    assert vault["softDeleteRetentionInDays"] == 90 and vault["sku"]["name"] == "standard"
    workspace = arm.resources[WORKSPACE]["properties"]
    assert workspace["sku"]["name"] == "PerGB2018" and workspace["retentionInDays"] == 30
    blob_logs = arm.resources[
        f"{LAKE_ACCOUNT}/blobservices/default/providers/microsoft.insights/diagnosticsettings/"
        "to-log-analytics"
    ]["properties"]
    assert blob_logs["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert blob_logs["workspaceId"].lower() == WORKSPACE
    namespace_logs = arm.resources[
        f"{NAMESPACE}/providers/microsoft.insights/diagnosticsettings/to-log-analytics"
    ]["properties"]
    # Capture's failures in AZMSArchiveLogs, where the capture-failures alert reads them
    assert namespace_logs["logAnalyticsDestinationType"] == "Dedicated"
    [receiver] = arm.resources[ACTION_GROUP]["properties"]["emailReceivers"]
    assert receiver["emailAddress"] == "ops@example.com"
    backlog = arm.resources[f"{INSIGHTS}/metricalerts/capture-backlog"]["properties"]
    assert backlog["criteria"]["allOf"][0]["metricName"] == "CaptureBacklog"
    assert [a["actionGroupId"].lower() for a in backlog["actions"]] == [ACTION_GROUP]
    namespace = arm.resources[NAMESPACE]["properties"]
    assert namespace["isAutoInflateEnabled"] and namespace["maximumThroughputUnits"] == 10
    account = arm.resources[LAKE_ACCOUNT]
    assert account["sku"]["name"] == "Standard_ZRS"
    assert account["properties"]["allowSharedKeyAccess"]  # no Entra identity for the lake
    writes = len(arm.writes())
    assert provisioner(catalogue, arm, alert_emails=("ops@example.com",)).apply() == []
    assert len(arm.writes()) == writes
    assert provisioner(catalogue, arm, alert_emails=("ops@example.com",)).plan() == []


def test_a_delete_under_the_lock_is_refused_until_the_locks_are_removed(
    catalogue: Catalogue,
) -> None:
    arm = FakeArm()
    deployment = provisioner(catalogue, arm)
    deployment.apply()
    storage = deployment.clients.storage.storage_accounts
    rg = "dv-eda-rg-westeurope-x7k2"
    with pytest.raises(HttpResponseError, match="ScopeLocked"):
        storage.delete(rg, "dvedalakex7k2")
    with pytest.raises(HttpResponseError, match="ScopeLocked"):  # the group's lock covers it
        storage.delete(rg, "dvedackptx7k2")
    locks = "/providers/Microsoft.Authorization/locks/do-not-delete"
    generic = deployment.clients.resources.resources
    for scope in (LAKE_ACCOUNT, RESOURCE_GROUP):
        generic.begin_delete_by_id(
            scope + locks, api_version=operations.API_VERSIONS["microsoft.authorization/locks"]
        ).result()
    storage.delete(rg, "dvedalakex7k2")
    assert LAKE_ACCOUNT not in arm.resources
    assert not any(key.startswith(LAKE_ACCOUNT + "/") for key in arm.resources)  # nor its parts


def test_an_alert_changed_behind_provisionings_back_is_updated(catalogue: Catalogue) -> None:
    arm = FakeArm()
    provisioner(catalogue, arm).apply()
    alert = arm.resources[f"{INSIGHTS}/metricalerts/throttled-requests"]
    alert["properties"]["criteria"]["allOf"][0]["threshold"] = 500
    arm.resources[f"{INSIGHTS}/scheduledqueryrules/bronze-freshness"]["properties"]["enabled"] = (
        False
    )
    changes = [(a.kind, a.name, a.change) for a in provisioner(catalogue, arm).plan()]
    assert changes == [
        ("metric alert", "throttled-requests", "update"),
        ("log alert", "bronze-freshness", "update"),
    ]
    provisioner(catalogue, arm).apply()
    written = arm.resources[f"{INSIGHTS}/metricalerts/throttled-requests"]
    assert written["properties"]["criteria"]["allOf"][0]["threshold"] == 0


def test_without_shared_keys_capture_and_event_grid_use_managed_identities(
    catalogue: Catalogue,
) -> None:
    arm = FakeArm()
    deployment = provisioner(catalogue, arm, lake_principal=LAKE)  # Entra ID: keys off
    planned = [a.name for a in deployment.plan() if a.kind == "managed identity role"]
    assert planned == [
        "Storage Blob Data Contributor for the namespace's managed identity on capture",
        "Storage Queue Data Message Sender for the system topic's managed identity on "
        "capture-events",
    ]
    deployment.apply()
    namespace = arm.resources[NAMESPACE]["identity"]["principalId"]
    topic = arm.resources[SYSTEM_TOPIC]["identity"]["principalId"]
    containers = f"{LAKE_ACCOUNT}/blobservices/default/containers"
    assert assignments(arm, namespace) == {
        f"{containers}/capture": role_id("Storage Blob Data Contributor")
    }
    assert assignments(arm, topic) == {
        f"{LAKE_ACCOUNT}/queueservices/default/queues/capture-events": role_id(
            "Storage Queue Data Message Sender"
        )
    }
    hub = arm.resources[f"{NAMESPACE}/eventhubs/customer-created"]["properties"]
    assert hub["captureDescription"]["destination"]["identity"] == {"type": "SystemAssigned"}
    subscription = arm.resources[f"{SYSTEM_TOPIC}/eventsubscriptions/capture-file-created"]
    delivery = subscription["properties"]["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "SystemAssigned"}
    assert delivery["destination"]["properties"]["queueName"] == "capture-events"
    assert not arm.resources[LAKE_ACCOUNT]["properties"]["allowSharedKeyAccess"]
    assert provisioner(catalogue, arm, lake_principal=LAKE).plan() == []


def test_with_shared_keys_no_managed_identity_is_made(catalogue: Catalogue) -> None:
    arm = FakeArm()
    deployment = provisioner(catalogue, arm, lake_principal=LAKE, shared_key_access=True)
    assert not any(a.kind == "managed identity role" for a in deployment.apply())
    assert "identity" not in arm.resources[NAMESPACE]
    assert "identity" not in arm.resources[SYSTEM_TOPIC]
    subscription = arm.resources[f"{SYSTEM_TOPIC}/eventsubscriptions/capture-file-created"]
    assert "deliveryWithResourceIdentity" not in subscription["properties"]
    assert arm.resources[LAKE_ACCOUNT]["properties"]["allowSharedKeyAccess"]


def test_an_account_of_another_redundancy_is_refused_not_converted(catalogue: Catalogue) -> None:
    arm = FakeArm()
    provisioner(catalogue, arm, storage_sku="Standard_LRS").apply()
    writes = len(arm.writes())
    with pytest.raises(
        ValueError,
        match="storage account dvedalakex7k2 is Standard_LRS, not Standard_ZRS: set "
        "EDA_LAKE_STORAGE_SKU=Standard_LRS to keep it, or convert the account to Standard_ZRS",
    ):
        provisioner(catalogue, arm).apply()
    assert len(arm.writes()) == writes
    assert provisioner(catalogue, arm, storage_sku="Standard_LRS").plan() == []


def test_no_alert_email_the_plan_says_the_alerts_reach_nobody(catalogue: Catalogue) -> None:
    [group] = [a for a in provisioner(catalogue, FakeArm()).plan() if a.kind == "action group"]
    assert group.name == "dv-eda-ag-westeurope-x7k2 (no receivers: alerts reach nobody)"
    arm = FakeArm()
    provisioner(catalogue, arm).apply()
    assert arm.resources[ACTION_GROUP]["properties"]["emailReceivers"] == []


def test_the_steps_build_without_clients_and_read_nothing(catalogue: Catalogue) -> None:
    """An offline plan lists every step, with its body, from no clients at all."""
    deployment = AzureDeployment(SUBSCRIPTION, "westeurope", "dv", "x7k2", lake_principal=LAKE)
    offline = AzureProvisioner(deployment, desired_state(catalogue), None)
    steps = offline.steps()
    online = provisioner(catalogue, FakeArm(), lake_principal=LAKE).steps()
    assert [(s.kind, s.name, s.desired) for s in steps] == [
        (s.kind, s.name, s.desired) for s in online
    ]
    assert {"lock", "key vault", "managed identity role", "log alert"} <= {s.kind for s in steps}
    assert json.loads(json.dumps([s.desired for s in steps])) == [s.desired for s in steps]
    with pytest.raises(ValueError, match="no Azure clients: an offline plan"):
        steps[0].read()


def test_the_log_alerts_watch_the_lakes_own_paths() -> None:
    """The prefixes the alerts' queries match are where the lake's layout writes."""
    paths = operations.LakePaths("dvedalakex7k2", "capture", "lake")
    layout = LakeLayout("lake", fs=pafs.LocalFileSystem())  # a container: nothing is created
    assert paths.bronze_commits == f"/dvedalakex7k2/{layout.fs_path('bronze', '_delta_log')}/"
    for table in ("files", "events"):
        uri = layout.table_uri("quarantine", table).removeprefix("az://")
        assert f"/dvedalakex7k2/{uri}/".startswith(paths.quarantine)
    queries = {alert.name: alert.query for alert in operations.log_alerts(paths)}
    assert paths.captured in queries["bronze-freshness"]
    assert paths.bronze_commits in queries["bronze-freshness"]


def test_key_vault_and_workspace_names_follow_azures_rules() -> None:
    names = azure_names("dv", "westeurope", "x7k2")
    assert (names.key_vault, names.log_workspace) == (
        "dv-eda-kv-x7k2",
        "dv-eda-log-westeurope-x7k2",
    )
    with pytest.raises(InvalidNameError, match="invalid Key Vault name '1-eda-kv'"):
        check("Key Vault", "1-eda-kv")  # starts with a digit
    with pytest.raises(InvalidNameError, match="invalid Key Vault name"):
        check("Key Vault", "dv-eda-kv-westeurope-x7k2")  # 25 characters
    with pytest.raises(InvalidNameError, match="invalid Log Analytics workspace name"):
        check("Log Analytics workspace", "dv-")


def test_storage_is_sent_the_metric_category_it_accepts(catalogue: Catalogue) -> None:
    """Azure refuses a diagnostic setting naming AllMetrics on Storage, as fake_arm does:
    the storage targets are sent their transactions, the namespace every metric."""
    arm = FakeArm()
    deployment = provisioner(catalogue, arm)
    deployment.apply()
    settings = {
        key: body["properties"]["metrics"]
        for key, body in arm.resources.items()
        if "/diagnosticsettings/" in key
    }
    assert {"microsoft.storage" in key for key in settings} == {True, False}
    for key, metrics in settings.items():
        category = "Transaction" if "/microsoft.storage/" in key else "AllMetrics"
        assert metrics == [{"category": category, "enabled": True}], key
    step = next(s for s in deployment.steps() if s.name.endswith(" blobs"))
    all_metrics = json.loads(json.dumps(step.desired))
    all_metrics["properties"]["metrics"] = [{"category": "AllMetrics", "enabled": True}]
    with pytest.raises(HttpResponseError, match="AllMetrics' is not supported"):
        step.write(all_metrics)


def test_auto_inflated_capacity_is_neither_drift_nor_scaled_back(catalogue: Catalogue) -> None:
    """Azure raises the namespace's throughput units under load: a plan sees no drift in
    that, and an update for another reason writes back what Azure holds, not 1."""
    arm = FakeArm()
    provisioner(catalogue, arm).apply()
    key = next(k for k in arm.resources if k.endswith("/namespaces/dv-eda-evhns-westeurope-x7k2"))
    namespace = arm.resources[key]
    assert namespace["sku"]["capacity"] == 1
    namespace["sku"]["capacity"] = 6
    assert provisioner(catalogue, arm).plan() == []
    namespace["tags"]["team"] = "someone else"
    [update] = provisioner(catalogue, arm).apply()
    assert update.differences == ('tags.team is "someone else", should be "platform"',)
    assert arm.resources[key]["sku"]["capacity"] == 6
    assert arm.resources[key]["tags"]["team"] == "platform"


def test_a_query_changed_in_case_alone_is_drift_where_an_id_is_not(catalogue: Catalogue) -> None:
    """KQL is case-sensitive: a log alert's query edited to other case matches other rows.
    ARM returns ids in its own case: that is no difference."""
    arm = FakeArm()
    provisioner(catalogue, arm).apply()
    key = next(k for k in arm.resources if k.endswith("/scheduledqueryrules/bronze-freshness"))
    criterion = arm.resources[key]["properties"]["criteria"]["allOf"][0]
    criterion["query"] = criterion["query"].lower()
    workspace = arm.resources[key]["properties"]["scopes"]
    arm.resources[key]["properties"]["scopes"] = [scope.upper() for scope in workspace]
    [update] = provisioner(catalogue, arm).plan()
    assert (update.kind, update.name) == ("log alert", "bronze-freshness")
    assert [d.split(" is ")[0] for d in update.differences] == [
        "properties.criteria.allOf[0].query"
    ]
