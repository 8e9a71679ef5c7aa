"""Plan and apply the desired state on Azure, over the `azure-mgmt-*` clients.

Every resource is a step: read it (absent: create; different: update; equal: nothing), then
write it, in an order where each resource's dependencies exist first (the capture container
before the hubs that capture into it). Bodies are ARM's JSON shapes, so what is compared is
what Azure returns. A partial failure leaves a prefix of the steps done; the next apply
resumes, and an apply with nothing left to do writes nothing.

Security: readers get hub-scoped Listen rules and producers hub-scoped Send rules, one per
team and hub; no namespace-level Listen rule exists, since one would let any reader listen
to every team's hubs. The resource group and the lake's account carry CanNotDelete locks;
`apply` never deletes, so it proceeds under them. With Entra ID, the storage accounts refuse
shared keys, and Capture and Event Grid reach the lake's account as their resources' managed
identities. The operations baseline (`operations`): a Key Vault, logs and metrics in a Log
Analytics workspace, alerts to an action group.

Steps only describe: building them touches no client (an offline plan lists them with none),
and only their `read` and `write` call Azure.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eda_lake.lake.maintenance import lifecycle
from eda_lake.provisioning import operations
from eda_lake.provisioning.azure_names import AzureNames, azure_names
from eda_lake.provisioning.desired import DesiredState
from eda_lake.provisioning.embedded import Action
from eda_lake.registry.compatibility import Compatibility
from eda_lake.settings import STORAGE_SKU_VAR, AzureDeploymentSettings
from eda_lake.shared import key_vault
from eda_lake.shared.names import consumer_group_name

CAPTURE_FILE_CREATED = "Microsoft.EventHub.CaptureFileCreated"


# Built-in roles, found by name at run time (their ids are the same in every tenant, but a
# name is what a reader can check in the portal).
SENDER, RECEIVER = "Azure Event Hubs Data Sender", "Azure Event Hubs Data Receiver"
REGISTRY_CONTRIBUTOR = "Schema Registry Contributor (Preview)"
REGISTRY_READER = "Schema Registry Reader (Preview)"
BLOB_READER, BLOB_CONTRIBUTOR = "Storage Blob Data Reader", "Storage Blob Data Contributor"
QUEUE_PROCESSOR = "Storage Queue Data Message Processor"
QUEUE_SENDER = "Storage Queue Data Message Sender"
# Only the right to ask for a user delegation key, which Azure grants at the account alone: the
# UI's link to a step's log is signed with one, and reaches no more than the data roles do.
BLOB_DELEGATOR = "Storage Blob Delegator"
# What Azure documents for Capture's managed identity on its destination.
CAPTURE_WRITER = BLOB_CONTRIBUTOR
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("0b6f7d2a-6a55-4f71-9e26-1a3c6b9c8d41")


@dataclass(frozen=True)
class AzureDeployment(AzureDeploymentSettings):
    """Provisioning's settings and what follows from them: every resource's name."""

    throughput_units: int = 1

    @cached_property
    def names(self) -> AzureNames:
        return azure_names(self.environment, self.location, self.suffix)


@dataclass(frozen=True)
class AzureClients:
    resources: Any  # azure.mgmt.resource.resources.ResourceManagementClient
    eventhub: Any  # azure.mgmt.eventhub.EventHubManagementClient
    storage: Any  # azure.mgmt.storage.StorageManagementClient
    eventgrid: Any  # azure.mgmt.eventgrid.EventGridManagementClient
    authorization: Any  # azure.mgmt.authorization.AuthorizationManagementClient

    @classmethod
    def create(cls, credential: Any, subscription_id: str, **client_options: Any) -> AzureClients:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.eventgrid import EventGridManagementClient
        from azure.mgmt.eventhub import EventHubManagementClient
        from azure.mgmt.resource.resources import ResourceManagementClient
        from azure.mgmt.storage import StorageManagementClient

        return cls(
            ResourceManagementClient(credential, subscription_id, **client_options),
            EventHubManagementClient(credential, subscription_id, **client_options),
            StorageManagementClient(credential, subscription_id, **client_options),
            EventGridManagementClient(credential, subscription_id, **client_options),
            AuthorizationManagementClient(credential, subscription_id, **client_options),
        )


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    desired: dict[str, Any]
    read: Callable[[], Any]  # raises ResourceNotFoundError when absent
    write: Callable[[dict[str, Any]], Any]
    immutable: tuple[str, ...] = ()  # property paths that cannot change once created
    # Property paths Azure changes on its own (auto-inflate's capacity): written on create,
    # then neither compared nor overwritten (an update writes back what Azure holds).
    kept: tuple[str, ...] = ()
    # The body as an offline plan shows it, where what is written holds more than `desired`
    # (what only Azure can tell, as placeholders); None: `desired`.
    shown: dict[str, Any] | None = None


def _as_dict(resource: Any) -> dict[str, Any]:
    """A resource in ARM's JSON shape (camelCase), whichever model generation returned it."""
    if isinstance(resource, dict):
        return resource
    serialize = getattr(resource, "serialize", None)  # msrest models
    if serialize is not None:
        return dict(serialize(keep_readonly=True))
    return dict(resource.as_dict())  # typespec models


