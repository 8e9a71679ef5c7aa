"""An in-memory Azure Key Vault behind `SecretClient`'s HTTP transport.

The real `azure-keyvault-secrets` client builds real requests; this transport answers
`GET https://<vault>.vault.azure.net/secrets/<name>[/<version>]?api-version=...` as Key Vault
does, with its challenge-based sign-in: a request without a valid bearer token gets 401 and
`WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
resource="https://vault.azure.net"`, and only a token issued for that tenant and the scope
`https://vault.azure.net/.default` (the client derives both from the challenge) is accepted.
A missing secret is 404 `SecretNotFound`; an identity without a role on a vault, a network
the vault's firewall refuses and a disabled secret are 403 `Forbidden` with the inner code
saying which; an outage is 503; and a vault not in the fake does not resolve, as the real
transport reports a name that no DNS knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from azure.core.credentials import AccessToken
from azure.core.exceptions import ServiceRequestError

from eda_lake_tests.fake_http import InMemoryTransport, Response

TENANT = "00000000-0000-0000-0000-00000000a11c"
SCOPE = "https://vault.azure.net/.default"


class KeyVaultCredential:
    """Issues a token naming the tenant and scope asked for, and counts the requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, tenant_id))
        return AccessToken(_token(tenant_id, scopes), 4_102_444_800)


def _token(tenant: str | None, scopes: tuple[str, ...]) -> str:
    return f"token-for-{tenant}-{'+'.join(scopes)}"


@dataclass
class FakeVault:
    """One vault: its secrets' versions (the last is the latest), and whether the
    signed-in identity holds a role that reads them."""

    secrets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    readable: bool = True  # the identity holds "Key Vault Secrets User"
    reachable_from_here: bool = True  # the vault's firewall lets this network in
    available: bool = True  # not in an outage
    disabled: set[str] = field(default_factory=set)

    def set(self, name: str, value: str) -> str:
        """Stores a new version of `name`; its version id."""
        version = f"{len(self.secrets.get(name, ())) + 1:032x}"
        self.secrets.setdefault(name, []).append((version, value))
        return version


class FakeKeyVault(InMemoryTransport):
    def __init__(self) -> None:
        self.vaults: dict[str, FakeVault] = {}
        self.requests: list[tuple[str, str, int]] = []  # (host, path, status)

    def vault(self, name: str) -> FakeVault:
        return self.vaults.setdefault(f"{name}.vault.azure.net", FakeVault())

    def send(self, request: Any, **kwargs: Any) -> Any:
        url = urlparse(request.url)
        vault = self.vaults.get(url.netloc)
        if vault is None:
            # What RequestsTransport raises for a host no DNS knows (as a vault that was
            # never created, or whose name is mistyped).
            raise ServiceRequestError(
                f"<urllib3.connection.HTTPSConnection>: Failed to resolve '{url.netloc}' "
                "([Errno -2] Name or service not known)"
            )
        response = self._answer(vault, request, url.path, parse_qs(url.query))
        self.requests.append((url.netloc, url.path, response.status_code))
        return response

    def _answer(self, vault: FakeVault, request: Any, path: str, query: dict[str, Any]) -> Any:
        if "api-version" not in query:
            return _error(request, 400, "BadParameter", "The api-version parameter is missing")
        if request.headers.get("Authorization") != f"Bearer {_token(TENANT, (SCOPE,))}":
            response = _error(request, 401, "Unauthorized", "AKV10000: Request is missing a Bearer")
            response.headers["WWW-Authenticate"] = (
                f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
                'resource="https://vault.azure.net"'
            )
            return response
        if not vault.available:
            return _error(request, 503, "ServiceUnavailable", "The service is unavailable.")
        if not vault.reachable_from_here:
            return _error(
                request, 403, "Forbidden",
                "Client address is not authorized and caller is not a trusted service.",
                inner="ForbiddenByFirewall",
            )  # fmt: skip
        parts = path.strip("/").split("/")
        if request.method != "GET" or parts[0] != "secrets" or len(parts) not in (2, 3):
            return _error(request, 400, "BadParameter", "not a secret's address")
        if not vault.readable:
            return _error(
                request, 403, "Forbidden",
                "Caller is not authorized to perform action on resource.\r\n"
                "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n"
                "DecisionReason: 'DeniedWithNoValidRBAC'",
                inner="ForbiddenByRbac",
            )  # fmt: skip
        name = parts[1]
        versions = dict(vault.secrets.get(name, []))
        version = parts[2] if len(parts) == 3 else next(reversed(versions), None)
        if version not in versions:
            return _error(
                request, 404, "SecretNotFound",
                f"A secret with (name/id) {'/'.join(parts[1:])} was not found in this key vault.",
            )  # fmt: skip
        if name in vault.disabled:
            return _error(
                request, 403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                inner="SecretDisabled",
            )  # fmt: skip
        return Response(
            request,
            200,
            {
                "value": versions[version],
                "id": f"https://{urlparse(request.url).netloc}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": 1_764_806_400, "updated": 1_764_806_400},
                "tags": {},
            },
        )


def _error(request: Any, status: int, code: str, message: str, inner: str | None = None) -> Any:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return Response(request, status, {"error": error})
