"""Step logs (stdout, stderr) in Blob Storage, on Azure or on another Blob endpoint.

dagster-azure's `AzureBlobComputeLogManager` addresses `https://<account>.blob.<suffix>/`
only. `blob_authority` (host:port, plain HTTP: Azurite), the same endpoint
`EDA_LAKE_BLOB_AUTHORITY` gives the lake, points it elsewhere; without it this is
dagster-azure's class unchanged. `deploy/dagster-production.yaml` names this class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.storage.blob import BlobServiceClient
from dagster import Field, Noneable, StringSource
from dagster._core.storage.compute_log_manager import ComputeIOType
from dagster_azure.blob.compute_log_manager import AzureBlobComputeLogManager

BLOB_AUTHORITY_NEEDS_KEY = (
    "compute_logs: blob_authority {authority} is plain HTTP, where Entra ID tokens are not "
    "sent: give access_key_or_sas_token (the endpoint's account key), or drop blob_authority "
    "to use Azure's own endpoint"
)


class BlobComputeLogManager(AzureBlobComputeLogManager):
    """dagster-azure's compute log manager, with an optional `blob_authority`."""

    def __init__(self, blob_authority: str | None = None, **config: Any) -> None:
        key = str(config.get("access_key_or_sas_token") or "")
        if blob_authority is not None and not key:
            raise ValueError(BLOB_AUTHORITY_NEEDS_KEY.format(authority=blob_authority))
        super().__init__(**config)
        self._blob_authority = blob_authority
        self._sas = "sig=" in key  # a SAS signs itself; an account key signs each request
        if blob_authority is None:
            return
        # The account named outright: the SDK finds it in the path of loopback addresses only
        # (azurite:10000 would be refused), and a SAS travels as the address's query.
        credential: str | dict[str, str] = (
            key if self._sas else {"account_name": self._storage_account, "account_key": key}
        )
        self._blob_client = BlobServiceClient(
            f"http://{blob_authority}/{self._storage_account}", credential=credential
        )
        self._container_client = self._blob_client.get_container_client(self._container)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            **super().config_type(),  # type: ignore[no-untyped-call]  # dagster-azure has no hints
            "blob_authority": Field(
                Noneable(StringSource),
                is_required=False,
                default_value=None,
                description="host:port of another Blob endpoint, plain HTTP (Azurite), with "
                "access_key_or_sas_token; unset: Azure's https://<account>.blob.<suffix>",
            ),
        }

    def display_path_for_type(self, log_key: Sequence[str], io_type: ComputeIOType) -> str:
        if self._blob_authority is not None and self.is_capture_complete(log_key):
            # built by hand: the client's address carries a SAS, which the UI must not show
            where = f"{self._storage_account}/{self._container}/{self._blob_key(log_key, io_type)}"
            return f"http://{self._blob_authority}/{where}"
        return super().display_path_for_type(log_key, io_type)

    def download_url_for_type(self, log_key: Sequence[str], io_type: ComputeIOType) -> str | None:
        if self._sas:
            return None  # a link would hand out the configured SAS, with its write rights
        return super().download_url_for_type(log_key, io_type)
