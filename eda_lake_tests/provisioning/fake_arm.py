"""An in-memory Azure Resource Manager behind the management clients' HTTP transport.

The real `azure-mgmt-*` clients build real requests; this transport answers them as ARM
does for the shapes provisioning uses: GET returns the stored resource or 404 (and the
subscription itself, with its tenant), PUT stores and returns it with `provisioningState:
Succeeded` (so long-running operations finish at once), giving a resource written with a
system-assigned identity its `principalId`. As ARM does, a PUT whose parent does not exist (a
namespace before its resource group, a schema group before its namespace, an extension
resource such as a lock or a diagnostic setting before the resource it extends) or that names
a resource which does not exist (a system topic's source, a diagnostic setting's workspace,
an alert's scopes and action groups) is refused with 404 `ParentResourceNotFound`; a DELETE of
a resource, or of anything in it, under a `CanNotDelete` lock is refused with 409
`ScopeLocked`, and otherwise deletes it with everything in it. Failures can be injected for
one path to test a half-done apply.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials import AccessToken

from eda_lake_tests.fake_http import InMemoryTransport, Response


class FakeCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 4_102_444_800)


# Storage accounts' service children exist with the account; nobody PUTs them first.
IMPLICIT_SERVICES = {"blobservices", "queueservices", "fileservices", "tableservices"}


def parent_of(key: str) -> str | None:
    """The resource a resource id lives in (None: the subscription, which always exists).

    `.../providers/<ns>/<type>/<name>` lives in what precedes `providers` (a resource group,
    or the scope of an extension resource such as a role assignment); a nested
    `.../<type>/<name>/<child type>/<child>` lives in `.../<type>/<name>`.
    """
    parts = key.strip("/").split("/")
    if "providers" not in parts:
        return None if len(parts) <= 4 else "/" + "/".join(parts[:4])
    at = len(parts) - 1 - parts[::-1].index("providers")
    parent = parts[:at] if len(parts) - at <= 4 else parts[:-2]
    if len(parent) >= 2 and parent[-2] in IMPLICIT_SERVICES:
        parent = parent[:-2]
    if parent[-1] == "providers" or len(parent) <= 2:
        return None
    if parent[-2] == "providers":  # `<scope>/providers/<ns>`: the scope itself
        parent = parent[:-2]
    return "/" + "/".join(parent) if len(parent) > 2 else None


# Body properties that name another resource by id, which must exist when the body is written.
REFERENCES = {
    "source", "workspaceId", "scopes", "actionGroupId", "actionGroups", "resourceId",
    "storageAccountResourceId",
}  # fmt: skip
LOCKS = "/providers/microsoft.authorization/locks/"
TENANT = "44444444-4444-4444-4444-444444444444"


def references(body: Any) -> Iterator[str]:
    """Every resource id `body` names under a `REFERENCES` key, at any depth."""
    if isinstance(body, dict):
        for key, value in body.items():
            ids = value if isinstance(value, list) else [value]
            if key in REFERENCES:
                yield from (
                    i for i in ids if isinstance(i, str) and i.startswith("/subscriptions/")
                )
            else:
                yield from references(value)
    elif isinstance(body, list):
        for item in body:
            yield from references(item)


# Storage's metric categories, the only ones a diagnostic setting on Storage may name.
STORAGE_METRICS = {"capacity", "transaction"}


def _refused_metrics(key: str, body: dict[str, Any]) -> str | None:
    """ARM's answer to a diagnostic setting on Storage naming another metric category."""
    if "/microsoft.storage/" not in key or "/diagnosticsettings/" not in key:
        return None
    for metric in body.get("properties", {}).get("metrics", []):
        if str(metric.get("category", "")).lower() not in STORAGE_METRICS:
            return (
                f"Metric category '{metric.get('category')}' is not supported, supported "
                "categories are: 'Capacity;Transaction'"
            )
    return None


