"""The lake's parts, assembled once from settings: where it lives, where capture files come
from, its catalogue, its lock, and the builders its work shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.lake.bronze.ingest import BronzeIngestor
from eda_lake.lake.derived.entities import EntitiesReport
from eda_lake.lake.discovery.listing import CaptureFile, discover_all, files_at
from eda_lake.lake.discovery.source import CaptureSource, capture_source
from eda_lake.lake.lake_lock import LakeLock
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.quarantine import Quarantine
from eda_lake.lake.silver.event_tables import SilverBuilder, SilverReport
from eda_lake.lake.silver.key_fingerprint import require_same_key
from eda_lake.lake.silver.masking import Masker
from eda_lake.registry.base import SchemaRegistry
from eda_lake.registry.factory import make_registry
from eda_lake.settings import Settings
from eda_lake.shared.closing import close_all


class LakeParts:
    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        *,
        pii_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(settings.schema_dir, settings.catalogue_file)
        self.layout = LakeLayout.from_settings(settings)
        self.source = capture_source(settings)
        self.names = ArchiveNameFormat(self.catalogue.capture.archive_name_format)
        self.pii_key = pii_key or settings.pii_key
        # Every writer shares it; a rebuild or a schema upgrade holds it alone.
        self.lock = LakeLock(self.layout)

    def source_at(self, capture_root: str | None) -> CaptureSource:
        return self.source if capture_root is None else capture_source(self.settings, capture_root)

    def capture_files(self, capture_root: str | None = None) -> list[CaptureFile]:
        source = self.source_at(capture_root)
        return discover_all(source.fs, source.root, self.names)

    def capture_files_at(self, paths: list[str]) -> list[CaptureFile]:
        """Just these files (from a notification or a sensor), without listing the rest."""
        return files_at(self.source.fs, self.source.root, self.names, paths)

    def bronze(self, capture_root: str | None = None) -> BronzeIngestor:
        source = self.source_at(capture_root)
        return BronzeIngestor(
            self.layout, source.fs, source.root, max_event_bytes=self.settings.max_event_bytes
        )

    def masker(self) -> Masker:
        """The masker of personal fields under the lake's own key: refuses, before any work,
        without a key or with another than the one the lake masked with."""
        masker = Masker(self.pii_key)
        require_same_key(self.layout, masker)
        return masker

    @contextmanager
    def masking_lease(
        self, operation: str, masker: Masker, *, exclusive: bool = False
    ) -> Iterator[None]:
        """The lake's lease for a run that masks, its key checked again once the lease is
        held: a rebuild under a new key may have run while this run waited for it."""
        with (self.lock.exclusive if exclusive else self.lock.shared)(operation):
            require_same_key(self.layout, masker)
            yield

    @contextmanager
    def registry(self) -> Iterator[SchemaRegistry]:
        registry = make_registry(self.settings)
        try:
            yield registry
        finally:
            close_all(registry)

    @contextmanager
    def silver_builder(self, masker: Masker | None = None) -> Iterator[SilverBuilder]:
        """A silver builder masking with `masker` (default: the lake's own, `masker()`)."""
        masker = masker or self.masker()
        with self.registry() as registry:
            yield SilverBuilder(self.layout, self.catalogue, registry, masker)

    @property
    def quarantine(self) -> Quarantine:
        return Quarantine(self.layout)


@dataclass
class SilverRun:
    """What a run of silver did: its event tables, then its entities."""

    events: SilverReport
    entities: EntitiesReport
