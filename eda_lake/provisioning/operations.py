"""The operations baseline on Azure, as ARM's JSON bodies: resource locks, the Key Vault, the
Log Analytics workspace and the diagnostic settings that fill it, the action group, and the
alerts that reach it.

Each alert's `description` is what an operator reads in the alert's e-mail and in the portal:
what the alert means and what to do. The resources are written through the resource client's
generic by-id operations, at the api-version of `API_VERSIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Resource type (lower case) -> the api-version provisioning reads and writes it at.
API_VERSIONS = {
    "microsoft.authorization/locks": "2020-05-01",
    "microsoft.keyvault/vaults": "2023-07-01",
    "microsoft.operationalinsights/workspaces": "2022-10-01",
    "microsoft.insights/diagnosticsettings": "2021-05-01-preview",  # category groups
    "microsoft.insights/actiongroups": "2023-01-01",
    "microsoft.insights/metricalerts": "2018-03-01",
    "microsoft.insights/scheduledqueryrules": "2021-08-01",
    "subscriptions": "2022-12-01",  # the subscription itself, for its tenant
}

LOCK_NAME = "do-not-delete"
DIAGNOSTIC_SETTING_NAME = "to-log-analytics"
SOFT_DELETE_DAYS = 90


def api_version(resource_id: str) -> str:
    """The api-version of the resource (or extension resource) `resource_id` names."""
    parts = resource_id.strip("/").split("/")
    if "providers" not in parts:
        return API_VERSIONS["subscriptions"]
    at = len(parts) - 1 - parts[::-1].index("providers")
    resource_type = f"{parts[at + 1]}/{parts[at + 2]}".lower()
    if resource_type not in API_VERSIONS:
        raise ValueError(f"no api-version for {resource_type} in operations.API_VERSIONS")
    return API_VERSIONS[resource_type]


def lock(protects: str) -> dict[str, Any]:
    """A CanNotDelete lock: the resource and everything in it can change but not be deleted
    (deleting it first needs the lock removed, by someone allowed to)."""
    return {"properties": {"level": "CanNotDelete",
                           "notes": f"eda-lake: {protects} holds the lake's data"}}  # fmt: skip


def key_vault(location: str, tags: dict[str, str]) -> dict[str, Any]:
    """Access by Azure roles only (no access policies); deleted secrets recoverable for 90
    days, and purge protection so that nobody can shorten that. The tenant is added at
    write time, from the subscription (`with_tenant`)."""
    return {"location": location, "tags": tags, "properties": {
        "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": True,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": SOFT_DELETE_DAYS,
        "enablePurgeProtection": True,
    }}  # fmt: skip


def with_tenant(vault: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    return {**vault, "properties": {**vault["properties"], "tenantId": tenant_id}}


def workspace(location: str, tags: dict[str, str], retention_days: int) -> dict[str, Any]:
    return {"location": location, "tags": tags, "properties": {
        "sku": {"name": "PerGB2018"}, "retentionInDays": retention_days,
    }}  # fmt: skip


# The metric category that holds every metric of a resource; Storage refuses it (its
# categories are Capacity and Transaction) and is sent its transactions, which its
# availability, latency and error figures are.
ALL_METRICS, STORAGE_TRANSACTIONS = "AllMetrics", "Transaction"


def diagnostic_setting(
    workspace_id: str, *, logs: bool, dedicated: bool, metrics: str
) -> dict[str, Any]:
    """Every log (category group allLogs, where the resource has logs) and the `metrics`
    category to the workspace. `dedicated`: into the resource's own tables (Event Hubs'
    `AZMSArchiveLogs`) rather than `AzureDiagnostics`; Storage has its own tables only
    (`StorageBlobLogs`)."""
    body: dict[str, Any] = {"properties": {
        "workspaceId": workspace_id,
        "logs": [{"categoryGroup": "allLogs", "enabled": True}] if logs else [],
        "metrics": [{"category": metrics, "enabled": True}],
    }}  # fmt: skip
    if dedicated:
        body["properties"]["logAnalyticsDestinationType"] = "Dedicated"
    return body


def action_group(tags: dict[str, str], emails: tuple[str, ...]) -> dict[str, Any]:
    return {"location": "Global", "tags": tags, "properties": {
        "groupShortName": "eda-lake",  # 12 characters at most: the sender of SMS and e-mail
        "enabled": True,
        "emailReceivers": [
            {"name": f"email-{i}", "emailAddress": email, "useCommonAlertSchema": True}
            for i, email in enumerate(emails, start=1)
        ],
    }}  # fmt: skip


@dataclass(frozen=True)
class MetricAlert:
    """An alert on one metric of the Event Hubs namespace."""

    name: str
    description: str
    metric: str
    aggregation: str
    threshold: float
    severity: int  # 0 critical ... 4 verbose
    window: str = "PT15M"


METRIC_ALERTS = (
    MetricAlert(
        "capture-backlog",
        "Event Hubs Capture has fallen behind: events wait to be written to the capture "
        "container. Check the capture-failures alert and the namespace's AZMSArchiveLogs "
        "(the storage account reachable, the namespace's identity or keys allowed to write); "
        "if Capture keeps up but the backlog grows, raise the throughput units.",
        "CaptureBacklog", "Total", 100_000, severity=2, window="PT30M",
    ),
    MetricAlert(
        "throttled-requests",
        "Event Hubs throttles producers or consumers: the namespace is at its throughput "
        "units (auto-inflate at its maximum). Raise the maximum throughput units, or spread "
        "the load across partitions.",
        "ThrottledRequests", "Total", 0, severity=2,
    ),
    MetricAlert(
        "server-errors",
        "Event Hubs answers requests with server errors. Check Azure Service Health for the "
        "region; clients retry, so only lasting errors lose throughput.",
        "ServerErrors", "Total", 0, severity=1,
    ),
)  # fmt: skip


def metric_alert(
    alert: MetricAlert, namespace_id: str, action_group_id: str, tags: dict[str, str]
) -> dict[str, Any]:
    return {"location": "global", "tags": tags, "properties": {
        "description": alert.description,
        "severity": alert.severity,
        "enabled": True,
        "scopes": [namespace_id],
        "evaluationFrequency": "PT5M",
        "windowSize": alert.window,
        "criteria": {
            "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            "allOf": [{
                "criterionType": "StaticThresholdCriterion", "name": alert.metric,
                "metricName": alert.metric, "metricNamespace": "Microsoft.EventHub/namespaces",
                "operator": "GreaterThan", "threshold": alert.threshold,
                "timeAggregation": alert.aggregation,
            }],
        },
        "autoMitigate": True,
        "actions": [{"actionGroupId": action_group_id}],
    }}  # fmt: skip


@dataclass(frozen=True)
class LakePaths:
    """Where the alerts look in `StorageBlobLogs`, whose `ObjectKey` holds
    `/<account>/<container>/<blob>` (matched with `contains`: Azure documents it as quoted):
    as `LakeLayout` lays out the lake container, bronze's one table is its area, and the
    quarantine's tables are `quarantine/files` and `quarantine/events`."""

    account: str
    capture_container: str
    lake_container: str

    @property
    def captured(self) -> str:
        return f"/{self.account}/{self.capture_container}/"

    @property
    def bronze_commits(self) -> str:
        return f"/{self.account}/{self.lake_container}/bronze/_delta_log/"

    @property
    def quarantine(self) -> str:
        return f"/{self.account}/{self.lake_container}/quarantine/"


