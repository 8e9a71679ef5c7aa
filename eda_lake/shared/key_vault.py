"""Secret variables that name a secret in Azure Key Vault instead of holding it.

A secret variable may hold a reference in the syntax of Azure App Service's Key Vault
references, which Azure users know:

    @Microsoft.KeyVault(VaultName=<vault>;SecretName=<secret>[;SecretVersion=<version>])
    @Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<secret>[/<version>])

`Vaults.read` reads the secret with the process's Entra ID identity, through one
`SecretClient` per vault, once per process: the value stays in this process's memory, never
on disk, in a log or in an error (an error names the variable, the vault and the secret).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from eda_lake.shared.azure_identity import SIGN_IN, azure_credential
from eda_lake.shared.errors import UserError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.exceptions import HttpResponseError
    from azure.keyvault.secrets import SecretClient

REFERENCE_START = "@microsoft.keyvault("  # compared without case, as App Service does
# Key Vault's DNS suffixes: Azure's public cloud (where VaultName= points), China, US Government.
VAULT_DOMAINS = ("vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net")
READER_ROLE = "Key Vault Secrets User"
SYNTAX = (
    "@Microsoft.KeyVault(VaultName=<vault>;SecretName=<secret>) or "
    "@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<secret>)"
)
# Key Vault's naming rules: a vault 3-24 letters, digits and single hyphens, starting with a
# letter; a secret 1-127 letters, digits and hyphens; a version 32 hexadecimal digits.
VAULT_NAME = re.compile(r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]")
_SECRET_NAME = re.compile(r"[a-zA-Z0-9-]{1,127}")
_VERSION = re.compile(r"[0-9a-fA-F]{32}")


class KeyVaultError(UserError):
    """A Key Vault reference that cannot be read; the message names the variable, the vault
    and the secret, and never holds a value."""


def reference(vault: str, secret: str) -> str:
    """The reference a variable holds to name `secret` of `vault` (the latest version)."""
    return f"@Microsoft.KeyVault(VaultName={vault};SecretName={secret})"


def is_reference(value: str) -> bool:
    """Whether a variable's value is a Key Vault reference rather than a value."""
    return value.strip().lower().startswith(REFERENCE_START)


@dataclass(frozen=True)
class SecretReference:
    """A secret in Key Vault, as the variable `variable` names it (None version: the latest)."""

    variable: str
    vault_url: str  # https://<vault>.vault.azure.net
    secret: str
    version: str | None = None

    @property
    def vault(self) -> str:
        return urlparse(self.vault_url).netloc.split(".")[0]

    def __str__(self) -> str:
        version = f" (version {self.version})" if self.version else ""
        return f"{self.variable}: secret {self.secret}{version} of Key Vault {self.vault}"


def parse_reference(variable: str, value: str) -> SecretReference:
    """The secret a reference (`is_reference`) names, or an error naming the variable and the
    syntax (never the value, which may be a secret pasted into the wrong form)."""
    text = value.strip()
    if not text.endswith(")"):
        raise _malformed(variable, "it does not end with `)`")
    fields: dict[str, str] = {}
    for part in text[len(REFERENCE_START) : -1].split(";"):
        if not part.strip():
            continue
        key, equals, field_value = part.partition("=")
        if not equals or not field_value.strip():
            raise _malformed(variable, "a field has no `=<value>`")
        if key.strip().lower() in fields:
            raise _malformed(variable, f"{key.strip()} is given twice")
        fields[key.strip().lower()] = field_value.strip()
    if set(fields) == {"secreturi"}:
        return _from_uri(variable, fields["secreturi"])
    if {"vaultname", "secretname"} <= set(fields) <= {"vaultname", "secretname", "secretversion"}:
        vault = fields["vaultname"]
        if not VAULT_NAME.fullmatch(vault):
            raise _malformed(variable, "VaultName is no vault name: 3-24 letters, digits, hyphens")
        vault_url = f"https://{vault.lower()}.{VAULT_DOMAINS[0]}"
        return _reference(variable, vault_url, fields["secretname"], fields.get("secretversion"))
    raise _malformed(variable, "it names neither SecretUri nor VaultName and SecretName")


def _from_uri(variable: str, uri: str) -> SecretReference:
    parsed = urlparse(uri)
    host = parsed.netloc.lower()
    vault, _, domain = host.partition(".")
    path = parsed.path.strip("/").split("/")
    if (
        parsed.scheme != "https"
        or domain not in VAULT_DOMAINS
        or not VAULT_NAME.fullmatch(vault)
        or parsed.query
        or parsed.fragment
        or len(path) not in (2, 3)
        or path[0] != "secrets"
    ):
        raise _malformed(
            variable,
            "SecretUri is not https://<vault>.vault.azure.net/secrets/<secret>[/<version>]",
        )
    return _reference(variable, f"https://{host}", path[1], path[2] if len(path) == 3 else None)


