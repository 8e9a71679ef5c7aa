"""Where capture files are read from: the local lake's `capture/` area, or an Azure Storage
container (Azurite included). One factory; the rest of the lake only sees a pyarrow
filesystem and a root path inside it."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow.fs as pafs

from eda_lake.lake.layout import azure_filesystem
from eda_lake.settings import Settings


@dataclass(frozen=True)
class CaptureSource:
    fs: pafs.FileSystem
    root: str  # the container (or directory) holding the archive-name-format tree
    container: str  # its name, as capture notifications' fileUrls carry it


def capture_source(settings: Settings, root: str | None = None) -> CaptureSource:
    """The configured capture location; `root` overrides it with a local directory."""
    storage = settings.storage
    if root is None and storage is not None and storage.capture_container:
        container = storage.capture_container
        return CaptureSource(azure_filesystem(storage), container, container)
    local = root or str(settings.capture_dir.resolve())
    return CaptureSource(pafs.LocalFileSystem(), local, "capture")
