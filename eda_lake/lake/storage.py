"""Where capture files are read from: the local lake's `capture/` area, or an Azure Storage
container (Azurite included). One factory; the rest of the lake only sees a pyarrow
filesystem and a root path inside it."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.fs as pafs

from eda_lake.lake.layout import LakeLayout
from eda_lake.settings import CaptureStorage, Settings


@dataclass(frozen=True)
class CaptureSource:
    fs: pafs.FileSystem
    root: str  # the container (or directory) holding the archive-name-format tree
    container: str  # its name, as capture notifications' fileUrls carry it


def azure_filesystem(storage: CaptureStorage) -> pafs.FileSystem:
    options: dict[str, str] = {"account_name": storage.account}
    if storage.account_key:
        options["account_key"] = storage.account_key
    if storage.blob_authority:
        # pyarrow needs the dfs endpoint too, or it reaches for the real cloud.
        options |= {
            "blob_storage_authority": storage.blob_authority,
            "blob_storage_scheme": "http",
            "dfs_storage_authority": storage.blob_authority,
            "dfs_storage_scheme": "http",
        }
    return pafs.AzureFileSystem(**options)


def capture_source(settings: Settings, root: str | None = None) -> CaptureSource:
    """The configured capture location; `root` overrides the directory (local only)."""
    storage = settings.capture_storage
    if storage is not None and root is None:
        return CaptureSource(azure_filesystem(storage), storage.container, storage.container)
    local = root or str(LakeLayout(settings.lake_dir).capture)
    return CaptureSource(pafs.LocalFileSystem(), local, "capture")
