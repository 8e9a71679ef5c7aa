"""One Entra ID credential per process, shared by every Azure client it makes."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential

# What a command that found no identity to sign in with tells its user to do.
SIGN_IN = (
    "sign in to Azure first: `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
    "AZURE_CLIENT_SECRET (a service principal), or run where a managed identity is assigned"
)


@cache
def azure_credential() -> DefaultAzureCredential:
    """DefaultAzureCredential (the environment, workload identity, a managed identity, `az
    login`), made once: its token cache then serves every client, where a new credential per
    sensor tick or per client asks Entra ID for a token again."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
