"""One Entra ID credential per process, shared by every Azure client it makes."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential


@cache
def azure_credential() -> DefaultAzureCredential:
    """DefaultAzureCredential (the environment, workload identity, a managed identity, `az
    login`), made once: its token cache then serves every client, where a new credential per
    sensor tick or per client asks Entra ID for a token again."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