def _reference(variable: str, vault_url: str, secret: str, version: str | None) -> SecretReference:
    if not _SECRET_NAME.fullmatch(secret):
        raise _malformed(variable, "the secret's name is not 1-127 letters, digits and hyphens")
    if version is not None and not _VERSION.fullmatch(version):
        raise _malformed(variable, "the secret's version is not 32 hexadecimal digits")
    return SecretReference(variable, vault_url, secret, version)


def _malformed(variable: str, why: str) -> KeyVaultError:
    return KeyVaultError(
        f"{variable} holds a malformed Key Vault reference ({why}): write {SYNTAX}"
    )


class Vaults:
    """The Key Vaults one process reads: one `SecretClient` per vault, signed in as
    `credential`, and each secret read once (Key Vault bills and throttles per request,
    and settings are read again for every Dagster run and sensor tick).

    `client_options` go to every `SecretClient` (the tests' transport)."""

    def __init__(self, credential: TokenCredential, **client_options: Any) -> None:
        self._credential = credential
        self._client_options = client_options
        self._clients: dict[str, SecretClient] = {}
        self._values: dict[tuple[str, str, str | None], str] = {}
        self._lock = threading.Lock()  # sensors and run steps may read settings at once

    def read(self, variable: str, value: str) -> str:
        """The secret that `variable`'s reference `value` names."""
        reference = parse_reference(variable, value)
        key = (reference.vault_url, reference.secret, reference.version)
        with self._lock:
            if key not in self._values:
                self._values[key] = self._fetch(reference)
            return self._values[key]

    def _client(self, vault_url: str) -> SecretClient:
        if vault_url not in self._clients:
            from azure.keyvault.secrets import SecretClient

            self._clients[vault_url] = SecretClient(
                vault_url, self._credential, **self._client_options
            )
        return self._clients[vault_url]

    def _fetch(self, reference: SecretReference) -> str:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        vault = reference.vault
        try:
            value = (
                self._client(reference.vault_url)
                .get_secret(reference.secret, reference.version)
                .value
            )
        except ResourceNotFoundError as exc:
            raise KeyVaultError(
                f"{reference} does not exist ({_code(exc)}): create it with `az keyvault secret "
                f"set --vault-name {vault} --name {reference.secret} --file <file>`, or name "
                "another secret in the reference"
            ) from exc
        except ClientAuthenticationError as exc:
            raise KeyVaultError(
                f"{reference} cannot be read without an Azure sign-in: {SIGN_IN}"
            ) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise KeyVaultError(
                f"{reference} cannot be read: {urlparse(reference.vault_url).netloc} does not "
                "answer (no vault has that name, or the network is down): check the name with "
                f"`az keyvault show --name {vault}`, and the network"
            ) from exc
        except HttpResponseError as exc:
            raise KeyVaultError(
                f"{reference} cannot be read ({_code(exc)}): {_fix(exc, reference)}"
            ) from exc
        if not value:
            raise KeyVaultError(
                f"{reference} is empty: set its value with `az keyvault secret set --vault-name "
                f"{vault} --name {reference.secret} --file <file>`"
            )
        return value


def _code(exc: HttpResponseError) -> str:
    """`403 Forbidden/ForbiddenByRbac`: the status and Key Vault's error codes."""
    error = exc.error
    codes = [error.code] if error and error.code else []
    inner = getattr(error, "innererror", None) or {}
    if isinstance(inner, dict) and inner.get("code"):
        codes.append(str(inner["code"]))
    return " ".join([str(exc.status_code), "/".join(codes)]).strip()


def _fix(exc: HttpResponseError, reference: SecretReference) -> str:
    code = _code(exc)
    vault = reference.vault
    if "SecretDisabled" in code:
        return (
            f"enable it with `az keyvault secret set-attributes --vault-name {vault} --name "
            f"{reference.secret} --enabled true`"
        )
    if "Firewall" in code:
        return (
            f"the vault's firewall refuses this network: allow it with `az keyvault "
            f"network-rule add --name {vault} --ip-address <address>`"
        )
    if exc.status_code == 403:
        return (
            f'grant this process\'s identity "{READER_ROLE}" on the vault or the secret: `az '
            f"role assignment create --role '{READER_ROLE}' --assignee <object id> --scope "
            f'"$(az keyvault show --name {vault} --query id -o tsv)/secrets/{reference.secret}"` '
            "(it takes a minute or two to apply)"
        )
    return (
        f"Key Vault did not serve it: try again, and check the vault (`az keyvault show --name "
        f"{vault}`)"
    )


@cache
def process_vaults() -> Vaults:
    """The vaults this process reads, signed in with its one Entra ID credential."""
    return Vaults(azure_credential())


def resolved(variable: str, value: str) -> str:
    """A variable's value: the secret it names when it is a reference, else itself."""
    return process_vaults().read(variable, value) if is_reference(value) else value
