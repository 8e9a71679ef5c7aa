"""Where each area of the lake lives. Paths into the lake are built here and nowhere else.

A lake is a local directory, or an Azure Storage container (Azurite included). Delta tables
are reached by URI with `storage_options`; other files (quarantined capture files, the
lifecycle ledger) through a pyarrow filesystem. The embedded hub's capture files are always
local: in Azure, Event Hubs Capture writes them itself.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pyarrow.fs as pafs

from eda_lake.embedded.owner_only import owner_only_dir
from eda_lake.settings import HOME_VAR, LAKE_CONTAINER_VAR, AzureStorage, Settings
from eda_lake.shared import names
from eda_lake.shared.errors import LakeWideError

AREAS = ("capture", "bronze", "silver", "gold", "quarantine")


class NoLakeError(LakeWideError):
    """A command that reads the lake was pointed at a place that holds none."""


def azure_filesystem(storage: AzureStorage) -> pafs.FileSystem:
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


def delta_storage_options(storage: AzureStorage) -> dict[str, str]:
    options = {"account_name": storage.account}
    if storage.account_key:  # else the environment's identity (managed, workload, env vars)
        options["account_key"] = storage.account_key
    if storage.blob_authority:
        options |= {
            "endpoint": f"http://{storage.blob_authority}/{storage.account}",
            "allow_http": "true",
        }
    return options


class LakeLayout:
    def __init__(
        self,
        root: Path | str,
        *,
        fs: pafs.FileSystem | None = None,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        """A local lake at `root` (a path), or, with `fs`, a container named by `root`."""
        self.local = fs is None
        self.fs: pafs.FileSystem = fs or pafs.LocalFileSystem()
        self.fs_root = str(Path(root).resolve()) if self.local else str(root).strip("/")
        self.uri = self.fs_root if self.local else f"az://{self.fs_root}"
        self.storage_options = storage_options

    @classmethod
    def on_azure(cls, storage: AzureStorage) -> LakeLayout:
        if not storage.lake_container:
            raise ValueError("no lake container configured (EDA_LAKE_LAKE_CONTAINER)")
        return cls(
            storage.lake_container,
            fs=azure_filesystem(storage),
            storage_options=delta_storage_options(storage),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeLayout:
        storage = settings.storage
        if storage is not None and storage.lake_container:
            return cls.on_azure(storage)
        # Bronze and quarantine hold raw personal bytes; a layout alone creates nothing.
        owner_only_dir(settings.home, create=False)
        return cls(settings.lake_dir)

    def __repr__(self) -> str:
        return f"LakeLayout({self.uri!r})"

    @property
    def root(self) -> Path:
        """The local directory (only for a local lake)."""
        if not self.local:
            raise ValueError(f"the lake at {self.uri} is not a local directory")
        return Path(self.fs_root)

    @property
    def capture(self) -> Path:
        """The capture area of a local lake: where eda-lake's own capture writes
        (`Settings.capture_dir` of the settings whose lake this is)."""
        return self.root / "capture"

    def area_uri(self, area: str) -> str:
        if area not in AREAS:
            raise ValueError(f"no lake area {area!r}; areas are {', '.join(AREAS)}")
        return f"{self.uri}/{area}"

    def fs_path(self, area: str, *parts: str) -> str:
        """A file's path as `self.fs` names it."""
        if area not in AREAS and area not in ("_lifecycle", "_masking", "_index"):
            raise ValueError(f"no lake area {area!r}")
        return "/".join([self.fs_root, area, *parts])

    @property
    def lifecycle_ledger(self) -> str:
        """Where lifecycle enforcement records the tier each blob would be in."""
        return self.fs_path("_lifecycle", "tiers.json")

    @property
    def masking_key_uri(self) -> str:
        """Where the lake keeps the fingerprint of the key its personal fields are masked
        with (`silver.key_fingerprint`): a Delta table beside the areas, as the lock."""
        return f"{self.uri}/_masking"

    @property
    def event_index_uri(self) -> str:
        """Where the lake finds each event by its id or trace id (`event_index`): a Delta
        table beside the areas, kept from bronze."""
        return f"{self.uri}/_index"

    @property
    def lock_uri(self) -> str:
        """The lake's lock (`lake_lock`): a Delta table beside the areas, no area's table."""
        return f"{self.uri}/_lock"

    @property
    def bronze_uri(self) -> str:
        """Bronze is one table: every hub's events, partitioned by hub and date."""
        return self.area_uri("bronze")

    def table_uri(self, area: str, name: str) -> str:
        """Location of a Delta table of an area."""
        return f"{self.area_uri(area)}/{names.table_name(name)}"

    def existing_tables(self) -> dict[str, str]:
        """Every Delta table the lake holds, as `<layer>.<table>` -> URI (bronze's one table
        is `bronze.events`)."""
        found = {}
        if self._is_table(self.fs_path("bronze")):
            found["bronze.events"] = self.bronze_uri
        for area in ("silver", "gold", "quarantine"):
            selector = pafs.FileSelector(self.fs_path(area), allow_not_found=True)
            for info in sorted(self.fs.get_file_info(selector), key=lambda i: i.base_name):
                if (
                    info.type == pafs.FileType.Directory
                    and names.is_table_name(info.base_name)  # not the lake's otherwise
                    and self._is_table(info.path)
                ):
                    found[f"{area}.{info.base_name}"] = self.table_uri(area, info.base_name)
        return found

    def holds_lake(self) -> bool:
        """A local lake is its folder (provision, capture and ingest make it); a lake in a
        container is its tables, since a container's folders exist only through their files."""
        if self.local:
            return self.root.is_dir()
        return bool(self.existing_tables())

    def require_lake(self) -> LakeLayout:
        """This layout, or an error naming the variable that points at no lake: a mistyped
        home or container would otherwise read as an empty lake, waiting forever."""
        if self.holds_lake():
            return self
        if self.local:
            raise NoLakeError(
                f"no lake at {self.root}: {HOME_VAR} names a home without one; export the "
                f"{HOME_VAR} your lake is in, or make this one's (provision, capture, ingest)"
            )
        raise NoLakeError(
            f"the container {self.fs_root} holds no lake tables: check {LAKE_CONTAINER_VAR} "
            "(and the storage account), or ingest into it first"
        )

    def _is_table(self, path: str) -> bool:
        info: pafs.FileInfo = self.fs.get_file_info(f"{path}/_delta_log")
        return bool(info.type == pafs.FileType.Directory)

    def create(self) -> list[str]:
        """Create every area; returns those that did not exist. (A container's directories
        are virtual: there the container itself is provisioned, not its areas.)"""
        if not self.local:
            return []
        owner_only_dir(self.root)  # refused, in one line, where no directory can be made
        created = []
        for area in AREAS:
            path = self.root / area
            try:
                path.mkdir()
            except FileExistsError:  # made already, maybe by another writer this instant
                if not path.is_dir():  # a file in an area's place: named, never a traceback
                    raise NotADirectoryError(
                        errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)
                    ) from None
                continue
            created.append(str(path))
        return created