# Properties whose case is meaning, compared exactly: an alert's query (KQL is case-sensitive),
# its description, an e-mail address. Everything else ARM may return in another case (ids,
# locations, enum values), so it is compared without case.
_CASE_KEPT = frozenset({"query", "description", "emailAddress"})


def _same(existing: Any, desired: Any, key: str = "") -> bool:
    """Does the existing resource hold every desired value (ARM adds read-only fields)?"""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            _same(existing.get(k), value, k) for k, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(desired)
            and all(_same(e, d, key) for e, d in zip(existing, desired, strict=True))
        )
    if isinstance(desired, str) and isinstance(existing, str) and key not in _CASE_KEPT:
        return desired.lower() == existing.lower()
    return bool(existing == desired)


def _system_identity(found: Any, resource: str) -> str:
    """The principal id of a resource's system-assigned identity, which Azure gives it when
    the resource is written with one: absent before, as a role step on it reads."""
    from azure.core.exceptions import ResourceNotFoundError  # the SDK only when it is used

    principal = (_as_dict(found).get("identity") or {}).get("principalId")
    if not principal:
        raise ResourceNotFoundError(f"{resource} has no system-assigned identity yet")
    return str(principal)


def _get(body: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        body = body.get(key, {}) if isinstance(body, dict) else {}
    return body


class AzureProvisioner:
    def __init__(
        self, deployment: AzureDeployment, desired: DesiredState, clients: AzureClients | None
    ) -> None:
        """`clients` None: the steps can be listed, not read nor written (an offline plan)."""
        if desired.compatibility is Compatibility.FULL:
            raise ValueError(
                f"schema group {desired.schema_group!r} asks for Full compatibility, which Azure "
                "Schema Registry does not offer: use None, Backward or Forward in catalogue.toml"
            )
        for group in desired.consumer_groups:
            consumer_group_name(group.name)
        self.deployment = deployment
        self.desired = desired
        self._clients = clients

    @property
    def clients(self) -> AzureClients:
        if self._clients is None:
            raise ValueError("no Azure clients: an offline plan lists the steps, reads none")
        return self._clients

    # ids ----------------------------------------------------------------------------------

    def _rg_id(self) -> str:
        d = self.deployment
        return f"/subscriptions/{d.subscription_id}/resourceGroups/{d.names.resource_group}"

    def _account_id(self, account: str) -> str:
        return f"{self._rg_id()}/providers/Microsoft.Storage/storageAccounts/{account}"

    def _namespace_id(self) -> str:
        namespace = self.deployment.names.namespace
        return f"{self._rg_id()}/providers/Microsoft.EventHub/namespaces/{namespace}"

    def _vault_id(self) -> str:
        return (
            f"{self._rg_id()}/providers/Microsoft.KeyVault/vaults/{self.deployment.names.key_vault}"
        )

    def _workspace_id(self) -> str:
        workspace = self.deployment.names.log_workspace
        return f"{self._rg_id()}/providers/Microsoft.OperationalInsights/workspaces/{workspace}"

    def _action_group_id(self) -> str:
        group = self.deployment.names.action_group
        return f"{self._rg_id()}/providers/Microsoft.Insights/actionGroups/{group}"

    def _container_id(self, container: str) -> str:
        account = self._account_id(self.deployment.names.lake_account)
        return f"{account}/blobServices/default/containers/{container}"

    def _queue_id(self, queue: str) -> str:
        account = self._account_id(self.deployment.names.lake_account)
        return f"{account}/queueServices/default/queues/{queue}"

    def _hub_id(self, hub: str) -> str:
        return f"{self._namespace_id()}/eventhubs/{hub}"

    # steps --------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        """Every resource, each after what it depends on; building them calls no client."""
        d, n = self.deployment, self.deployment.names
        rg, ns = n.resource_group, n.namespace
        tags = {"team": "platform", "environment": d.environment}
        return [
            Step(
                "resource group", rg, {"location": d.location, "tags": tags},
                lambda: self.clients.resources.resource_groups.get(rg),
                lambda body: self.clients.resources.resource_groups.create_or_update(rg, body),
            ),
            self._lock_step(self._rg_id(), f"resource group {rg}"),
            self._account_step(n.lake_account, hns=True, tags=tags),
            self._lock_step(self._account_id(n.lake_account), f"storage account {n.lake_account}"),
            *(
                self._container_step(n.lake_account, container)
                for container in (n.capture_container, n.lake_container, n.compute_log_container)
            ),
            *(self._queue_step(n.lake_account, queue)
              for queue in (n.discovery_queue, n.poison_queue)),
            Step(
                "lifecycle policy", f"{n.lake_account}/default",
                {"properties": {"policy": self._lifecycle_policy()}},
                lambda: self.clients.storage.management_policies.get(
                    rg, n.lake_account, "default"
                ),
                lambda body: self.clients.storage.management_policies.create_or_update(
                    rg, n.lake_account, "default", body
                ),
            ),
            self._account_step(n.checkpoint_account, hns=False, tags=tags),
            Step(
                "blob service", f"{n.checkpoint_account}/default",
                # Event Hubs checkpoints need plain blobs: no soft delete, no versioning.
                {"properties": {"deleteRetentionPolicy": {"enabled": False},
                                "isVersioningEnabled": False}},
                lambda: self.clients.storage.blob_services.get_service_properties(
                    rg, n.checkpoint_account
                ),
                lambda body: self.clients.storage.blob_services.set_service_properties(
                    rg, n.checkpoint_account, body
                ),
            ),
            self._container_step(n.checkpoint_account, n.checkpoint_container),
            self._by_id_step(
                "key vault", n.key_vault, self._vault_id(),
                operations.key_vault(d.location, tags),
                complete=lambda body: operations.with_tenant(body, self._tenant()),
                shown=operations.with_tenant(
                    operations.key_vault(d.location, tags), "<the subscription's tenant>"
                ),
            ),
            self._by_id_step(
                "log analytics workspace", n.log_workspace, self._workspace_id(),
                operations.workspace(d.location, tags, d.log_retention_days),
            ),
            Step(
                "namespace", ns, self._namespace_body(tags),
                lambda: self.clients.eventhub.namespaces.get(rg, ns),
                lambda body: self.clients.eventhub.namespaces.begin_create_or_update(
                    rg, ns, body
                ).result(),
                kept=("sku.capacity",),  # auto-inflate raises it under load
            ),
            *self._capture_identity_steps(),
            Step(
                "schema group", f"{ns}/{self.desired.schema_group}",
                {"properties": {"schemaCompatibility": self.desired.compatibility.value,
                                "schemaType": "Avro", "groupProperties": {}}},
                lambda: self.clients.eventhub.schema_registry.get(
                    rg, ns, self.desired.schema_group
                ),
                lambda body: self.clients.eventhub.schema_registry.create_or_update(
                    rg, ns, self.desired.schema_group, body
                ),
            ),
            *(self._hub_step(h.name, h.partitions, h.retention_days) for h in self.desired.hubs),
            *(self._group_step(g.hub, g.name, g.user_metadata)
              for g in self.desired.consumer_groups),
            *self._rule_steps(),
            *self._role_steps(),
            *self._notification_steps(tags),
            *self._diagnostic_steps(),
            *self._alert_steps(tags),
        ]  # fmt: skip

    def _by_id_step(
        self, kind: str, name: str, resource_id: str, desired: dict[str, Any],
        complete: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        shown: dict[str, Any] | None = None,
    ) -> Step:  # fmt: skip
        """A resource read and written by id, at its api-version (`operations.API_VERSIONS`).
        `complete`: what the body needs at write time that no plan can know; `shown`: the
        body with placeholders there, for an offline plan."""
        version = operations.api_version(resource_id)

        def write(body: dict[str, Any]) -> Any:
            resources = self.clients.resources.resources
            full = complete(body) if complete else body
            return resources.begin_create_or_update_by_id(
                resource_id, full, api_version=version
            ).result()

        return Step(
            kind, name, desired,
            lambda: self.clients.resources.resources.get_by_id(resource_id, api_version=version),
            write, shown=shown,
        )  # fmt: skip

    def _tenant(self) -> str:
        """The subscription's Entra tenant, read from Azure: nothing about it is configured."""
        subscription = f"/subscriptions/{self.deployment.subscription_id}"
        found = self.clients.resources.resources.get_by_id(
            subscription, api_version=operations.api_version(subscription)
        )
        return str(_as_dict(found)["tenantId"])

    def _lock_step(self, scope: str, label: str) -> Step:
        lock_id = f"{scope}/providers/Microsoft.Authorization/locks/{operations.LOCK_NAME}"
        return self._by_id_step(
            "lock", f"{operations.LOCK_NAME} on {label}", lock_id, operations.lock(label)
        )

    def _account_step(self, account: str, *, hns: bool, tags: dict[str, str]) -> Step:
        d, rg = self.deployment, self.deployment.names.resource_group
        body = {
            "location": d.location, "kind": "StorageV2", "tags": tags,
            "sku": {"name": d.storage_sku},
            "properties": {"isHnsEnabled": hns, "minimumTlsVersion": "TLS1_2",
                           "allowBlobPublicAccess": False, "supportsHttpsTrafficOnly": True,
                           "allowSharedKeyAccess": d.shared_keys},
        }  # fmt: skip

        def read() -> Any:
            """The account, refused if its redundancy is not the one asked for: changing it
            is a conversion (a migration of the data), never a side effect of provisioning."""
            found = self.clients.storage.storage_accounts.get_properties(rg, account)
            sku = _as_dict(found).get("sku", {}).get("name")
            if sku is not None and sku.lower() != d.storage_sku.lower():
                raise ValueError(
                    f"storage account {account} is {sku}, not {d.storage_sku}: set "
                    f"{STORAGE_SKU_VAR}={sku} to keep it, or convert the account to "
                    f"{d.storage_sku} (Azure portal, the account's Redundancy) first"
                )
            return found

        return Step(
            "storage account", account, body, read,
            lambda b: self.clients.storage.storage_accounts.begin_create(rg, account, b).result(),
            immutable=("properties.isHnsEnabled",),
        )  # fmt: skip

    def _container_step(self, account: str, container: str) -> Step:
        rg = self.deployment.names.resource_group
        return Step(
            "blob container", f"{account}/{container}", {"properties": {"publicAccess": "None"}},
            lambda: self.clients.storage.blob_containers.get(rg, account, container),
            lambda body: self.clients.storage.blob_containers.create(
                rg, account, container, body
            ),
        )  # fmt: skip

    def _queue_step(self, account: str, queue: str) -> Step:
        rg = self.deployment.names.resource_group
        return Step(
            "storage queue", f"{account}/{queue}", {},
            lambda: self.clients.storage.queue.get(rg, account, queue),
            lambda body: self.clients.storage.queue.create(rg, account, queue, body),
        )  # fmt: skip

    def _namespace_body(self, tags: dict[str, str]) -> dict[str, Any]:
        """Standard, inflating from the throughput units to the maximum under load; with no
        shared keys on storage, a system-assigned identity for Capture to write with."""
        d = self.deployment
        body: dict[str, Any] = {
            "location": d.location, "tags": tags,
            "sku": {"name": "Standard", "tier": "Standard", "capacity": d.throughput_units},
            "properties": {"isAutoInflateEnabled": True,
                           "maximumThroughputUnits": d.max_throughput_units},
        }  # fmt: skip
        if not d.shared_keys:
            body["identity"] = {"type": "SystemAssigned"}
        return body

    def _capture_identity_steps(self) -> list[Step]:
        """Without shared keys: the namespace's identity may write the capture container."""
        if self.deployment.shared_keys:
            return []
        n = self.deployment.names

        def namespace_identity() -> str:
            found = self.clients.eventhub.namespaces.get(n.resource_group, n.namespace)
            return _system_identity(found, f"namespace {n.namespace}")

        return [
            self._role_step(
                self._container_id(n.capture_container), CAPTURE_WRITER, namespace_identity,
                "the namespace's managed identity", kind="managed identity role",
            )
        ]  # fmt: skip

    def _hub_step(self, hub: str, partitions: int, retention_days: int) -> Step:
        n, capture = self.deployment.names, self.desired.capture
        destination: dict[str, Any] = {
            "name": "EventHubArchive.AzureBlockBlob", "properties": {
                "storageAccountResourceId": self._account_id(n.lake_account),
                "blobContainer": n.capture_container,
                "archiveNameFormat": capture.archive_name_format},
        }  # fmt: skip
        if not self.deployment.shared_keys:
            destination["identity"] = {"type": "SystemAssigned"}
        body = {"properties": {
            "partitionCount": partitions,
            "messageRetentionInDays": retention_days,
            "captureDescription": {
                "enabled": True, "encoding": capture.encoding,
                "intervalInSeconds": capture.window_seconds,
                "sizeLimitInBytes": capture.window_bytes,
                "skipEmptyArchives": capture.skip_empty_archives,
                "destination": destination,
            },
        }}  # fmt: skip
        return Step(
            "event hub", hub, body,
            lambda: self.clients.eventhub.event_hubs.get(n.resource_group, n.namespace, hub),
            lambda b: self.clients.eventhub.event_hubs.create_or_update(
                n.resource_group, n.namespace, hub, b
            ),
            immutable=("properties.partitionCount",),
        )  # fmt: skip

    def _group_step(self, hub: str, group: str, metadata: str) -> Step:
        n = self.deployment.names
        return Step(
            "consumer group", f"{hub}/{group}", {"properties": {"userMetadata": metadata}},
            lambda: self.clients.eventhub.consumer_groups.get(
                n.resource_group, n.namespace, hub, group
            ),
            lambda body: self.clients.eventhub.consumer_groups.create_or_update(
                n.resource_group, n.namespace, hub, group, body
            ),
        )  # fmt: skip

    def _rule_steps(self) -> list[Step]:
        """A Send rule for the owning team and a Listen rule per subscribing team, per hub."""
        rules = [self._rule_step(h.name, f"{self.desired.owners[h.name]}-send", "Send")
                 for h in self.desired.hubs]  # fmt: skip
        rules += [
            self._rule_step(g.hub, f"{g.name}-listen", "Listen")
            for g in self.desired.consumer_groups
            if g.name != "datalake"  # the lake reads Capture's files, not the hub
        ]
        return rules

    def _rule_step(self, hub: str, rule: str, right: str) -> Step:
        n = self.deployment.names
        return Step(
            "hub access rule", f"{hub}/{rule}", {"properties": {"rights": [right]}},
            lambda: self.clients.eventhub.event_hubs.get_authorization_rule(
                n.resource_group, n.namespace, hub, rule
            ),
            lambda body: self.clients.eventhub.event_hubs.create_or_update_authorization_rule(
                n.resource_group, n.namespace, hub, rule, body
            ),
        )  # fmt: skip

    def _role_steps(self) -> list[Step]:
        """With Entra ID: each team's identity gets the data roles its hubs need, and the
        Schema Registry role its side needs (it accepts Entra ID only); the lake's identity
        the roles of `_lake_roles`."""
        principals = self.deployment.principals
        wanted: list[tuple[str, str, str]] = []  # scope, principal, role name
        for hub in self.desired.hubs:
            owner = self.desired.owners[hub.name]
            if owner in principals:
                wanted.append((self._hub_id(hub.name), principals[owner], SENDER))
        for group in self.desired.consumer_groups:
            if group.name in principals:
                wanted.append((self._hub_id(group.hub), principals[group.name], RECEIVER))
        producers = set(self.desired.owners.values())
        for team, principal in sorted(principals.items()):
            role = REGISTRY_CONTRIBUTOR if team in producers else REGISTRY_READER
            wanted.append((self._namespace_id(), principal, role))
        lake = self.deployment.lake_principal
        if lake:
            wanted += [(scope, lake, role) for scope, role in self._lake_roles()]
        return [
            self._role_step(scope, role, principal, principal) for scope, principal, role in wanted
        ]

    def _lake_roles(self) -> list[tuple[str, str]]:
        """What the Dagster pods' identity needs, each at the narrowest scope Azure allows.

        With `EDA_LAKE_TARGET=azure` the code location holds the lake alone (the teams' jobs
        exist on the embedded default only), so it needs no Event Hubs role: it reads the
        files Capture writes, never a hub. It reads every schema it decodes by id (the
        registry's ids are namespace-wide), writes the lake's tables and Dagster's compute
        logs, takes and deletes the capture notifications, and sends the messages that are no
        notifications to the poison queue: its create-if-missing there needs the queue's write
        permission, which only the Contributor role holds (on that one queue). It reads the
        Key Vault's secrets (the Postgres password, the PII key) and nothing else there.
        """
        n = self.deployment.names
        return [
            (self._container_id(n.capture_container), BLOB_READER),
            (self._container_id(n.lake_container), BLOB_CONTRIBUTOR),
            (self._container_id(n.compute_log_container), BLOB_CONTRIBUTOR),
            (self._queue_id(n.discovery_queue), QUEUE_PROCESSOR),
            (self._queue_id(n.poison_queue), QUEUE_SENDER),
            (self._namespace_id(), REGISTRY_READER),
            (self._account_id(n.lake_account), BLOB_DELEGATOR),
            (self._vault_id(), key_vault.READER_ROLE),
        ]

    def _role_step(
        self, scope: str, role: str, principal: str | Callable[[], str], holder: str,
        kind: str = "role assignment",
    ) -> Step:  # fmt: skip
        """`role` for `principal` on `scope`. A managed identity's principal id exists once
        its resource does: for one, `principal` is a function that reads it, called only when
        the step is read or written. `holder`: who it is, as the plan names it."""

        def principal_id() -> str:
            return principal() if callable(principal) else principal

        def name() -> str:
            return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope}|{principal_id()}|{role}"))

        def properties(role_id: str, principal_id: str) -> dict[str, Any]:
            return {"properties": {
                "roleDefinitionId": role_id, "principalId": principal_id,
                "principalType": "ServicePrincipal",
            }}  # fmt: skip

        def write(body: dict[str, Any]) -> Any:
            return self.clients.authorization.role_assignments.create(
                scope, name(), properties(self._role_definition_id(role), principal_id())
            )

        return Step(
            kind, f"{role} for {holder} on {scope.rsplit('/', 1)[-1]}",
            {"properties": {"principalType": "ServicePrincipal"}},
            lambda: self.clients.authorization.role_assignments.get(scope, name()),
            write,
            shown={"scope": scope, **properties(
                f"<the built-in role {role!r}>",
                principal if isinstance(principal, str) else f"<{holder}>",
            )},
        )  # fmt: skip

    def _role_definition_id(self, role: str) -> str:
        scope = f"/subscriptions/{self.deployment.subscription_id}"
        found = self.clients.authorization.role_definitions.list(
            scope, filter=f"roleName eq '{role}'"
        )
        for definition in found:
            if _as_dict(definition).get("properties", {}).get("roleName") == role:
                return str(definition.id)
        raise ValueError(f"no built-in role named {role!r} in the subscription")

    def _notification_steps(self, tags: dict[str, str]) -> list[Step]:
        """Event Grid's system topic on the namespace and its subscription that puts each
        CaptureFileCreated on the discovery queue; without shared keys, the topic's own
        identity sends them, allowed on that queue alone."""
        d, n = self.deployment, self.deployment.names
        rg, topic, subscription = n.resource_group, n.system_topic, "capture-file-created"
        topic_body: dict[str, Any] = {
            "location": d.location, "tags": tags,
            "properties": {"source": self._namespace_id(),
                           "topicType": "Microsoft.EventHub.Namespaces"},
        }  # fmt: skip
        queue = {"endpointType": "StorageQueue", "properties": {
            "resourceId": self._account_id(n.lake_account), "queueName": n.discovery_queue,
        }}  # fmt: skip
        delivery: dict[str, Any] = {"destination": queue}
        identity_steps = []
        if not d.shared_keys:
            topic_body["identity"] = {"type": "SystemAssigned"}
            delivery = {"deliveryWithResourceIdentity": {
                "identity": {"type": "SystemAssigned"}, "destination": queue}}  # fmt: skip

            def topic_identity() -> str:
                found = self.clients.eventgrid.system_topics.get(rg, topic)
                return _system_identity(found, f"Event Grid system topic {topic}")

            identity_steps.append(self._role_step(
                self._queue_id(n.discovery_queue), QUEUE_SENDER, topic_identity,
                "the system topic's managed identity", kind="managed identity role",
            ))  # fmt: skip
        return [
            Step(
                "event grid topic", topic, topic_body,
                lambda: self.clients.eventgrid.system_topics.get(rg, topic),
                lambda body: self.clients.eventgrid.system_topics.begin_create_or_update(
                    rg, topic, body
                ).result(),
            ),
            *identity_steps,
            Step(
                "event subscription", f"{topic}/{subscription}",
                {"properties": {**delivery,
                                "filter": {"includedEventTypes": [CAPTURE_FILE_CREATED]},
                                "eventDeliverySchema": "EventGridSchema"}},
                lambda: self.clients.eventgrid.system_topic_event_subscriptions.get(
                    rg, topic, subscription
                ),
                lambda body: self.clients.eventgrid.system_topic_event_subscriptions
                .begin_create_or_update(rg, topic, subscription, body)
                .result(),
            ),
        ]  # fmt: skip

    def _diagnostic_steps(self) -> list[Step]:
        """The namespace's and the storage accounts' logs and metrics to the workspace. A
        storage account has metrics only; its logs are its services' (the checkpoint
        account's queue service holds no queue, so it has none to send)."""
        n = self.deployment.names
        lake, checkpoints = self._account_id(n.lake_account), self._account_id(n.checkpoint_account)
        # resource, as the plan names it, has logs, into its own tables (Storage: always),
        # its metric category
        storage = operations.STORAGE_TRANSACTIONS
        targets = [
            (self._namespace_id(), f"namespace {n.namespace}", True, True, operations.ALL_METRICS),
            (lake, f"storage account {n.lake_account}", False, False, storage),
            (f"{lake}/blobServices/default", f"{n.lake_account} blobs", True, False, storage),
            (f"{lake}/queueServices/default", f"{n.lake_account} queues", True, False, storage),
            (checkpoints, f"storage account {n.checkpoint_account}", False, False, storage),
            (f"{checkpoints}/blobServices/default", f"{n.checkpoint_account} blobs", True, False,
             storage),
        ]  # fmt: skip
        name, workspace = operations.DIAGNOSTIC_SETTING_NAME, self._workspace_id()
        return [
            self._by_id_step(
                "diagnostic setting",
                f"{name} on {label}",
                f"{target}/providers/Microsoft.Insights/diagnosticSettings/{name}",
                operations.diagnostic_setting(
                    workspace, logs=logs, dedicated=dedicated, metrics=metrics
                ),
            )
            for target, label, logs, dedicated, metrics in targets
        ]

    def _alert_steps(self, tags: dict[str, str]) -> list[Step]:
        """The action group, then the namespace's metric alerts and the log alerts over the
        workspace (the lake's own signals and Capture's failures), each sent to it."""
        d, n = self.deployment, self.deployment.names
        receivers = ", ".join(d.alert_emails) or "no receivers: alerts reach nobody"
        group = self._action_group_id()
        insights = f"{self._rg_id()}/providers/Microsoft.Insights"
        paths = operations.LakePaths(n.lake_account, n.capture_container, n.lake_container)
        return [
            self._by_id_step(
                "action group",
                f"{n.action_group} ({receivers})",
                group,
                operations.action_group(tags, d.alert_emails),
            ),
            *(
                self._by_id_step(
                    "metric alert",
                    alert.name,
                    f"{insights}/metricAlerts/{alert.name}",
                    operations.metric_alert(alert, self._namespace_id(), group, tags),
                )
                for alert in operations.METRIC_ALERTS
            ),
            *(
                self._by_id_step(
                    "log alert",
                    alert.name,
                    f"{insights}/scheduledQueryRules/{alert.name}",
                    operations.log_alert(alert, self._workspace_id(), group, d.location, tags),
                )
                for alert in operations.log_alerts(paths)
            ),
        ]

    def _lifecycle_policy(self) -> dict[str, Any]:
        names = self.deployment.names
        return lifecycle.default_policy(
            names.capture_container, names.lake_container, names.compute_log_container
        )

    # plan and apply -----------------------------------------------------------------------

    def _change(self, step: Step) -> tuple[Action, dict[str, Any]] | None:
        """What to do to the step's resource, and the body to write; None: nothing."""
        # The Azure SDK (imported by every Dagster run through the platform's assets) only
        # when Azure is provisioned.
        from azure.core.exceptions import ResourceNotFoundError

        try:
            existing = _as_dict(step.read())
        except ResourceNotFoundError:
            return Action(step.kind, step.name, "create"), step.desired
        compared = _without(step.desired, step.kept)
        if _same(existing, compared):
            return None
        for path in step.immutable:
            if not _same(_get(existing, path), _get(step.desired, path)):
                raise ValueError(
                    f"{step.kind} {step.name}: {path.rsplit('.', 1)[-1]} is "
                    f"{_get(existing, path)!r} and cannot change to {_get(step.desired, path)!r} "
                    "on an existing resource; create a new one instead"
                )
        differences = tuple(_differences(existing, compared))
        body = _with_existing(step.desired, existing, step.kept)
        return Action(step.kind, step.name, "update", differences), body

    def _selected(self, kinds: set[str] | None) -> list[Step]:
        return [s for s in self.steps() if kinds is None or s.kind in kinds]

    def offline_plan(self) -> list[Action]:
        """Every resource of the desired state with its body, in the order `apply` makes
        them: what a plan on an empty subscription shows, read from nothing."""
        return [
            Action(s.kind, s.name, "create", desired=s.desired if s.shown is None else s.shown)
            for s in self.steps()
        ]

    def plan(self, kinds: set[str] | None = None) -> list[Action]:
        """What `apply` would change (of the given kinds of resource only, if given), each
        update with its differences: also what `--verify` reports as drift."""
        return [change[0] for change in map(self._change, self._selected(kinds)) if change]

    def apply(self, kinds: set[str] | None = None) -> list[Action]:
        actions = []
        for step in self._selected(kinds):
            change = self._change(step)
            if change is not None:
                action, body = change
                step.write(body)
                actions.append(action)
        return actions