class FakeArm(InMemoryTransport):
    def __init__(self) -> None:
        self.tenant_id = TENANT
        self.resources: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_once: set[str] = set()

    @staticmethod
    def key(url: str) -> str:
        return urlparse(url).path.lower().rstrip("/")

    def send(self, request: Any, **kwargs: Any) -> Any:
        key = self.key(request.url)
        self.requests.append((request.method, key))
        if request.method == "PUT" and any(key.endswith(f) for f in self.fail_once):
            self.fail_once = {f for f in self.fail_once if not key.endswith(f)}
            error = {"error": {"code": "Conflict", "message": "injected failure"}}
            return Response(request, 409, error)  # not retried by the clients
        if request.method == "GET" and re.fullmatch(r"/subscriptions/[^/]+", key):
            subscription = key.rsplit("/", 1)[-1]
            return Response(request, 200, {
                "id": key, "subscriptionId": subscription, "tenantId": self.tenant_id,
                "state": "Enabled",
            })  # fmt: skip
        if request.method == "GET":
            stored = self.resources.get(key)
            if stored is None:
                error = {"error": {"code": "ResourceNotFound", "message": f"{key} not found"}}
                return Response(request, 404, error)
            return Response(request, 200, stored)
        if request.method in ("PUT", "PATCH"):
            body = json.loads(request.body or b"{}") if request.body else {}
            refused = _refused_metrics(key, body)
            if refused is not None:
                return Response(request, 400, {"error": {"code": "BadRequest", "message": refused}})
            missing = self._missing_parent(key, body)
            if missing is not None:
                error = {
                    "error": {
                        "code": "ParentResourceNotFound",
                        "message": f"cannot create {key}: {missing} does not exist",
                    }
                }
                return Response(request, 404, error)
            created = key not in self.resources
            before = self.resources.get(key, {})
            stored = {**before, **body}
            if "SystemAssigned" in str(body.get("identity", {}).get("type", "")):
                principal = (before.get("identity") or {}).get("principalId") or str(uuid.uuid4())
                stored["identity"] = {**body["identity"], "principalId": principal,
                                      "tenantId": self.tenant_id}  # fmt: skip
            stored["id"] = key
            stored["name"] = key.rsplit("/", 1)[-1]
            stored.setdefault("properties", {})["provisioningState"] = "Succeeded"
            self.resources[key] = stored
            # ARM answers a new Event Grid subscription with 201 Created, the rest with 200.
            status = 201 if created and "/eventsubscriptions/" in key else 200
            return Response(request, status, stored)
        if request.method == "DELETE":
            lock = self._lock_over(key)
            if lock is not None:
                error = {"error": {"code": "ScopeLocked", "message": (
                    f"The scope '{key}' cannot perform delete operation because following "
                    f"scope(s) are locked: '{lock}'. Please remove the lock and try again."
                )}}  # fmt: skip
                return Response(request, 409, error)
            for gone in [k for k in self.resources if k == key or k.startswith(key + "/")]:
                del self.resources[gone]
            return Response(request, 200, None)
        return Response(request, 200, {"value": []})

    def _missing_parent(self, key: str, body: dict[str, Any]) -> str | None:
        parent = parent_of(key)
        if parent is not None and parent not in self.resources:
            return parent
        for named in references(body):
            if self.key(named) not in self.resources:
                return self.key(named)
        return None

    def _lock_over(self, key: str) -> str | None:
        """The scope of a CanNotDelete lock on `key` or on a resource it is in (a lock itself
        is deleted under its own scope's lock: that is how a lock is removed)."""
        if LOCKS in key:
            return None
        for lock_key, lock in self.resources.items():
            scope, locked, _ = lock_key.partition(LOCKS)
            covered = key == scope or key.startswith(scope + "/")
            if locked and covered and lock.get("properties", {}).get("level") == "CanNotDelete":
                return scope
        return None

    def writes(self) -> list[str]:
        return [path for method, path in self.requests if method in ("PUT", "PATCH")]