@dataclass(frozen=True)
class LogAlert:
    """An alert on a log query over the workspace: it fires when the query returns more
    than `threshold` rows in the window."""

    name: str
    description: str
    query: str
    severity: int
    threshold: int = 0
    window: str = "PT1H"


# Blob writes as StorageBlobLogs names them, over the Blob and the Data Lake endpoints.
_WRITES = '"PutBlob", "PutBlockList", "CopyBlob", "FlushFile", "RenameFile"'


def log_alerts(paths: LakePaths) -> tuple[LogAlert, ...]:
    writes = f'StorageBlobLogs | where StatusText == "Success" and OperationName in ({_WRITES})'
    return (
        LogAlert(
            "capture-failures",
            "Event Hubs Capture failed to write files to the capture container (the error is "
            "in AZMSArchiveLogs' Message). Usually the destination refuses the namespace: "
            "check the capture container exists and that the namespace's managed identity "
            "holds its role there (or shared keys are allowed); then watch capture-backlog "
            "drain.",
            "AZMSArchiveLogs | where Failures > 0",
            severity=1,
        ),
        LogAlert(
            "bronze-freshness",
            "Capture wrote files in the last hour but bronze committed nothing: ingestion "
            "has stopped. Check the Dagster daemon and the ingest runs "
            "(capture_notifications_sensor, capture_files_sensor), the discovery and poison "
            "queues, and the lake identity's roles; `eda-lake ingest` lands what is waiting.",
            f"let captured = toscalar({writes} "
            f'| where ObjectKey contains "{paths.captured}" | count);\n'
            f"let committed = toscalar({writes} "
            f'| where ObjectKey contains "{paths.bronze_commits}" | count);\n'
            "print files = captured, commits = committed | where files > 0 and commits == 0",
            severity=2,
        ),
        LogAlert(
            "quarantine-rate",
            "The quarantine tables took more than 10 commits in the last hour (each batch "
            "that quarantines files or events commits once, as does each retry): a producer "
            "sends what its schema does not describe, or capture files cannot be read. "
            "`eda-lake quarantine list` shows each reason; after the fix, `eda-lake "
            "quarantine retry` lands them.",
            f"{writes} "
            f'| where ObjectKey contains "{paths.quarantine}" and ObjectKey has "_delta_log"',
            severity=3,
            threshold=10,
        ),
    )


def log_alert(
    alert: LogAlert, workspace_id: str, action_group_id: str, location: str,
    tags: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    return {"location": location, "tags": tags, "kind": "LogAlert", "properties": {
        "description": alert.description,
        "severity": alert.severity,
        "enabled": True,
        "scopes": [workspace_id],
        "evaluationFrequency": "PT15M",
        "windowSize": alert.window,
        "criteria": {"allOf": [{
            "query": alert.query, "timeAggregation": "Count",
            "operator": "GreaterThan", "threshold": alert.threshold,
            "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
        }]},
        "autoMitigate": True,
        "actions": {"actionGroups": [action_group_id]},
    }}  # fmt: skip
