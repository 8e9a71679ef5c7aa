"""The lake's parts, assembled once from settings: discovery, bronze, silver, gold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa

from eda_lake.capture.naming import ArchiveNameFormat
from eda_lake.catalogue import Catalogue, load_catalogue
from eda_lake.closing import close_all
from eda_lake.lake import tables
from eda_lake.lake.bronze import BronzeIngestor, BronzeReport
from eda_lake.lake.compaction import CompactionReport, compact_bronze
from eda_lake.lake.discovery import CaptureFile, discover_all, files_at
from eda_lake.lake.entities import EntitiesReport, build_entities
from eda_lake.lake.gold import GoldBuilder, GoldReport
from eda_lake.lake.layout import LakeLayout
from eda_lake.lake.lifecycle import (
    CAPTURE_CONTAINER,
    LAKE_CONTAINER,
    EnforcementReport,
    Rule,
    default_policy,
    enforce,
    load_policy,
    local_containers,
    validate,
)
from eda_lake.lake.masking import Masker
from eda_lake.lake.silver import SilverBuilder, SilverReport
from eda_lake.lake.storage import CaptureSource, capture_source
from eda_lake.registry.factory import make_registry
from eda_lake.settings import Settings


@dataclass
class SilverRun:
    events: SilverReport
    entities: EntitiesReport


class Lake:
    def __init__(
        self,
        settings: Settings,
        catalogue: Catalogue | None = None,
        *,
        pii_key: str | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue or load_catalogue(settings.schema_dir)
        self.layout = LakeLayout.from_settings(settings)
        self.source = capture_source(settings)
        self.names = ArchiveNameFormat(self.catalogue.capture.archive_name_format)
        self._pii_key = pii_key or settings.pii_key

    def _source(self, capture_root: str | None) -> CaptureSource:
        return self.source if capture_root is None else capture_source(self.settings, capture_root)

    def capture_files(self, capture_root: str | None = None) -> list[CaptureFile]:
        source = self._source(capture_root)
        return discover_all(source.fs, source.root, self.names)

    def capture_files_at(self, paths: list[str]) -> list[CaptureFile]:
        """Just these files (from a notification or a sensor), without listing the rest."""
        return files_at(self.source.fs, self.source.root, self.names, paths)

    def bronze(self, capture_root: str | None = None) -> BronzeIngestor:
        source = self._source(capture_root)
        return BronzeIngestor(self.layout, source.fs, source.root)

    def ingest(self, capture_root: str | None = None) -> BronzeReport:
        """Full discovery: every capture file not yet in bronze lands there."""
        return self.bronze(capture_root).ingest(self.capture_files(capture_root))

    def silver_events(self) -> SilverReport:
        masker = Masker(self._pii_key)  # refuses before any work without a key
        registry = make_registry(self.settings)
        try:
            return SilverBuilder(self.layout, self.catalogue, registry, masker).run()
        finally:
            close_all(registry)

    def entities(self) -> EntitiesReport:
        return build_entities(self.layout)

    def silver(self) -> SilverRun:
        return SilverRun(self.silver_events(), self.entities())

    def gold(self, days: set[date] | None = None) -> GoldReport:
        """Recompute the gold days new silver rows touch, or exactly `days`."""
        return GoldBuilder(self.layout).run(days)

    def gold_pending_days(self) -> set[date]:
        return GoldBuilder(self.layout).pending_days()

    def funnel(self) -> pa.Table:
        """The gold funnel, one row per cohort day, oldest first (empty before any gold)."""
        table = tables.open_table(
            self.layout.table_uri("gold", "funnel_daily"), self.layout.storage_options
        )
        if table is None:
            return pa.table({})
        return tables.query("SELECT * FROM funnel ORDER BY cohort_date", funnel=table)

    def funnel_markdown(self, limit: int) -> str:
        rows = self.funnel().to_pylist()[-limit:]
        if not rows:
            return "no gold funnel yet"
        columns = ["cohort_date", "customers", "leads", "abandoned", "sales", "purchasers"]
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
        return "\n".join(lines)

    def lifecycle(self, policy_file: Path | None = None) -> tuple[list[Rule], EnforcementReport]:
        """Apply the lifecycle policy (the default, or an Azure policy document) where no
        lifecycle engine runs: the local directory or Azurite."""
        storage = self.settings.storage
        if self.layout.local or storage is None or not storage.lake_container:
            capture, lake = CAPTURE_CONTAINER, LAKE_CONTAINER
            containers = local_containers(self.layout)
        else:
            capture, lake = storage.capture_container or CAPTURE_CONTAINER, storage.lake_container
            containers = {lake: lake, capture: capture}
        rules = (
            load_policy(policy_file, lake)
            if policy_file
            else validate(default_policy(capture, lake), "default policy", lake)
        )
        return rules, enforce(self.layout, rules, containers)

    def compact(self) -> CompactionReport:
        return compact_bronze(self.layout)

    def rebuild(self) -> tuple[SilverRun, GoldReport]:
        """Silver and gold again from bronze (after a decoder fix): the same tables."""
        Masker(self._pii_key)  # refuse before deleting anything
        for area in ("silver", "gold"):
            self.layout.clear(area)
        return self.silver(), self.gold()
