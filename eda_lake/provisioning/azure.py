"""Plan and apply the desired state on Azure, over the `azure-mgmt-*` clients.

Every resource is a step: read it (absent: create; different: update; equal: nothing), then
write it, in an order where each resource's dependencies exist first (the capture container
before the hubs that capture into it). Bodies are ARM's JSON shapes, so what is compared is
what Azure returns. A partial failure leaves a prefix of the steps done; the next apply
resumes, and an apply with nothing left to do writes nothing.

Security: readers get hub-scoped Listen rules and producers hub-scoped Send rules, one per
team and hub; no namespace-level Listen rule exists, since one would let any reader listen
to every team's hubs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from eda_lake.lake.maintenance import lifecycle
from eda_lake.provisioning.azure_names import AzureNames
from eda_lake.provisioning.desired import DesiredState
from eda_lake.provisioning.embedded import Action
from eda_lake.registry.compatibility import Compatibility
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
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("0b6f7d2a-6a55-4f71-9e26-1a3c6b9c8d41")


@dataclass(frozen=True)
class AzureDeployment:
    subscription_id: str
    location: str
    environment: str
    names: AzureNames
    throughput_units: int = 1
    principals: dict[str, str] = field(default_factory=dict)  # team -> Entra object id
    lake_principal: str | None = None  # the Dagster pods' workload identity's object id


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


class _NoClients:
    """The clients of a provisioner that lists the desired state alone: any use is a bug."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"an offline plan reads and writes nothing (it used {name!r})")


_NO_CLIENTS: Any = _NoClients()


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    desired: dict[str, Any]
    read: Callable[[], Any]  # raises ResourceNotFoundError when absent
    write: Callable[[dict[str, Any]], Any]
    immutable: tuple[str, ...] = ()  # property paths that cannot change once created


def _as_dict(resource: Any) -> dict[str, Any]:
    """A resource in ARM's JSON shape (camelCase), whichever model generation returned it."""
    if isinstance(resource, dict):
        return resource
    serialize = getattr(resource, "serialize", None)  # msrest models
    if serialize is not None:
        return dict(serialize(keep_readonly=True))
    return dict(resource.as_dict())  # typespec models


def _same(existing: Any, desired: Any) -> bool:
    """Does the existing resource hold every desired value (ARM adds read-only fields)?"""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            _same(existing.get(key), value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(desired)
            and all(_same(e, d) for e, d in zip(existing, desired, strict=True))
        )
    if isinstance(desired, str) and isinstance(existing, str):
        return desired.lower() == existing.lower()
    return bool(existing == desired)