def _without(body: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """`body` without the values at `paths` (dotted)."""
    body = copy.deepcopy(body)
    for path in paths:
        *parents, last = path.split(".")
        _parent(body, parents).pop(last, None)
    return body


def _with_existing(
    body: dict[str, Any], existing: dict[str, Any], paths: tuple[str, ...]
) -> dict[str, Any]:
    """`body` with the existing resource's values at `paths`, where it holds them."""
    body = copy.deepcopy(body)
    for path in paths:
        value = _get(existing, path)
        if value != {}:
            *parents, last = path.split(".")
            _parent(body, parents)[last] = value
    return body


def _parent(body: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    for key in keys:
        body = body.setdefault(key, {})
    return body


def _differences(existing: Any, desired: Any, path: str = "") -> list[str]:
    """Each desired value the existing resource does not hold: its property path, what it
    is and what it should be."""
    if isinstance(desired, dict) and isinstance(existing, dict):
        return [
            difference
            for key, value in desired.items()
            for difference in _differences(existing.get(key), value, f"{path}.{key}".lstrip("."))
        ]
    if isinstance(desired, list) and isinstance(existing, list) and len(desired) == len(existing):
        return [
            difference
            for index, (there, wanted) in enumerate(zip(existing, desired, strict=True))
            for difference in _differences(there, wanted, f"{path}[{index}]")
        ]
    if _same(existing, desired, path.rsplit(".", 1)[-1].split("[", 1)[0]):
        return []
    return [f"{path or 'the resource'} is {_shown(existing)}, should be {_shown(desired)}"]


def _shown(value: Any, width: int = 80) -> str:
    text = "absent" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."