def _get(body: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        body = body.get(key, {}) if isinstance(body, dict) else {}
    return body


class AzureProvisioner:
    def __init__(
        self, deployment: AzureDeployment, desired: DesiredState, clients: AzureClients | None
    ) -> None:
        """`clients` None: a provisioner that only lists the desired state (`offline_plan`),
        reading and writing nothing: no step touches the clients until it reads or writes."""
        if desired.compatibility is Compatibility.FULL:
            raise ValueError(
                f"schema group {desired.schema_group!r} asks for Full compatibility, which Azure "
                "Schema Registry does not offer: use None, Backward or Forward in catalogue.toml"
            )
        for group in desired.consumer_groups:
            consumer_group_name(group.name)
        self.deployment = deployment
        self.desired = desired
        self.clients: AzureClients = clients or _NO_CLIENTS

    # ids ----------------------------------------------------------------------------------

    def _rg_id(self) -> str:
        d = self.deployment
        return f"/subscriptions/{d.subscription_id}/resourceGroups/{d.names.resource_group}"

    def _account_id(self, account: str) -> str:
        return f"{self._rg_id()}/providers/Microsoft.Storage/storageAccounts/{account}"

    def _namespace_id(self) -> str:
        namespace = self.deployment.names.namespace
        return f"{self._rg_id()}/providers/Microsoft.EventHub/namespaces/{namespace}"

    # steps --------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        d, n, c = self.deployment, self.deployment.names, self.clients
        rg, ns = n.resource_group, n.namespace
        tags = {"team": "platform", "environment": d.environment}
        steps = [
            Step(
                "resource group", rg, {"location": d.location, "tags": tags},
                lambda: c.resources.resource_groups.get(rg),
                lambda body: c.resources.resource_groups.create_or_update(rg, body),
            ),
            *self._account_steps(n.lake_account, hns=True, tags=tags),
            *(
                self._container_step(n.lake_account, container)
                for container in (n.capture_container, n.lake_container, n.compute_log_container)
            ),
            *(self._queue_step(n.lake_account, queue)
              for queue in (n.discovery_queue, n.poison_queue)),
            Step(
                "lifecycle policy", f"{n.lake_account}/default",
                {"properties": {"policy": self._lifecycle_policy()}},
                lambda: c.storage.management_policies.get(rg, n.lake_account, "default"),
                lambda body: c.storage.management_policies.create_or_update(
                    rg, n.lake_account, "default", body
                ),
            ),
            *self._account_steps(n.checkpoint_account, hns=False, tags=tags),
            Step(
                "blob service", f"{n.checkpoint_account}/default",
                # Event Hubs checkpoints need plain blobs: no soft delete, no versioning.
                {"properties": {"deleteRetentionPolicy": {"enabled": False},
                                "isVersioningEnabled": False}},
                lambda: c.storage.blob_services.get_service_properties(rg, n.checkpoint_account),
                lambda body: c.storage.blob_services.set_service_properties(
                    rg, n.checkpoint_account, body
                ),
            ),
            self._container_step(n.checkpoint_account, n.checkpoint_container),
            Step(
                "namespace", ns,
                {"location": d.location, "tags": tags,
                 "sku": {"name": "Standard", "tier": "Standard", "capacity": d.throughput_units}},
                lambda: c.eventhub.namespaces.get(rg, ns),
                lambda body: c.eventhub.namespaces.begin_create_or_update(rg, ns, body).result(),
            ),
            Step(
                "schema group", f"{ns}/{self.desired.schema_group}",
                {"properties": {"schemaCompatibility": self.desired.compatibility.value,
                                "schemaType": "Avro", "groupProperties": {}}},
                lambda: c.eventhub.schema_registry.get(rg, ns, self.desired.schema_group),
                lambda body: c.eventhub.schema_registry.create_or_update(
                    rg, ns, self.desired.schema_group, body
                ),
            ),
            *(self._hub_step(h.name, h.partitions, h.retention_days) for h in self.desired.hubs),
            *(self._group_step(g.hub, g.name, g.user_metadata)
              for g in self.desired.consumer_groups),
            *self._rule_steps(),
            *self._role_steps(),
            Step(
                "event grid topic", n.system_topic,
                {"location": d.location, "tags": tags,
                 "properties": {"source": self._namespace_id(),
                                "topicType": "Microsoft.EventHub.Namespaces"}},
                lambda: c.eventgrid.system_topics.get(rg, n.system_topic),
                lambda body: c.eventgrid.system_topics.begin_create_or_update(
                    rg, n.system_topic, body
                ).result(),
            ),
            Step(
                "event subscription", f"{n.system_topic}/capture-file-created",
                {"properties": {
                    "destination": {"endpointType": "StorageQueue", "properties": {
                        "resourceId": self._account_id(n.lake_account),
                        "queueName": n.discovery_queue}},
                    "filter": {"includedEventTypes": [CAPTURE_FILE_CREATED]},
                    "eventDeliverySchema": "EventGridSchema"}},
                lambda: c.eventgrid.system_topic_event_subscriptions.get(
                    rg, n.system_topic, "capture-file-created"
                ),
                lambda body: c.eventgrid.system_topic_event_subscriptions.begin_create_or_update(
                    rg, n.system_topic, "capture-file-created", body
                ).result(),
            ),
        ]  # fmt: skip
        return steps

    def _account_steps(self, account: str, *, hns: bool, tags: dict[str, str]) -> list[Step]:
        d, c, rg = self.deployment, self.clients, self.deployment.names.resource_group
        body = {
            "location": d.location, "kind": "StorageV2", "tags": tags,
            "sku": {"name": "Standard_LRS"},
            "properties": {"isHnsEnabled": hns, "minimumTlsVersion": "TLS1_2",
                           "allowBlobPublicAccess": False, "supportsHttpsTrafficOnly": True},
        }  # fmt: skip
        return [
            Step(
                "storage account", account, body,
                lambda: c.storage.storage_accounts.get_properties(rg, account),
                lambda b: c.storage.storage_accounts.begin_create(rg, account, b).result(),
                immutable=("properties.isHnsEnabled",),
            )
        ]  # fmt: skip

    def _container_step(self, account: str, container: str) -> Step:
        c, rg = self.clients, self.deployment.names.resource_group
        return Step(
            "blob container", f"{account}/{container}", {"properties": {"publicAccess": "None"}},
            lambda: c.storage.blob_containers.get(rg, account, container),
            lambda body: c.storage.blob_containers.create(rg, account, container, body),
        )  # fmt: skip

    def _queue_step(self, account: str, queue: str) -> Step:
        c, rg = self.clients, self.deployment.names.resource_group
        return Step(
            "storage queue", f"{account}/{queue}", {},
            lambda: c.storage.queue.get(rg, account, queue),
            lambda body: c.storage.queue.create(rg, account, queue, body),
        )  # fmt: skip

    def _hub_step(self, hub: str, partitions: int, retention_days: int) -> Step:
        n, c, capture = self.deployment.names, self.clients, self.desired.capture
        body = {"properties": {
            "partitionCount": partitions,
            "messageRetentionInDays": retention_days,
            "captureDescription": {
                "enabled": True, "encoding": capture.encoding,
                "intervalInSeconds": capture.window_seconds,
                "sizeLimitInBytes": capture.window_bytes,
                "skipEmptyArchives": capture.skip_empty_archives,
                "destination": {"name": "EventHubArchive.AzureBlockBlob", "properties": {
                    "storageAccountResourceId": self._account_id(n.lake_account),
                    "blobContainer": n.capture_container,
                    "archiveNameFormat": capture.archive_name_format}},
            },
        }}  # fmt: skip
        return Step(
            "event hub", hub, body,
            lambda: c.eventhub.event_hubs.get(n.resource_group, n.namespace, hub),
            lambda b: c.eventhub.event_hubs.create_or_update(n.resource_group, n.namespace, hub, b),
            immutable=("properties.partitionCount",),
        )  # fmt: skip

    def _group_step(self, hub: str, group: str, metadata: str) -> Step:
        n, c = self.deployment.names, self.clients
        return Step(
            "consumer group", f"{hub}/{group}", {"properties": {"userMetadata": metadata}},
            lambda: c.eventhub.consumer_groups.get(n.resource_group, n.namespace, hub, group),
            lambda body: c.eventhub.consumer_groups.create_or_update(
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
        n, c = self.deployment.names, self.clients
        return Step(
            "hub access rule", f"{hub}/{rule}", {"properties": {"rights": [right]}},
            lambda: c.eventhub.event_hubs.get_authorization_rule(
                n.resource_group, n.namespace, hub, rule
            ),
            lambda body: c.eventhub.event_hubs.create_or_update_authorization_rule(
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
        return [self._role_step(scope, principal, role) for scope, principal, role in wanted]

    def _lake_roles(self) -> list[tuple[str, str]]:
        """What the Dagster pods' identity needs, each at the narrowest scope Azure allows.

        With `EDA_LAKE_TARGET=azure` the code location holds the lake alone (the teams' jobs
        exist on the embedded default only), so it needs no Event Hubs role: it reads the
        files Capture writes, never a hub. It reads every schema it decodes by id (the
        registry's ids are namespace-wide), writes the lake's tables and Dagster's compute
        logs, takes and deletes the capture notifications, and sends the messages that are no
        notifications to the poison queue: its create-if-missing there needs the queue's write
        permission, which only the Contributor role holds (on that one queue).
        """
        n = self.deployment.names
        container = f"{self._account_id(n.lake_account)}/blobServices/default/containers"
        queue = f"{self._account_id(n.lake_account)}/queueServices/default/queues"
        return [
            (f"{container}/{n.capture_container}", BLOB_READER),
            (f"{container}/{n.lake_container}", BLOB_CONTRIBUTOR),
            (f"{container}/{n.compute_log_container}", BLOB_CONTRIBUTOR),
            (f"{queue}/{n.discovery_queue}", QUEUE_PROCESSOR),
            (f"{queue}/{n.poison_queue}", QUEUE_SENDER),
            (self._namespace_id(), REGISTRY_READER),
            (self._account_id(n.lake_account), BLOB_DELEGATOR),
        ]

    def _hub_id(self, hub: str) -> str:
        return f"{self._namespace_id()}/eventhubs/{hub}"

    def _role_step(self, scope: str, principal: str, role: str) -> Step:
        c = self.clients
        name = str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{scope}|{principal}|{role}"))

        def write(body: dict[str, Any]) -> Any:
            role_id = self._role_definition_id(role)
            properties = {"roleDefinitionId": role_id, "principalId": principal,
                          "principalType": "ServicePrincipal"}  # fmt: skip
            return c.authorization.role_assignments.create(scope, name, {"properties": properties})

        return Step(
            "role assignment", f"{role} for {principal} on {scope.rsplit('/', 1)[-1]}",
            {"properties": {"principalId": principal}},
            lambda: c.authorization.role_assignments.get(scope, name),
            write,
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

    def _lifecycle_policy(self) -> dict[str, Any]:
        names = self.deployment.names
        return lifecycle.default_policy(
            names.capture_container, names.lake_container, names.compute_log_container
        )

    # plan and apply -----------------------------------------------------------------------

    def _change(self, step: Step) -> Action | None:
        try:
            existing = _as_dict(step.read())
        except ResourceNotFoundError:
            return Action(step.kind, step.name, "create")
        if _same(existing, step.desired):
            return None
        for path in step.immutable:
            if not _same(_get(existing, path), _get(step.desired, path)):
                raise ValueError(
                    f"{step.kind} {step.name}: {path.rsplit('.', 1)[-1]} is "
                    f"{_get(existing, path)!r} and cannot change to {_get(step.desired, path)!r} "
                    "on an existing resource; create a new one instead"
                )
        return Action(step.kind, step.name, "update", tuple(_differences(existing, step.desired)))

    def _selected(self, kinds: set[str] | None) -> list[Step]:
        return [s for s in self.steps() if kinds is None or s.kind in kinds]

    def offline_plan(self) -> list[Action]:
        """Every resource of the desired state with its body, in the order `apply` makes
        them: what a plan on an empty subscription shows, read from nothing."""
        return [Action(s.kind, s.name, "create", desired=s.desired) for s in self.steps()]

    def plan(self, kinds: set[str] | None = None) -> list[Action]:
        """What `apply` would change (of the given kinds of resource only, if given), each
        update with its differences: also what `--verify` reports as drift."""
        return [a for a in map(self._change, self._selected(kinds)) if a is not None]

    def apply(self, kinds: set[str] | None = None) -> list[Action]:
        actions = []
        for step in self._selected(kinds):
            action = self._change(step)
            if action is not None:
                step.write(step.desired)
                actions.append(action)
        return actions


def _differences(existing: Any, desired: Any, path: str = "") -> list[str]:
    """Each desired value the existing resource does not hold: its property path, what it
    is and what it should be."""
    if isinstance(desired, dict) and isinstance(existing, dict):
        return [
            difference
            for key, value in desired.items()
            for difference in _differences(existing.get(key), value, f"{path}.{key}".lstrip("."))
        ]
    if _same(existing, desired):
        return []
    return [f"{path or 'the resource'} is {_shown(existing)}, should be {_shown(desired)}"]


def _shown(value: Any, width: int = 80) -> str:
    text = "absent" if value is None else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."
